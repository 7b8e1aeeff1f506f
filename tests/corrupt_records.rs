//! Records that are not well-formed (negative or non-numeric version, wrong column
//! types, NULL data, a non-finite expiry) written straight into the SQL stores' tables:
//! the stores must treat them as missing — `load` gives `None`, `save` gives `Missing`,
//! `touch` gives `false`, and `create` may take the key — instead of failing every
//! request or spinning the compare-and-set loop.
// Test harness code times its own waits and real servers; the crate under test does not.
#![allow(clippy::disallowed_methods)]

mod servers;

use pyramid_session::driver;
use pyramid_session::server::{
    IdCookieFormat, Pending, SaveOutcome, ServerConfig, SessionId, Store, StoreExt, StoreKey,
};
use pyramid_session::OsRandom;
use pyramid_session::SessionConfig;
use serde_json::json;

const NOW: f64 = 1_700_000_000.5;

fn key(n: u32) -> StoreKey {
    SessionId::parse(&format!("corrupt-{n}"))
        .unwrap()
        .store_key()
}

/// The record under `k` must look missing to every operation; `create` then takes it.
fn assert_missing<S: Store>(store: &S, k: &StoreKey, what: &str) {
    assert_eq!(store.load(k, NOW).unwrap(), None, "load: {what}");
    for expected in [0, 1, 2, u64::MAX] {
        assert_eq!(
            store.save(k, b"new", expected, NOW + 100.0, NOW).unwrap(),
            SaveOutcome::Missing,
            "save (expected version {expected}): {what}"
        );
    }
    assert!(
        !store.touch(k, NOW + 100.0, NOW).unwrap().is_touched(),
        "touch: {what}"
    );
    assert!(
        store
            .create(k, b"fresh", NOW + 100.0, NOW)
            .unwrap()
            .is_created(),
        "create over a corrupt record: {what}"
    );
    let r = store.load(k, NOW).unwrap().expect("the new record");
    assert_eq!((r.data.as_slice(), r.version), (&b"fresh"[..], 1), "{what}");
}

fn server_config() -> ServerConfig {
    let session = SessionConfig::secure("corrupt-secret").build().unwrap();
    ServerConfig::new(session, IdCookieFormat::PyramidSessionRedis)
        .unwrap()
        .with_max_retries(64)
}

/// A session whose record is made corrupt by `corrupt` (which runs SQL on every row):
/// the next request must see a fresh session and be able to write it.
fn request_after_corruption<S: Store>(store: &S, corrupt: impl FnOnce()) {
    let config = server_config();
    let mut s = driver::open(store, &config, Pending::start(&config, None, NOW)).unwrap();
    s.insert("count", json!(1));
    let cookie = driver::finish(store, &config, &mut s, false, &mut OsRandom)
        .unwrap()
        .unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    corrupt();
    let pending = Pending::start(&config, Some(cookie.as_bytes()), NOW + 1.0);
    let mut s = driver::open(store, &config, pending).unwrap();
    let is_new = s.is_new();
    s.insert("count", json!(2));
    let written = driver::finish(store, &config, &mut s, false, &mut OsRandom);
    assert!(
        matches!(written, Ok(Some(_))),
        "writing must work: {written:?}"
    );
    assert!(is_new, "a corrupt record is no session");
}

mod sqlite {
    use super::*;
    use pyramid_session::store::SqliteStore;
    use servers::TempDir;

    /// A store whose table was created without type or NULL constraints (as an older or
    /// hand-made schema might be), plus a raw connection to the same file.
    fn loose_store(dir: &TempDir) -> (SqliteStore, rusqlite::Connection) {
        let path = dir.0.join("s.db");
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(
            "CREATE TABLE pyramid_sessions (key TEXT PRIMARY KEY, data, version, expires_at)",
        )
        .unwrap();
        (SqliteStore::open(&path).unwrap(), raw)
    }

    #[test]
    fn sqlite_corrupt_rows_are_missing() {
        let dir = TempDir::new("corrupt");
        let (store, raw) = loose_store(&dir);
        let corruptions = [
            "version = -3",
            "version = 0",
            "version = 'abc'",
            "version = '7x'",
            "version = 1.5",
            "version = NULL",
            "data = NULL",
            "data = 'text, not a blob'",
            "data = 42",
            "expires_at = 'tomorrow'",
            "expires_at = NULL",
            "expires_at = X'00'",
            "expires_at = 9e999",
        ];
        for (n, corruption) in corruptions.iter().enumerate() {
            let k = key(n as u32);
            assert!(store
                .create(&k, b"ok", NOW + 100.0, NOW)
                .unwrap()
                .is_created());
            raw.execute(
                &format!("UPDATE pyramid_sessions SET {corruption} WHERE key = ?1"),
                [k.as_str()],
            )
            .unwrap();
            assert_missing(&store, &k, corruption);
        }
    }

    #[test]
    fn sqlite_negative_version_does_not_exhaust_retries() {
        let dir = TempDir::new("corrupt");
        let (store, raw) = loose_store(&dir);
        request_after_corruption(&store, || {
            raw.execute_batch("UPDATE pyramid_sessions SET version = -1")
                .unwrap();
        });
    }

    #[test]
    fn sqlite_non_numeric_version_is_no_error() {
        let dir = TempDir::new("corrupt");
        let (store, raw) = loose_store(&dir);
        request_after_corruption(&store, || {
            raw.execute_batch("UPDATE pyramid_sessions SET version = 'garbage'")
                .unwrap();
        });
    }

