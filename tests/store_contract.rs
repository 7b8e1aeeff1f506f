//! One store-contract suite, run against every store: the semantics of
//! `pyramid_session::server::Store` and the 8 x 250 concurrent-increment test.

mod common;

use std::sync::Arc;

use pyramid_session::driver;
use pyramid_session::server::{
    IdCookieFormat, Pending, SaveOutcome, ServerConfig, SessionId, Store, StoreKey,
};
use pyramid_session::store::MemoryStore;
use pyramid_session::{OsRandom, SessionConfig};
use serde_json::{json, Value};

const NOW: f64 = 1_700_000_000.5;

fn key(n: u8) -> StoreKey {
    SessionId::parse(&format!("contract-{n}"))
        .unwrap()
        .store_key()
}

/// The contract every store must meet.
pub fn contract<S: Store>(store: &S) {
    let k = key(1);
    // load never creates
    assert_eq!(store.load(&k, NOW).unwrap(), None);
    assert_eq!(store.load(&k, NOW).unwrap(), None);
    // create is insert-if-absent, version 1
    assert!(store.create(&k, b"one", NOW + 100.0, NOW).unwrap());
    assert!(
        !store.create(&k, b"other", NOW + 100.0, NOW).unwrap(),
        "create must not overwrite"
    );
    let r = store.load(&k, NOW).unwrap().unwrap();
    assert_eq!((r.data.as_slice(), r.version), (&b"one"[..], 1));
    assert!(
        (r.expires_at - (NOW + 100.0)).abs() < 0.01,
        "{}",
        r.expires_at
    );
    // save is compare-and-set
    assert_eq!(
        store.save(&k, b"stale", 7, NOW + 100.0, NOW).unwrap(),
        SaveOutcome::Conflict
    );
    assert_eq!(
        store.save(&k, b"two", 1, NOW + 200.0, NOW).unwrap(),
        SaveOutcome::Saved { version: 2 }
    );
    let r = store.load(&k, NOW).unwrap().unwrap();
    assert_eq!((r.data.as_slice(), r.version), (&b"two"[..], 2));
    assert!((r.expires_at - (NOW + 200.0)).abs() < 0.01);
    // touch moves the expiry only
    assert!(store.touch(&k, NOW + 300.0, NOW).unwrap());
    let r = store.load(&k, NOW).unwrap().unwrap();
    assert_eq!((r.data.as_slice(), r.version), (&b"two"[..], 2));
    assert!((r.expires_at - (NOW + 300.0)).abs() < 0.01);
    // expired records are invisible, cannot be saved or touched, and free the key
    assert_eq!(store.load(&k, NOW + 301.0).unwrap(), None);
    assert_eq!(
        store
            .save(&k, b"late", 2, NOW + 900.0, NOW + 301.0)
            .unwrap(),
        SaveOutcome::Missing
    );
    assert!(!store.touch(&k, NOW + 900.0, NOW + 301.0).unwrap());
    assert!(store
        .create(&k, b"again", NOW + 900.0, NOW + 301.0)
        .unwrap());
    assert_eq!(store.load(&k, NOW + 301.0).unwrap().unwrap().version, 1);
    // remove; saving or touching afterwards never resurrects
    store.remove(&k).unwrap();
    store.remove(&k).unwrap();
    assert_eq!(store.load(&k, NOW).unwrap(), None);
    assert_eq!(
        store.save(&k, b"zombie", 1, NOW + 100.0, NOW).unwrap(),
        SaveOutcome::Missing
    );
    assert!(!store.touch(&k, NOW + 100.0, NOW).unwrap());
    assert_eq!(store.load(&k, NOW).unwrap(), None);
    // keys are independent; binary data round-trips
    let data: Vec<u8> = (0..=255).collect();
    assert!(store.create(&key(2), &data, NOW + 10.0, NOW).unwrap());
    assert!(store.create(&key(3), b"", NOW + 10.0, NOW).unwrap());
    assert_eq!(store.load(&key(2), NOW).unwrap().unwrap().data, data);
    assert_eq!(store.load(&key(3), NOW).unwrap().unwrap().data, b"");
    store.remove(&key(2)).unwrap();
    store.remove(&key(3)).unwrap();
}

