//! Storage must not grow without bound: SQLite sweeps expired rows as creates go by (as
//! the memory store does), SQLite and PostgreSQL offer a sweeper task that never blocks
//! the runtime, and the memory store can be given a capacity that refuses new sessions
//! (never evicting live ones) when full.
// Test harness code times its own waits and real servers; the crate under test does not.
#![allow(clippy::disallowed_methods)]

mod servers;

use std::time::{Duration, Instant};

use pyramid_session::driver;
use pyramid_session::server::{
    IdCookieFormat, Pending, SaveOutcome, ServerConfig, ServerError, SessionId, StoreErrorKind,
    StoreExt, StoreKey,
};
use pyramid_session::store::MemoryStore;
use pyramid_session::OsRandom;
use pyramid_session::SessionConfig;
use serde_json::json;

const NOW: f64 = 1_700_000_000.5;

fn key(tag: &str, n: u64) -> StoreKey {
    SessionId::parse(&format!("growth-{tag}-{n}"))
        .unwrap()
        .store_key()
}

/// A clock for the sweepers: well after the test records' short expiry.
fn later() -> f64 {
    NOW + 10.0
}

/// Polls `f` until it is true, for at most `limit`.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

mod sqlite {
    use super::*;
    use pyramid_session::store::sqlite::SWEEP_EVERY;
    use pyramid_session::store::SqliteStore;
    use servers::TempDir;

    fn rows(conn: &rusqlite::Connection) -> u64 {
        let n: i64 = conn
            .query_row("SELECT count(*) FROM pyramid_sessions", [], |r| r.get(0))
            .unwrap();
        n as u64
    }

    #[test]
    fn sqlite_creates_sweep_expired_rows() {
        let dir = TempDir::new("growth");
        let path = dir.0.join("s.db");
        // Faster inserts for the test; durability is not what is tested here.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA synchronous = OFF").unwrap();
        let store = SqliteStore::from_connection(conn).unwrap();
        let raw = rusqlite::Connection::open(&path).unwrap();
        for n in 0..SWEEP_EVERY {
            assert!(store
                .create(&key("old", n), b"x", NOW + 1.0, NOW)
                .unwrap()
                .is_created());
        }
        assert_eq!(rows(&raw), SWEEP_EVERY, "nothing expired yet");
        // A second wave, after the first has expired.
        for n in 0..SWEEP_EVERY {
            assert!(store
                .create(&key("new", n), b"x", NOW + 100.0, NOW + 50.0)
                .unwrap()
                .is_created());
        }
        let kept = rows(&raw);
        eprintln!("rows kept: {kept} of {}", 2 * SWEEP_EVERY);
        assert_eq!(kept, SWEEP_EVERY, "the expired first wave was swept");
        assert!(store.load(&key("new", 0), NOW + 50.0).unwrap().is_some());
    }

    #[test]
    fn sqlite_sweep_deletes_a_large_backlog_in_batches() {
        let store = SqliteStore::open_in_memory().unwrap();
        let n = 5000;
        for i in 0..n {
            store
                .create(&key("backlog", i), b"x", NOW + 1.0, NOW)
                .unwrap()
                .is_created();
        }
        store
            .create(&key("live", 0), b"x", NOW + 100.0, NOW)
            .unwrap()
            .is_created();
        // The creates' own sweeps ran at NOW, when none of the backlog had expired.
        assert_eq!(store.sweep(NOW + 2.0).unwrap(), n as usize);
        assert_eq!(store.sweep(NOW + 2.0).unwrap(), 0);
        assert!(store.load(&key("live", 0), NOW + 2.0).unwrap().is_some());
    }

