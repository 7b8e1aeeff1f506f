//! A rusqlite 0.43 application's own connection under `SqliteStore`: the `sqlite`
//! stores build against the top of the crate's rusqlite range, and work.

use pyramid_session::server::{SaveOutcome, SessionId, StoreExt};
use pyramid_session::store::SqliteStore;

const NOW: f64 = 1_700_000_000.0;

fn main() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let store = SqliteStore::from_connection(conn).unwrap();
    let key = SessionId::parse("rusqlite-app").unwrap().store_key();
    assert!(store
        .create(&key, b"one", NOW + 60.0, NOW)
        .unwrap()
        .is_created());
    assert_eq!(
        store.save(&key, b"two", 1, NOW + 60.0, NOW).unwrap(),
        SaveOutcome::Saved { version: 2 }
    );
    assert_eq!(
        store.save(&key, b"stale", 1, NOW + 60.0, NOW).unwrap(),
        SaveOutcome::Conflict
    );
    let record = store.load(&key, NOW).unwrap().unwrap();
    assert_eq!((record.data.as_slice(), record.version), (&b"two"[..], 2));
    assert_eq!(store.load(&key, NOW + 61.0).unwrap(), None, "expired");
    store.remove(&key).unwrap();
    assert_eq!(
        store.save(&key, b"zombie", 2, NOW + 60.0, NOW).unwrap(),
        SaveOutcome::Missing
    );
    println!(
        "rusqlite app: SqliteStore on the app's rusqlite 0.43 connection (SQLite {})",
        rusqlite::version()
    );
}