fn server_config(max_retries: u32) -> ServerConfig {
    let session = SessionConfig::secure("contract-secret").build().unwrap();
    ServerConfig::new(session, IdCookieFormat::PyramidSessionRedis)
        .unwrap()
        .with_max_retries(max_retries)
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// 8 threads x 250 read-modify-write increments of one counter in one session.
pub fn concurrent_increments<S: Store + Send + Sync + 'static>(store: Arc<S>) -> u64 {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 250;
    let config = Arc::new(server_config(100_000));
    let cookie = {
        let mut s = driver::open(&*store, &config, Pending::start(&config, None, NOW)).unwrap();
        s.insert("count", json!(0));
        cookie_pair(
            &driver::finish(&*store, &config, &mut s, false, &mut OsRandom)
                .unwrap()
                .unwrap(),
        )
    };
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (store, config, cookie) = (store.clone(), config.clone(), cookie.clone());
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    let pending = Pending::start(&config, Some(cookie.as_bytes()), NOW + 1.0);
                    let mut s = driver::open(&*store, &config, pending).unwrap();
                    assert!(!s.is_new(), "the session must load");
                    s.modify("count", |n| {
                        Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))
                    });
                    driver::finish(&*store, &config, &mut s, false, &mut OsRandom).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut s = driver::open(
        &*store,
        &config,
        Pending::start(&config, Some(cookie.as_bytes()), NOW + 2.0),
    )
    .unwrap();
    let count = s.get("count").and_then(Value::as_u64).unwrap();
    assert_eq!(count, THREADS * PER_THREAD);
    count
}

#[test]
fn memory_store_contract() {
    contract(&MemoryStore::new());
}

#[test]
fn memory_store_concurrent_increments() {
    assert_eq!(concurrent_increments(Arc::new(MemoryStore::new())), 2000);
}

#[test]
fn memory_store_sweep() {
    let store = MemoryStore::new();
    store.create(&key(1), b"a", NOW + 1.0, NOW).unwrap();
    store.create(&key(2), b"b", NOW + 5.0, NOW).unwrap();
    assert_eq!(store.sweep(NOW + 2.0), 1);
    assert_eq!(store.len(), 1);
    assert!(store.load(&key(2), NOW + 2.0).unwrap().is_some());
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use pyramid_session::store::SqliteStore;

    fn temp_db() -> (tempdir::Dir, SqliteStore) {
        let dir = tempdir::Dir::new();
        let store = SqliteStore::open(dir.path.join("sessions.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn sqlite_store_contract() {
        contract(&SqliteStore::open_in_memory().unwrap());
        let (_dir, store) = temp_db();
        contract(&store);
    }

    #[test]
    fn sqlite_store_concurrent_increments() {
        let (_dir, store) = temp_db();
        assert_eq!(concurrent_increments(Arc::new(store)), 2000);
    }

    #[test]
    fn sqlite_sweep_and_persistence() {
        let dir = tempdir::Dir::new();
        let path = dir.path.join("s.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            store.create(&key(1), b"a", NOW + 1.0, NOW).unwrap();
            store.create(&key(2), b"b", NOW + 5.0, NOW).unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.load(&key(2), NOW).unwrap().unwrap().data, b"b");
        assert_eq!(store.sweep(NOW + 2.0).unwrap(), 1);
        assert_eq!(store.load(&key(1), NOW).unwrap(), None);
    }

    /// A temporary directory removed on drop.
    mod tempdir {
        pub struct Dir {
            pub path: std::path::PathBuf,
        }
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "pyramid-session-test-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path).unwrap();
                Dir { path }
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.path);
            }
        }
    }
}