    #[test]
    fn sqlite_sweeper_task_runs_off_the_executor() {
        let dir = TempDir::new("growth");
        let path = dir.0.join("s.db");
        let store = SqliteStore::open(&path)
            .unwrap()
            .with_busy_timeout(Duration::from_millis(300));
        for n in 0..50 {
            store
                .create(&key("exp", n), b"x", NOW + 1.0, NOW)
                .unwrap()
                .is_created();
        }
        store
            .create(&key("live", 0), b"x", NOW + 100.0, NOW)
            .unwrap()
            .is_created();
        let raw = rusqlite::Connection::open(&path).unwrap();
        assert!(
            SqliteStore::spawn_sweeper(&store, Duration::from_millis(20), later).is_err(),
            "outside a runtime: an error, no panic"
        );

        // One worker thread; the database is locked, so every sweep waits its full
        // busy timeout. The worker must stay free meanwhile.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        raw.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let sweeper = rt
            .block_on(async { store.spawn_sweeper(Duration::from_millis(20), later) })
            .unwrap();
        let worst = rt.block_on(async {
            let mut worst = Duration::ZERO;
            for _ in 0..40 {
                let started = Instant::now();
                tokio::time::sleep(Duration::from_millis(5)).await;
                worst = worst.max(started.elapsed());
            }
            worst
        });
        eprintln!("worst 5 ms timer while the sweeper waits on the lock: {worst:?}");
        // A blocked worker would stall each sleep for a whole busy timeout (300 ms); a
        // loaded machine may delay a timer by tens of milliseconds.
        assert!(
            worst < Duration::from_millis(250),
            "the sweeper blocked the executor: a 5 ms sleep took {worst:?}"
        );
        assert_eq!(rows(&raw), 51, "nothing swept while locked");
        raw.execute_batch("ROLLBACK").unwrap();

        assert!(
            eventually(Duration::from_secs(5), || rows(&raw) == 1),
            "the sweeper deleted the expired rows: {} left",
            rows(&raw)
        );
        assert!(store.load(&key("live", 0), later()).unwrap().is_some());
        sweeper.abort();
        drop(rt);
    }
}

mod postgres {
    use super::servers::PostgresServer;
    use super::*;
    use pyramid_session::store::postgres::DEFAULT_TIMEOUT;
    use pyramid_session::store::{AsyncPostgresStore, PostgresStore};

    fn client_rows(rt: &tokio::runtime::Runtime, url: &str) -> i64 {
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .query_one("SELECT count(*) FROM pyramid_sessions", &[])
                .await
                .unwrap()
                .get(0)
        })
    }

    fn create_database(rt: &tokio::runtime::Runtime, server: &PostgresServer, name: &str) {
        rt.block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
                    .await
                    .unwrap();
            tokio::spawn(connection);
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
        });
    }

    #[test]
    fn postgres_sweeper_tasks_delete_expired_rows() {
        let server = PostgresServer::start();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();

        // The async store's sweeper, on the caller's runtime.
        create_database(&rt, &server, "sweep_async");
        let url = server.url_for("sweep_async");
        let store = rt
            .block_on(AsyncPostgresStore::connect(&url, DEFAULT_TIMEOUT))
            .unwrap();
        rt.block_on(async {
            use pyramid_session::server::{AsyncStore, StoreOp};
            let create = |key, expires_at: f64| StoreOp::Create {
                key: Some(key),
                data: b"x",
                expires_at: expires_at.into(),
                now: NOW.into(),
            };
            for n in 0..30 {
                store
                    .execute(create(key("exp", n), NOW + 1.0))
                    .await
                    .unwrap();
            }
            store
                .execute(create(key("live", 0), NOW + 100.0))
                .await
                .unwrap();
        });
        assert!(store
            .spawn_sweeper(Duration::from_millis(20), later)
            .is_err());
        let sweeper = rt
            .block_on(async { store.spawn_sweeper(Duration::from_millis(20), later) })
            .unwrap();
        assert!(
            eventually(Duration::from_secs(10), || client_rows(&rt, &url) == 1),
            "async sweeper: {} rows left",
            client_rows(&rt, &url)
        );
        sweeper.abort();

        // The blocking store's sweeper, on its private runtime.
        create_database(&rt, &server, "sweep_sync");
        let url = server.url_for("sweep_sync");
        let store = PostgresStore::open(&url, DEFAULT_TIMEOUT).unwrap();
        for n in 0..30 {
            store
                .create(&key("exp", n), b"x", NOW + 1.0, NOW)
                .unwrap()
                .is_created();
        }
        store
            .create(&key("live", 0), b"x", NOW + 100.0, NOW)
            .unwrap()
            .is_created();
        let sweeper = store.spawn_sweeper(Duration::from_millis(20), later);
        assert!(
            eventually(Duration::from_secs(10), || client_rows(&rt, &url) == 1),
            "blocking store's sweeper: {} rows left",
            client_rows(&rt, &url)
        );
        assert!(store.load(&key("live", 0), later()).unwrap().is_some());
        sweeper.abort();
        // A backlog larger than one batch goes in one call.
        for n in 0..2500 {
            store
                .create(&key("many", n), b"x", NOW + 1.0, NOW)
                .unwrap()
                .is_created();
        }
        assert_eq!(store.sweep(later()).unwrap(), 2500);
    }
}