    #[test]
    fn sqlite_standard_schema_negative_version() {
        // The schema the store creates itself still lets a negative version in.
        let dir = TempDir::new("corrupt");
        let path = dir.0.join("std.db");
        let store = SqliteStore::open(&path).unwrap();
        let raw = rusqlite::Connection::open(&path).unwrap();
        let k = key(100);
        assert!(store
            .create(&k, b"ok", NOW + 100.0, NOW)
            .unwrap()
            .is_created());
        raw.execute_batch("UPDATE pyramid_sessions SET version = -9")
            .unwrap();
        assert_missing(&store, &k, "negative version, standard schema");
    }
    #[test]
    fn sqlite_version_at_the_integer_limit_does_not_overflow() {
        let dir = TempDir::new("corrupt");
        let path = dir.0.join("max.db");
        let store = SqliteStore::open(&path).unwrap();
        let raw = rusqlite::Connection::open(&path).unwrap();
        let k = key(200);
        assert!(store
            .create(&k, b"ok", NOW + 100.0, NOW)
            .unwrap()
            .is_created());
        raw.execute_batch("UPDATE pyramid_sessions SET version = 9223372036854775807")
            .unwrap();
        let max = i64::MAX as u64;
        assert_eq!(store.load(&k, NOW).unwrap().unwrap().version, max);
        // A version SQLite cannot hold never matches (and never overflows).
        assert_eq!(
            store.save(&k, b"x", u64::MAX, NOW + 100.0, NOW).unwrap(),
            SaveOutcome::Conflict
        );
        assert_eq!(
            store.save(&k, b"x", max, NOW + 100.0, NOW).unwrap(),
            SaveOutcome::Saved { version: max + 1 }
        );
        // SQLite turned the overflowing version into a REAL: no longer a record.
        assert_missing(&store, &k, "version past the integer range");
    }
}

mod postgres {
    use super::servers::PostgresServer;
    use super::*;
    use pyramid_session::store::postgres::DEFAULT_TIMEOUT;
    use pyramid_session::store::PostgresStore;

    /// Runs `sql` on `url` with a plain client.
    fn execute(url: &str, sql: &str) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client.batch_execute(sql).await.unwrap();
        });
    }

    /// A fresh database whose table lets NULLs in (as a hand-made schema might).
    fn loose_database(server: &PostgresServer, name: &str) -> (String, PostgresStore) {
        execute(&server.url(), &format!("CREATE DATABASE {name}"));
        let url = server.url_for(name);
        let store = PostgresStore::open(&url, DEFAULT_TIMEOUT).unwrap();
        execute(
            &url,
            "ALTER TABLE pyramid_sessions ALTER COLUMN data DROP NOT NULL,
                 ALTER COLUMN version DROP NOT NULL,
                 ALTER COLUMN expires_at DROP NOT NULL",
        );
        (url, store)
    }

    #[test]
    fn postgres_corrupt_rows_are_missing() {
        let server = PostgresServer::start();
        let (url, store) = loose_database(&server, "corrupt_rows");
        let corruptions = [
            "version = -3",
            "version = 0",
            "version = NULL",
            "data = NULL",
            "expires_at = NULL",
            "expires_at = 'NaN'",
            "expires_at = 'Infinity'",
        ];
        for (n, corruption) in corruptions.iter().enumerate() {
            let k = key(n as u32);
            assert!(store
                .create(&k, b"ok", NOW + 100.0, NOW)
                .unwrap()
                .is_created());
            execute(
                &url,
                &format!(
                    "UPDATE pyramid_sessions SET {corruption} WHERE key = '{}'",
                    k.as_str()
                ),
            );
            assert_missing(&store, &k, corruption);
        }
    }

    #[test]
    fn postgres_negative_version_is_a_fresh_session() {
        let server = PostgresServer::start();
        let (url, store) = loose_database(&server, "corrupt_request");
        request_after_corruption(&store, || {
            execute(&url, "UPDATE pyramid_sessions SET version = -1");
        });
    }
}

mod redis_store {
    use super::*;
    use pyramid_session::store::RedisStore;
    use servers::RedisServer;

    #[test]
    fn redis_malformed_records_are_missing() {
        let server = RedisServer::start();
        let store =
            RedisStore::open(&server.url(), "bad:", std::time::Duration::from_secs(2)).unwrap();
        let client = redis::Client::open(server.url()).unwrap();
        let mut conn = client.get_connection().unwrap();
        let corruptions: [&[(&str, &str)]; 6] = [
            &[("v", "abc")],
            &[("v", "0")],
            &[("v", "-3")],
            &[("x", "soon")],
            &[("x", "nan")],
            &[("x", "inf")],
        ];
        for (n, corruption) in corruptions.iter().enumerate() {
            let k = key(100 + n as u32);
            assert!(store
                .create(&k, b"ok", NOW + 100.0, NOW)
                .unwrap()
                .is_created());
            let redis_key = format!("bad:{}", k.as_str());
            for (field, value) in corruption.iter() {
                let _: () = redis::cmd("HSET")
                    .arg(&redis_key)
                    .arg(*field)
                    .arg(*value)
                    .query(&mut conn)
                    .unwrap();
            }
            assert_missing(&store, &k, &format!("{corruption:?}"));
        }
        // A record with a field missing (written by something else) is missing too.
        let k = key(200);
        let _: () = redis::cmd("HSET")
            .arg(format!("bad:{}", k.as_str()))
            .arg("v")
            .arg(1)
            .arg("x")
            .arg(NOW + 100.0)
            .query(&mut conn)
            .unwrap();
        assert_missing(&store, &k, "no data field");
    }
}