mod memory {
    use super::*;

    /// The store-generic sweeper on the memory store, through an `Arc` the test keeps
    /// (as an app keeps one while its layer holds another): it deletes expired records
    /// and only those, on the system clock, and stops when its handle is dropped.
    #[test]
    fn the_generic_sweeper_runs_on_an_arc_and_stops_on_drop() {
        use pyramid_session::store::spawn_sweeper;
        use std::sync::Arc;

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let store = Arc::new(MemoryStore::new());
        // Expired long ago by the system clock, and live for a century.
        for n in 0..5 {
            assert!(store
                .create(&key("g", n), b"x", NOW, NOW)
                .unwrap()
                .is_created());
        }
        let live = key("g-live", 0);
        let century = NOW + 100.0 * 365.0 * 86_400.0;
        assert!(store
            .create(&live, b"x", century, NOW)
            .unwrap()
            .is_created());
        let sweeper = rt
            .block_on(async { spawn_sweeper(store.clone(), Duration::from_millis(20)) })
            .unwrap();
        assert!(eventually(Duration::from_secs(5), || store.len() == 1));
        assert!(store.load(&live, NOW).unwrap().is_some());
        assert!(!sweeper.is_finished());
        // Dropped: no more sweeps.
        drop(sweeper);
        assert!(store
            .create(&key("g", 9), b"x", NOW, NOW)
            .unwrap()
            .is_created());
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(store.len(), 2, "a dropped sweeper must not run");
        // Detached: it runs on until aborted.
        let task = rt
            .block_on(async { spawn_sweeper(store.clone(), Duration::from_millis(20)) })
            .unwrap()
            .detach();
        assert!(eventually(Duration::from_secs(5), || store.len() == 1));
        task.abort();
        // Outside a runtime there is nothing to run it on.
        assert!(spawn_sweeper(store.clone(), Duration::from_millis(20)).is_err());
    }

    #[test]
    fn memory_capacity_refuses_new_sessions_when_full() {
        let store = MemoryStore::with_capacity(3);
        assert_eq!(store.capacity(), Some(3));
        for n in 0..3 {
            assert!(store
                .create(&key("m", n), b"x", NOW + 10.0, NOW)
                .unwrap()
                .is_created());
        }
        let err = store
            .create(&key("m", 3), b"x", NOW + 10.0, NOW)
            .unwrap_err();
        assert_eq!(err.kind, StoreErrorKind::Unavailable);
        assert!(err.message.contains("full"), "{}", err.message);
        assert!(err.message.contains("capacity 3"), "{}", err.message);
        assert_eq!(store.len(), 3);
        // Existing sessions are untouched and keep working.
        assert!(
            !store
                .create(&key("m", 0), b"y", NOW + 10.0, NOW)
                .unwrap()
                .is_created(),
            "an existing key is a plain collision, not an error"
        );
        assert_eq!(
            store.save(&key("m", 0), b"y", 1, NOW + 10.0, NOW).unwrap(),
            SaveOutcome::Saved { version: 2 }
        );
        assert!(store
            .touch(&key("m", 1), NOW + 20.0, NOW)
            .unwrap()
            .is_touched());
        // Once some expire, a create sweeps them and goes in.
        assert!(store
            .create(&key("m", 3), b"x", NOW + 30.0, NOW + 15.0)
            .unwrap()
            .is_created());
        assert_eq!(store.len(), 2, "m-0 and m-2 expired and were swept");
        // A full store still takes an expired record's own key.
        let store = MemoryStore::with_capacity(1);
        assert!(store
            .create(&key("k", 0), b"x", NOW + 1.0, NOW)
            .unwrap()
            .is_created());
        assert!(store
            .create(&key("k", 0), b"y", NOW + 9.0, NOW + 5.0)
            .unwrap()
            .is_created());
        // A save or touch that brings an expiry forward is seen by the next create.
        let store = MemoryStore::with_capacity(2);
        assert!(store
            .create(&key("e", 0), b"x", NOW + 100.0, NOW)
            .unwrap()
            .is_created());
        assert!(store
            .create(&key("e", 1), b"x", NOW + 100.0, NOW)
            .unwrap()
            .is_created());
        assert!(store.create(&key("e", 2), b"x", NOW + 100.0, NOW).is_err());
        assert_eq!(
            store.save(&key("e", 0), b"y", 1, NOW + 5.0, NOW).unwrap(),
            SaveOutcome::Saved { version: 2 }
        );
        assert!(store
            .touch(&key("e", 1), NOW + 7.0, NOW)
            .unwrap()
            .is_touched());
        assert!(store
            .create(&key("e", 2), b"x", NOW + 100.0, NOW + 6.0)
            .unwrap()
            .is_created());
        assert!(store
            .create(&key("e", 3), b"x", NOW + 100.0, NOW + 6.5)
            .is_err());
        assert!(store
            .create(&key("e", 3), b"x", NOW + 100.0, NOW + 8.0)
            .unwrap()
            .is_created());
        // Unbounded by default.
        assert_eq!(MemoryStore::new().capacity(), None);
    }

    #[test]
    fn memory_capacity_keeps_existing_users_logged_in() {
        let config = ServerConfig::new(
            SessionConfig::secure("growth-secret").build().unwrap(),
            IdCookieFormat::PyramidSessionRedis,
        )
        .unwrap();
        let store = MemoryStore::with_capacity(1);
        let mut s = driver::open(&store, &config, Pending::start(&config, None, NOW)).unwrap();
        s.insert("user", json!("ada"));
        let cookie = driver::finish(&store, &config, &mut s, false, &mut OsRandom)
            .unwrap()
            .unwrap();
        let cookie = cookie.split(';').next().unwrap().to_string();
        // A new visitor is refused with a store error (a 503 through the axum layer).
        let mut s = driver::open(&store, &config, Pending::start(&config, None, NOW)).unwrap();
        s.insert("user", json!("eve"));
        let refused = driver::finish(&store, &config, &mut s, false, &mut OsRandom);
        assert!(
            matches!(&refused, Err(ServerError::Store(e)) if e.kind == StoreErrorKind::Unavailable),
            "{refused:?}"
        );
        // The existing user still reads and writes their session.
        let pending = Pending::start(&config, Some(cookie.as_bytes()), NOW + 1.0);
        let mut s = driver::open(&store, &config, pending).unwrap();
        assert_eq!(s.get("user"), Some(&json!("ada")));
        s.insert("count", json!(1));
        driver::finish(&store, &config, &mut s, false, &mut OsRandom).unwrap();
        let pending = Pending::start(&config, Some(cookie.as_bytes()), NOW + 2.0);
        let mut s = driver::open(&store, &config, pending).unwrap();
        assert_eq!(s.get("count"), Some(&json!(1)));
    }
}
