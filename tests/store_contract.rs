//! One store-contract suite, run against every store: the semantics of
//! `pyramid_session::server::Store` and the 8 x 250 concurrent-increment test.
// Test harness code times its own waits and real servers; the crate under test does not.
#![allow(clippy::disallowed_methods)]

mod common;

use std::sync::Arc;

use pyramid_session::driver;
use pyramid_session::server::{
    CreateOutcome, IdCookieFormat, IdScheme, Pending, Record, RemoveOutcome, SaveOutcome,
    ServerConfig, SessionId, Store, StoreExt, StoreKey,
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

/// How a store's keys, records and versions look to the suite.
pub struct Flavour {
    /// The key of record `n` (for an allocating store: a key it never allocated).
    pub key: fn(u8) -> StoreKey,
    /// The record the suite writes for `payload`: the payload itself for the stores that
    /// hold any bytes.
    pub data: fn(&[u8]) -> Vec<u8>,
    /// Versions count: 1 at create, +1 a save. Otherwise they are opaque: never 0 and
    /// different after every save.
    pub counting: bool,
    /// A touch keeps the version (a store whose touch rewrites the record changes it).
    pub touch_keeps_version: bool,
    /// How far a loaded expiry may be from the one expected.
    pub expiry_tolerance: f64,
    /// The store allocates the ids (`IdScheme::Allocated`): creates carry no key.
    pub allocates: bool,
    /// The expiry a load reports after a write of `(expires_at, now)`: the one written,
    /// for the stores that keep it; a store that derives it (CubicWeb's rows: the
    /// modification date plus its timeout) says how.
    pub loaded_expiry: fn(f64, f64) -> f64,
    /// Records past their expiry are invisible and cannot be written. A store that does
    /// not expire records (CubicWeb's) reports the expiry and leaves it to the core.
    pub expires: bool,
}

/// The expiry written.
fn as_written(expires_at: f64, _now: f64) -> f64 {
    expires_at
}

/// The crate's own stores: hashed keys, any bytes, counting versions, exact expiries.
pub const COUNTING: Flavour = Flavour {
    key,
    data: <[u8]>::to_vec,
    counting: true,
    touch_keeps_version: true,
    expiry_tolerance: 0.01,
    allocates: false,
    loaded_expiry: as_written,
    expires: true,
};

impl Flavour {
    fn version(&self, outcome: CreateOutcome) -> u64 {
        let version = match outcome {
            CreateOutcome::Created { version } if !self.allocates => version,
            CreateOutcome::Allocated { version, .. } if self.allocates => version,
            other => panic!("not created as this store creates: {other:?}"),
        };
        if self.counting {
            assert_eq!(version, 1, "create answers version 1");
        }
        assert_ne!(version, 0, "versions are never 0");
        version
    }

    /// A create of slot `n` (or, for an allocating store, of a new id): its key and
    /// version.
    fn create<S: Store>(&self, store: &S, n: u8, data: &[u8], e: f64, now: f64) -> (StoreKey, u64) {
        if self.allocates {
            let outcome = store.allocate(data, e, now).unwrap();
            let CreateOutcome::Allocated { id, .. } = &outcome else {
                panic!("an allocating store answers Allocated: {outcome:?}");
            };
            let key = IdScheme::Allocated.key(id);
            (key, self.version(outcome))
        } else {
            let key = (self.key)(n);
            (key, self.version(store.create(&key, data, e, now).unwrap()))
        }
    }

    fn saved(&self, outcome: SaveOutcome, before: u64) -> u64 {
        let SaveOutcome::Saved { version } = outcome else {
            panic!("not saved: {outcome:?}");
        };
        if self.counting {
            assert_eq!(version, before + 1, "a save counts the version up");
        }
        assert_ne!(version, 0, "versions are never 0");
        assert_ne!(version, before, "a save changes the version");
        version
    }

    /// The loaded expiry after a write of `(written, now)`.
    fn expiry(&self, record: &Record, written: f64, now: f64) {
        let got = record.expires_at.as_secs_f64();
        let want = (self.loaded_expiry)(written, now);
        assert!(
            (got - want).abs() < self.expiry_tolerance,
            "expires at {got}, expected {want}"
        );
    }
}

/// The contract every store must meet.
pub fn contract<S: Store>(store: &S) {
    contract_with(store, &COUNTING);
}

/// The contract, for a store of flavour `f`.
pub fn contract_with<S: Store>(store: &S, f: &Flavour) {
    let d = f.data;
    // load never creates
    let unknown = (f.key)(1);
    assert_eq!(store.load(&unknown, NOW).unwrap(), None);
    assert_eq!(store.load(&unknown, NOW).unwrap(), None);
    // create is insert-if-absent, version 1 (counting); the id scheme decides who makes
    // the key, and a store serves one kind
    let (k, v1) = f.create(store, 1, &d(b"one"), NOW + 100.0, NOW);
    if f.allocates {
        let (other, _) = f.create(store, 1, &d(b"other"), NOW + 100.0, NOW);
        assert_ne!(other, k, "every create allocates a new id");
        store.remove(&other).unwrap();
        assert!(
            store
                .create(&unknown, &d(b"keyed"), NOW + 100.0, NOW)
                .is_err(),
            "an allocating store refuses a keyed create"
        );
    } else {
        assert!(
            !store
                .create(&k, &d(b"other"), NOW + 100.0, NOW)
                .unwrap()
                .is_created(),
            "create must not overwrite"
        );
        assert!(
            store.allocate(&d(b"keyless"), NOW + 100.0, NOW).is_err(),
            "a keyed store allocates no ids"
        );
    }
    let r = store.load(&k, NOW).unwrap().unwrap();
    assert_eq!((r.data.as_slice(), r.version), (&d(b"one")[..], v1));
    f.expiry(&r, NOW + 100.0, NOW);
    // save is compare-and-set
    assert_eq!(
        store.save(&k, &d(b"stale"), 7, NOW + 100.0, NOW).unwrap(),
        SaveOutcome::Conflict
    );
    let v2 = f.saved(
        store.save(&k, &d(b"two"), v1, NOW + 200.0, NOW).unwrap(),
        v1,
    );
    let r = store.load(&k, NOW).unwrap().unwrap();
    assert_eq!((r.data.as_slice(), r.version), (&d(b"two")[..], v2));
    f.expiry(&r, NOW + 200.0, NOW);
    // touch moves the expiry only
    assert!(store.touch(&k, NOW + 300.0, NOW).unwrap().is_touched());
    let r = store.load(&k, NOW).unwrap().unwrap();
    assert_eq!(r.data, d(b"two"));
    if f.touch_keeps_version {
        assert_eq!(r.version, v2);
    }
    assert_ne!(r.version, 0);
    let v3 = r.version;
    f.expiry(&r, NOW + 300.0, NOW);
    let late = NOW + 301.0 + (f.loaded_expiry)(0.0, 0.0).max(0.0);
    if f.expires {
        // expired records are invisible, cannot be saved or touched, and free the key
        assert_eq!(store.load(&k, late).unwrap(), None);
        assert_eq!(
            store.save(&k, &d(b"late"), v3, late + 600.0, late).unwrap(),
            SaveOutcome::Missing
        );
        assert!(!store.touch(&k, late + 600.0, late).unwrap().is_touched());
    } else {
        // an expired record is reported with its expiry, for the core to refuse
        let r = store.load(&k, late).unwrap().unwrap();
        assert!(r.expires_at.as_secs_f64() <= late, "{:?}", r.expires_at);
    }
    let (k, again) = f.create(store, 1, &d(b"again"), late + 600.0, late);
    assert_eq!(store.load(&k, late).unwrap().unwrap().version, again);
    // remove; saving or touching afterwards never resurrects
    store.remove(&k).unwrap();
    store.remove(&k).unwrap();
    assert_eq!(store.load(&k, NOW).unwrap(), None);
    assert_eq!(
        store
            .save(&k, &d(b"zombie"), again, NOW + 100.0, NOW)
            .unwrap(),
        SaveOutcome::Missing
    );
    assert!(!store.touch(&k, NOW + 100.0, NOW).unwrap().is_touched());
    assert_eq!(store.load(&k, NOW).unwrap(), None);
    // keys are independent; binary data round-trips
    let data: Vec<u8> = (0..=255).collect();
    let (k2, _) = f.create(store, 2, &d(&data), NOW + 10.0, NOW);
    let (k3, _) = f.create(store, 3, &d(b""), NOW + 10.0, NOW);
    assert_eq!(store.load(&k2, NOW).unwrap().unwrap().data, d(&data));
    assert_eq!(store.load(&k3, NOW).unwrap().unwrap().data, d(b""));
    store.remove(&k2).unwrap();
    store.remove(&k3).unwrap();
    // remove_if removes a live record only at the expected version
    assert_eq!(
        store.remove_if(&(f.key)(4), 1, NOW).unwrap(),
        RemoveOutcome::Missing
    );
    let (k, w1) = f.create(store, 4, &d(b"one"), NOW + 100.0, NOW);
    let w2 = f.saved(
        store.save(&k, &d(b"two"), w1, NOW + 100.0, NOW).unwrap(),
        w1,
    );
    assert_eq!(
        store.remove_if(&k, w1, NOW).unwrap(),
        RemoveOutcome::Conflict
    );
    assert_eq!(store.load(&k, NOW).unwrap().unwrap().data, d(b"two"));
    if f.expires {
        assert_eq!(
            store.remove_if(&k, w2, NOW + 101.0).unwrap(),
            RemoveOutcome::Missing,
            "an expired record is missing"
        );
    }
    assert_eq!(
        store.remove_if(&k, w2, NOW).unwrap(),
        RemoveOutcome::Removed
    );
    assert_eq!(store.load(&k, NOW).unwrap(), None);
    assert_eq!(
        store.remove_if(&k, w2, NOW).unwrap(),
        RemoveOutcome::Missing
    );
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
    concurrent_increments_with(store, server_config(100_000))
}

/// [`concurrent_increments`] under `config` (its id scheme, its retry limits).
pub fn concurrent_increments_with<S: Store + Send + Sync + 'static>(
    store: Arc<S>,
    config: ServerConfig,
) -> u64 {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 250;
    let config = Arc::new(config);
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

/// `Arc<S>`, `Box<S>`, `&S` and `Arc<dyn Store>` are stores: an app keeps an `Arc` of
/// its store (for a sweeper, an admin page) while the layer holds another.
#[test]
fn stores_behind_pointers_keep_the_contract() {
    contract(&Arc::new(MemoryStore::new()));
    contract(&Box::new(MemoryStore::new()));
    contract(&&MemoryStore::new());
    let shared: Arc<dyn Store + Send + Sync> = Arc::new(MemoryStore::new());
    contract(&shared);
    // Two handles, one store: a session written through one is read through the other.
    let store = Arc::new(MemoryStore::new());
    let (writer, reader) = (store.clone(), store.clone());
    let config = server_config(8);
    let mut s = driver::open(&writer, &config, Pending::start(&config, None, NOW)).unwrap();
    s.insert("user", json!("ada"));
    let cookie = driver::finish(&writer, &config, &mut s, false, &mut OsRandom)
        .unwrap()
        .unwrap();
    let pending = Pending::start(&config, Some(cookie_pair(&cookie).as_bytes()), NOW + 1.0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut s = rt
        .block_on(driver::open_async(&reader, &config, pending))
        .unwrap();
    assert_eq!(s.get("user"), Some(&json!("ada")));
    assert_eq!(store.len(), 1);
}

#[test]
fn memory_store_concurrent_increments() {
    assert_eq!(concurrent_increments(Arc::new(MemoryStore::new())), 2000);
}

#[test]
fn memory_store_sweep() {
    let store = MemoryStore::new();
    store
        .create(&key(1), b"a", NOW + 1.0, NOW)
        .unwrap()
        .is_created();
    store
        .create(&key(2), b"b", NOW + 5.0, NOW)
        .unwrap()
        .is_created();
    assert_eq!(store.sweep(NOW + 2.0), 1);
    assert_eq!(store.len(), 1);
    assert!(store.load(&key(2), NOW + 2.0).unwrap().is_some());
    // Creating records sweeps expired ones by itself now and then.
    let every = pyramid_session::store::memory::SWEEP_EVERY;
    let store = MemoryStore::new();
    for n in 0..every {
        let k = SessionId::parse(&format!("s{n}")).unwrap().store_key();
        store.create(&k, b"x", NOW + 1.0, NOW).unwrap().is_created();
    }
    assert_eq!(store.len() as u64, every, "nothing expired yet");
    for n in 0..every {
        let k = SessionId::parse(&format!("t{n}")).unwrap().store_key();
        store
            .create(&k, b"x", NOW + 100.0, NOW + 50.0)
            .unwrap()
            .is_created();
    }
    assert_eq!(
        store.len() as u64,
        every,
        "the first, expired batch was swept"
    );
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
            store
                .create(&key(1), b"a", NOW + 1.0, NOW)
                .unwrap()
                .is_created();
            store
                .create(&key(2), b"b", NOW + 5.0, NOW)
                .unwrap()
                .is_created();
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

#[cfg(any(
    feature = "redis",
    feature = "postgres",
    feature = "sqlite",
    feature = "sqlx-sqlite",
    feature = "sqlx-postgres"
))]
use common::BlockOn;

/// Wraps an async store connected on `rt` for the blocking suite.
#[cfg(any(feature = "redis", feature = "postgres"))]
fn blocking<S>(
    rt: &tokio::runtime::Runtime,
    connect: impl std::future::Future<Output = Result<S, pyramid_session::server::StoreError>>,
) -> BlockOn<S> {
    BlockOn {
        store: rt.block_on(connect).unwrap(),
        rt: rt.handle().clone(),
    }
}

#[cfg(any(
    feature = "redis",
    feature = "postgres",
    feature = "sqlite",
    feature = "sqlx-sqlite",
    feature = "sqlx-postgres"
))]
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Real-time "now" for stores whose expiry is enforced by the server's clock (Redis TTLs).
#[cfg(feature = "redis")]
fn wall_clock() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[cfg(any(
    feature = "redis",
    feature = "postgres",
    feature = "sqlite",
    feature = "sqlx-sqlite",
    feature = "sqlx-postgres"
))]
mod servers;

/// Shifts the contract's fixed clock to the real one.
#[cfg(feature = "redis")]
struct Shifted<S> {
    store: S,
    shift: f64,
}

#[cfg(feature = "redis")]
impl<S: Store> Store for Shifted<S> {
    fn execute(
        &self,
        op: pyramid_session::server::StoreOp<'_>,
    ) -> Result<pyramid_session::server::OpResult, pyramid_session::server::StoreError> {
        use pyramid_session::server::OpResult;
        use pyramid_session::time::UnixTime;
        let shift = |t: UnixTime| UnixTime::from(t.as_secs_f64() + self.shift);
        let mut answer = self.store.execute(op.map_times(shift))?;
        if let OpResult::Loaded(Some(record)) = &mut answer {
            record.expires_at = UnixTime::from(record.expires_at.as_secs_f64() - self.shift);
        }
        Ok(answer)
    }
}

#[cfg(feature = "redis")]
mod redis_store {
    use super::servers::RedisServer;
    use super::*;
    use pyramid_session::store::redis::DEFAULT_TIMEOUT;
    use pyramid_session::store::{AsyncRedisStore, RedisStore};

    /// Redis enforces expiry with real TTLs, so the contract runs at the real time.
    fn contract_now<S: Store>(store: &S, server: &RedisServer, prefix: &str) {
        let shift = wall_clock() - NOW;
        let shifted = Shifted { store, shift };
        contract(&shifted);
        // Every write path leaves a TTL: create, save, touch.
        let k = key(9);
        let now = wall_clock();
        let redis_key = format!("{prefix}{}", k.as_str());
        assert!(store
            .create(&k, b"x", now + 100.0, now)
            .unwrap()
            .is_created());
        assert!(server.pttl(&redis_key) > 90_000);
        assert_eq!(
            store.save(&k, b"y", 1, now + 200.0, now).unwrap(),
            SaveOutcome::Saved { version: 2 }
        );
        assert!(server.pttl(&redis_key) > 190_000);
        assert!(store.touch(&k, now + 50.0, now).unwrap().is_touched());
        let ttl = server.pttl(&redis_key);
        assert!(ttl > 40_000 && ttl <= 50_000, "{ttl}");
        // An expiry in the past deletes at once.
        assert!(store.touch(&k, now - 1.0, now).unwrap().is_touched());
        assert_eq!(server.pttl(&redis_key), -2);
        // Keys are namespaced by the prefix and never hold the raw id.
        assert!(server.keys("*").iter().all(|k| k.starts_with(prefix)));
    }

    #[test]
    fn redis_store_contract() {
        let server = RedisServer::start();
        let store = RedisStore::open(&server.url(), "<my-app>:", DEFAULT_TIMEOUT).unwrap();
        contract_now(&store, &server, "<my-app>:");
    }

    #[test]
    fn async_redis_store_contract() {
        let server = RedisServer::start();
        let rt = runtime();
        let store = blocking(
            &rt,
            AsyncRedisStore::connect(&server.url(), "app:", DEFAULT_TIMEOUT),
        );
        contract_now(&store, &server, "app:");
    }

    #[test]
    fn redis_store_concurrent_increments() {
        let server = RedisServer::start();
        let store = RedisStore::open(&server.url(), "app:", DEFAULT_TIMEOUT).unwrap();
        // The increments run at NOW + 1; give the record a far expiry by shifting time.
        let shifted = Arc::new(Shifted {
            store,
            shift: wall_clock() - NOW,
        });
        assert_eq!(concurrent_increments(shifted), 2000);
    }

    #[test]
    fn async_redis_store_concurrent_increments() {
        let server = RedisServer::start();
        let rt = runtime();
        let store = blocking(
            &rt,
            AsyncRedisStore::connect(&server.url(), "app:", DEFAULT_TIMEOUT),
        );
        let shifted = Arc::new(Shifted {
            store,
            shift: wall_clock() - NOW,
        });
        assert_eq!(concurrent_increments(shifted), 2000);
    }

    /// Two independent store instances (two app servers) share one Redis.
    #[test]
    fn two_instances_share_sessions() {
        let server = RedisServer::start();
        let rt = runtime();
        let a = RedisStore::open(&server.url(), "app:", DEFAULT_TIMEOUT).unwrap();
        let b = rt
            .block_on(AsyncRedisStore::connect(
                &server.url(),
                "app:",
                DEFAULT_TIMEOUT,
            ))
            .unwrap();
        let config = server_config(8);
        let now = wall_clock();
        let mut s = driver::open(&a, &config, Pending::start(&config, None, now)).unwrap();
        s.insert("user", json!("ada"));
        let cookie = cookie_pair(
            &driver::finish(&a, &config, &mut s, false, &mut OsRandom)
                .unwrap()
                .unwrap(),
        );
        rt.block_on(async {
            let pending = Pending::start(&config, Some(cookie.as_bytes()), now + 1.0);
            let mut s = driver::open_async(&b, &config, pending).await.unwrap();
            assert_eq!(s.get("user"), Some(&json!("ada")));
            s.insert("seen_by", json!("b"));
            driver::finish_async(&b, &config, &mut s, false, &mut OsRandom)
                .await
                .unwrap();
        });
        let mut s = driver::open(
            &a,
            &config,
            Pending::start(&config, Some(cookie.as_bytes()), now + 2.0),
        )
        .unwrap();
        assert_eq!(s.get("seen_by"), Some(&json!("b")));
    }
}

/// pyramid_session_redis's layout: raw keys, records held as Python payloads, versions
/// derived from the value, a touch that rewrites `x`.
#[cfg(feature = "redis")]
mod pyramid_session_redis_store {
    use super::servers::RedisServer;
    use super::*;
    use pyramid_session::server::IdScheme;
    use pyramid_session::store::pyramid_session_redis::DEFAULT_TIMEOUT;
    use pyramid_session::store::{
        AsyncPyramidSessionRedisStore, PyramidSessionRedisOptions, PyramidSessionRedisStore,
    };

    /// Raw keys, as pyramid_session_redis's ids are.
    fn raw_key(n: u8) -> StoreKey {
        let id = SessionId::parse(&format!("app:contract-{n}")).unwrap();
        IdScheme::pyramid_session_redis("app:").unwrap().key(&id)
    }

    /// The suite's payload as a session record whose state holds it as Python bytes, with
    /// a whole-second `created` (the value's `c` is an int): it reads back byte for byte.
    fn record(payload: &[u8]) -> Vec<u8> {
        let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
        format!(r#"{{"created": 1700000000.0, "state": {{"d": {{"$bytes": "{hex}"}}}}}}"#)
            .into_bytes()
    }

    const PYTHON: Flavour = Flavour {
        key: raw_key,
        data: record,
        counting: false,
        touch_keeps_version: false,
        // The loaded expiry is the key's TTL as Redis counts it down, or `x`, whole
        // seconds rounded up.
        expiry_tolerance: 1.0,
        allocates: false,
        loaded_expiry: as_written,
        expires: true,
    };

    fn contract_now<S: Store>(store: &S, server: &RedisServer) {
        contract_with(
            &Shifted {
                store,
                shift: wall_clock() - NOW,
            },
            &PYTHON,
        );
        // Every write path leaves a TTL: create, save, touch.
        let k = raw_key(9);
        let now = wall_clock();
        let v1 = match store.create(&k, &record(b"x"), now + 100.0, now).unwrap() {
            CreateOutcome::Created { version } => version,
            other => panic!("{other:?}"),
        };
        let ttl = server.pttl(k.as_str());
        assert!(ttl > 90_000 && ttl <= 100_000, "{ttl}");
        assert!(matches!(
            store.save(&k, &record(b"y"), v1, now + 200.0, now).unwrap(),
            SaveOutcome::Saved { .. }
        ));
        assert!(server.pttl(k.as_str()) > 190_000);
        assert!(store.touch(&k, now + 50.0, now).unwrap().is_touched());
        let ttl = server.pttl(k.as_str());
        assert!(ttl > 40_000 && ttl <= 50_000, "{ttl}");
        // An expiry in the past deletes at once.
        assert!(store.touch(&k, now - 1.0, now).unwrap().is_touched());
        assert_eq!(server.pttl(k.as_str()), -2);
        // The keys are the ids themselves.
        assert!(server
            .keys("*")
            .iter()
            .all(|k| k.starts_with("app:contract-")));
    }

    fn options() -> PyramidSessionRedisOptions {
        PyramidSessionRedisOptions::new(1200)
    }

    #[test]
    fn pyramid_session_redis_store_contract() {
        let server = RedisServer::start();
        let store =
            PyramidSessionRedisStore::open(&server.url(), options(), DEFAULT_TIMEOUT).unwrap();
        contract_now(&store, &server);
        // Without a TTL (Redis as an LRU cache), `x` alone expires records.
        let store = PyramidSessionRedisStore::open(
            &server.url(),
            options().with_set_redis_ttl(false),
            DEFAULT_TIMEOUT,
        )
        .unwrap();
        contract_with(
            &Shifted {
                store: &store,
                shift: wall_clock() - NOW,
            },
            &PYTHON,
        );
    }

    #[test]
    fn async_pyramid_session_redis_store_contract() {
        let server = RedisServer::start();
        let rt = runtime();
        let store = blocking(
            &rt,
            AsyncPyramidSessionRedisStore::connect(&server.url(), options(), DEFAULT_TIMEOUT),
        );
        contract_now(&store, &server);
    }

    fn python_config() -> ServerConfig {
        server_config(100_000).with_id_scheme(IdScheme::pyramid_session_redis("app:").unwrap())
    }

    #[test]
    fn pyramid_session_redis_store_concurrent_increments() {
        let server = RedisServer::start();
        let store =
            PyramidSessionRedisStore::open(&server.url(), options(), DEFAULT_TIMEOUT).unwrap();
        let shifted = Arc::new(Shifted {
            store,
            shift: wall_clock() - NOW,
        });
        assert_eq!(concurrent_increments_with(shifted, python_config()), 2000);
    }

    #[test]
    fn async_pyramid_session_redis_store_concurrent_increments() {
        let server = RedisServer::start();
        let rt = runtime();
        let store = blocking(
            &rt,
            AsyncPyramidSessionRedisStore::connect(&server.url(), options(), DEFAULT_TIMEOUT),
        );
        let shifted = Arc::new(Shifted {
            store,
            shift: wall_clock() - NOW,
        });
        assert_eq!(concurrent_increments_with(shifted, python_config()), 2000);
    }
}

#[cfg(feature = "postgres")]
mod postgres_store {
    use super::servers::PostgresServer;
    use super::*;
    use pyramid_session::store::postgres::DEFAULT_TIMEOUT;
    use pyramid_session::store::{AsyncPostgresStore, PostgresStore};

    /// A private cluster and a fresh database in it; the cluster stops when dropped.
    fn database(server: &PostgresServer, name: &str) -> String {
        let admin = server.url();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
                .await
                .unwrap();
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
        });
        server.url_for(name)
    }

    #[test]
    fn postgres_store_contract() {
        let server = PostgresServer::start();
        let store =
            PostgresStore::open(&database(&server, "contract_sync"), DEFAULT_TIMEOUT).unwrap();
        contract(&store);
        store
            .create(&key(7), b"old", NOW + 1.0, NOW)
            .unwrap()
            .is_created();
        assert_eq!(store.sweep(NOW + 2.0).unwrap(), 1);
    }

    #[test]
    fn async_postgres_store_contract() {
        let server = PostgresServer::start();
        let url = database(&server, "contract_async");
        let rt = runtime();
        contract(&blocking(
            &rt,
            AsyncPostgresStore::connect(&url, DEFAULT_TIMEOUT),
        ));
    }

    #[test]
    fn postgres_store_concurrent_increments() {
        let server = PostgresServer::start();
        let store =
            PostgresStore::open(&database(&server, "increments_sync"), DEFAULT_TIMEOUT).unwrap();
        assert_eq!(concurrent_increments(Arc::new(store)), 2000);
    }

    /// A pool of 4: every connection is made at once (4 backends on the database), the
    /// contract holds, and 8 threads of increments lose nothing.
    #[test]
    fn postgres_store_pool() {
        let server = PostgresServer::start();
        let url = database(&server, "contract_pool");
        let rt = runtime();
        let store = blocking(
            &rt,
            AsyncPostgresStore::connect_pool(&url, DEFAULT_TIMEOUT, 4),
        );
        assert_eq!(store.store.connections(), 4);
        let backends = rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            let row = client
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid() \
                     AND backend_type = 'client backend'",
                    &[],
                )
                .await
                .unwrap();
            row.get::<_, i64>(0)
        });
        assert_eq!(backends, 4, "one backend per pooled connection");
        contract(&store);
        let store = PostgresStore::open_pool(&url, DEFAULT_TIMEOUT, 4).unwrap();
        assert_eq!(concurrent_increments(Arc::new(store)), 2000);
    }

    #[test]
    fn async_postgres_store_concurrent_increments() {
        let server = PostgresServer::start();
        let url = database(&server, "increments_async");
        let rt = runtime();
        let store = blocking(&rt, AsyncPostgresStore::connect(&url, DEFAULT_TIMEOUT));
        assert_eq!(concurrent_increments(Arc::new(store)), 2000);
    }
}

/// CubicWeb's `cw_CWSession` rows (`CubicWebStore`), in a database made from the DDL
/// CubicWeb 5.0.1 generates (`tests/data/cw_sql_schema.json`) and the two rows the store
/// looks up (`tests/cubicweb_store.rs` runs it against databases CubicWeb made itself):
/// the store allocates the ids (eids), records hold Python state, versions derive from
/// the row, the expiry from the modification date, and nothing expires in the store.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod cubicweb_store {
    use super::*;
    use pyramid_session::store::cubicweb::{CubicWebOptions, CubicWebStore};

    /// The session timeout the store derives expiries with.
    const TIMEOUT: f64 = 1200.0;

    /// Eids this database never allocates.
    fn unknown_eid(n: u8) -> StoreKey {
        IdScheme::Allocated.key(&SessionId::parse(&format!("{}", 900_000 + u32::from(n))).unwrap())
    }

    /// The payload as a record whose state holds it as Python bytes; `created` is the
    /// row's creation date, the time of the suite's creates.
    fn record(payload: &[u8]) -> Vec<u8> {
        let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
        format!(r#"{{"created": {NOW:?}, "state": {{"d": {{"$bytes": "{hex}"}}}}}}"#).into_bytes()
    }

    fn modified_plus_timeout(_expires_at: f64, now: f64) -> f64 {
        now + TIMEOUT
    }

    const CUBICWEB: Flavour = Flavour {
        key: unknown_eid,
        data: record,
        counting: false,
        touch_keeps_version: false,
        expiry_tolerance: 0.01,
        allocates: true,
        loaded_expiry: modified_plus_timeout,
        expires: false,
    };

    fn options() -> CubicWebOptions {
        CubicWebOptions::new("https://example.org")
            .with_timeout(std::time::Duration::from_secs_f64(TIMEOUT))
    }

    /// CubicWeb's DDL for `dialect` (`sqlite` or `postgres`), and the rows the store needs.
    fn schema(dialect: &str) -> Vec<String> {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/cw_sql_schema.json"
        ))
        .unwrap();
        let ddl: Value = serde_json::from_str(&text).unwrap();
        let ddl = &ddl[dialect];
        let mut sql: Vec<String> = Vec::new();
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        sql.extend(strings(&ddl["system_tables"]));
        for relation in ddl["meta_relations"].as_object().unwrap().values() {
            sql.extend(strings(&relation["sql"]));
        }
        sql.extend(strings(&ddl["CWSession_ddl"]));
        sql.extend(strings(&ddl["CWUser_ddl"]));
        sql.extend(
            [
                "CREATE TABLE cw_CWEType (cw_eid integer PRIMARY KEY REFERENCES entities (eid), cw_name text)",
                "CREATE TABLE cw_CWSource (cw_eid integer PRIMARY KEY REFERENCES entities (eid), cw_name text, cw_type text)",
                "INSERT INTO entities (eid, type) VALUES (1, 'CWSource'), (37, 'CWEType')",
                "INSERT INTO cw_CWEType (cw_eid, cw_name) VALUES (37, 'CWSession')",
                "INSERT INTO cw_CWSource (cw_eid, cw_name, cw_type) VALUES (1, 'system', 'native')",
                "UPDATE entities_id_seq SET last = 100",
            ]
            .map(String::from),
        );
        sql
    }

    fn config() -> ServerConfig {
        server_config(100_000).with_id_scheme(IdScheme::Allocated)
    }

    #[cfg(feature = "sqlite")]
    mod sqlite {
        use super::*;

        fn database() -> (servers::TempDir, CubicWebStore) {
            let dir = servers::TempDir::new("cubicweb-contract");
            let path = dir.0.join("cw.sqlite");
            let conn = rusqlite::Connection::open(&path).unwrap();
            for statement in schema("sqlite") {
                conn.execute_batch(&statement).unwrap();
            }
            drop(conn);
            let store = CubicWebStore::open_sqlite(&path, options()).unwrap();
            (dir, store)
        }

        #[test]
        fn cubicweb_sqlite_store_contract() {
            let (_dir, store) = database();
            contract_with(&store, &CUBICWEB);
        }

        #[test]
        fn cubicweb_sqlite_store_concurrent_increments() {
            let (_dir, store) = database();
            assert_eq!(concurrent_increments_with(Arc::new(store), config()), 2000);
        }

        #[test]
        fn async_cubicweb_sqlite_store_contract() {
            let (_dir, store) = database();
            let rt = runtime();
            contract_with(
                &BlockOn {
                    store,
                    rt: rt.handle().clone(),
                },
                &CUBICWEB,
            );
        }
    }

    #[cfg(feature = "postgres")]
    mod postgres {
        use super::servers::PostgresServer;
        use super::*;

        fn database(server: &PostgresServer, name: &str) -> String {
            let rt = runtime();
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
                let (client, connection) =
                    tokio_postgres::connect(&server.url_for(name), tokio_postgres::NoTls)
                        .await
                        .unwrap();
                tokio::spawn(connection);
                for statement in schema("postgres") {
                    client.batch_execute(&statement).await.unwrap();
                }
            });
            server.url_for(name)
        }

        #[test]
        fn cubicweb_postgres_store_contract() {
            let server = PostgresServer::start();
            let store =
                CubicWebStore::open_postgres(&database(&server, "cw_sync"), options()).unwrap();
            contract_with(&store, &CUBICWEB);
            let rt = runtime();
            let url = database(&server, "cw_async");
            let store = rt
                .block_on(CubicWebStore::connect_postgres(&url, options()))
                .unwrap();
            contract_with(
                &BlockOn {
                    store,
                    rt: rt.handle().clone(),
                },
                &CUBICWEB,
            );
        }

        #[test]
        fn cubicweb_postgres_store_concurrent_increments() {
            let server = PostgresServer::start();
            let store =
                CubicWebStore::open_postgres(&database(&server, "cw_inc"), options()).unwrap();
            assert_eq!(concurrent_increments_with(Arc::new(store), config()), 2000);
        }
    }
}

/// The stores over the application's own sqlx pool: the same suites, the same table as
/// the rusqlite store (each reads what the other wrote), and the pool stays the app's.
#[cfg(feature = "sqlx-sqlite")]
mod sqlx_sqlite_store {
    use super::*;
    use pyramid_session::store::sqlx_sqlite::SWEEP_EVERY;
    use pyramid_session::store::SqlxSqliteStore;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use sqlx::SqlitePool;

    /// The application's pool on a database file in a temporary directory.
    fn pool(rt: &tokio::runtime::Runtime, dir: &servers::TempDir) -> SqlitePool {
        let options = SqliteConnectOptions::new()
            .filename(dir.0.join("app.db"))
            .create_if_missing(true);
        rt.block_on(
            SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options),
        )
        .unwrap()
    }

    fn store(rt: &tokio::runtime::Runtime, dir: &servers::TempDir) -> BlockOn<SqlxSqliteStore> {
        let pool = pool(rt, dir);
        blocking(rt, SqlxSqliteStore::new(pool))
    }

    #[test]
    fn sqlx_sqlite_store_contract() {
        let dir = servers::TempDir::new("sqlx-sqlite-contract");
        let rt = runtime();
        contract(&store(&rt, &dir));
    }

    #[test]
    fn sqlx_sqlite_store_concurrent_increments() {
        let dir = servers::TempDir::new("sqlx-sqlite-increments");
        let rt = runtime();
        assert_eq!(concurrent_increments(Arc::new(store(&rt, &dir))), 2000);
    }

    #[test]
    fn sqlx_sqlite_store_sweeps() {
        let dir = servers::TempDir::new("sqlx-sqlite-sweep");
        let rt = runtime();
        let store = store(&rt, &dir);
        assert!(store
            .create(&key(1), b"a", NOW + 1.0, NOW)
            .unwrap()
            .is_created());
        assert!(store
            .create(&key(2), b"b", NOW + 5.0, NOW)
            .unwrap()
            .is_created());
        assert_eq!(rt.block_on(store.store.sweep(NOW + 2.0)).unwrap(), 1);
        assert_eq!(rt.block_on(store.store.sweep(f64::NAN)).unwrap(), 0);
        assert!(store.load(&key(2), NOW + 2.0).unwrap().is_some());
        // Creating records sweeps expired ones by itself now and then.
        let rows = |pool: &SqlitePool| -> i64 {
            rt.block_on(sqlx::query_scalar("SELECT count(*) FROM pyramid_sessions").fetch_one(pool))
                .unwrap()
        };
        let fresh = servers::TempDir::new("sqlx-sqlite-autosweep");
        let store = super::sqlx_sqlite_store::store(&rt, &fresh);
        for n in 0..SWEEP_EVERY {
            let k = SessionId::parse(&format!("s{n}")).unwrap().store_key();
            assert!(store.create(&k, b"x", NOW + 1.0, NOW).unwrap().is_created());
        }
        assert_eq!(
            rows(store.store.pool()) as u64,
            SWEEP_EVERY,
            "nothing expired yet"
        );
        for n in 0..SWEEP_EVERY {
            let k = SessionId::parse(&format!("t{n}")).unwrap().store_key();
            assert!(store
                .create(&k, b"x", NOW + 100.0, NOW + 50.0)
                .unwrap()
                .is_created());
        }
        assert_eq!(
            rows(store.store.pool()) as u64,
            SWEEP_EVERY,
            "the first, expired batch was swept"
        );
    }

    /// The application keeps its pool: its own tables live beside the sessions, a
    /// record written by the rusqlite store is read here and the other way round, and a
    /// row another program wrote with an integer expiry loads.
    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlx_sqlite_store_shares_the_database() {
        use pyramid_session::store::SqliteStore;
        let dir = servers::TempDir::new("sqlx-sqlite-shared");
        let rt = runtime();
        let ours = store(&rt, &dir);
        let pool = ours.store.pool().clone();
        rt.block_on(async {
            sqlx::raw_sql("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada')")
                .execute(&pool)
                .await
                .unwrap();
        });
        let theirs = SqliteStore::open(dir.0.join("app.db")).unwrap();
        assert!(ours
            .create(&key(1), b"from sqlx", NOW + 100.0, NOW)
            .unwrap()
            .is_created());
        assert!(theirs
            .create(&key(2), b"from rusqlite", NOW + 100.0, NOW)
            .unwrap()
            .is_created());
        assert_eq!(
            theirs.load(&key(1), NOW).unwrap().unwrap().data,
            b"from sqlx"
        );
        let r = ours.load(&key(2), NOW).unwrap().unwrap();
        assert_eq!((r.data.as_slice(), r.version), (&b"from rusqlite"[..], 1));
        assert_eq!(
            theirs.save(&key(1), b"two", 1, NOW + 100.0, NOW).unwrap(),
            SaveOutcome::Saved { version: 2 }
        );
        assert_eq!(
            ours.save(&key(1), b"stale", 1, NOW + 100.0, NOW).unwrap(),
            SaveOutcome::Conflict
        );
        let k = key(3);
        rt.block_on(
            sqlx::query(
                "INSERT INTO pyramid_sessions (key, data, version, expires_at) VALUES (?1, x'00', 5, ?2)",
            )
            .bind(k.as_str())
            .bind(NOW as i64 + 100)
            .execute(&pool),
        )
        .unwrap();
        let r = ours.load(&k, NOW).unwrap().unwrap();
        assert_eq!((r.data.as_slice(), r.version), (&[0u8][..], 5));
        assert_eq!(r.expires_at.as_secs_f64(), (NOW as i64 + 100) as f64);
        let name: String = rt
            .block_on(sqlx::query_scalar("SELECT name FROM users").fetch_one(&pool))
            .unwrap();
        assert_eq!(name, "ada");
    }

    /// `from_pool` runs no DDL: on a database without the table every call fails, and
    /// after the application's own migration (`SCHEMA`) it works.
    #[test]
    fn sqlx_sqlite_store_from_pool() {
        use pyramid_session::store::sqlx_sqlite::SCHEMA;
        let dir = servers::TempDir::new("sqlx-sqlite-from-pool");
        let rt = runtime();
        let pool = pool(&rt, &dir);
        let store = BlockOn {
            store: SqlxSqliteStore::from_pool(pool.clone()),
            rt: rt.handle().clone(),
        };
        assert!(store.load(&key(1), NOW).is_err(), "no table yet");
        rt.block_on(sqlx::raw_sql(SCHEMA).execute(&pool)).unwrap();
        contract(&store);
    }
}

#[cfg(feature = "sqlx-postgres")]
mod sqlx_postgres_store {
    use super::servers::PostgresServer;
    use super::*;
    use pyramid_session::store::SqlxPostgresStore;
    use sqlx::postgres::PgPoolOptions;
    use sqlx::{Connection, PgPool};

    /// A fresh database on the private cluster, and the application's pool on it.
    fn pool(rt: &tokio::runtime::Runtime, server: &PostgresServer, name: &str) -> PgPool {
        rt.block_on(async {
            let mut admin = sqlx::PgConnection::connect(&server.url()).await.unwrap();
            sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
            PgPoolOptions::new()
                .max_connections(8)
                .connect(&server.url_for(name))
                .await
                .unwrap()
        })
    }

    #[test]
    fn sqlx_postgres_store_contract() {
        let server = PostgresServer::start();
        let rt = runtime();
        let pool = pool(&rt, &server, "sqlx_contract");
        let store = blocking(&rt, SqlxPostgresStore::new(pool.clone()));
        contract(&store);
        assert!(store
            .create(&key(7), b"old", NOW + 1.0, NOW)
            .unwrap()
            .is_created());
        assert_eq!(rt.block_on(store.store.sweep(NOW + 2.0)).unwrap(), 1);
        assert_eq!(rt.block_on(store.store.sweep(f64::NAN)).unwrap(), 0);
        // A second store on the same pool (another part of the app) finds the table.
        let again = blocking(&rt, SqlxPostgresStore::new(pool));
        assert_eq!(again.load(&key(7), NOW).unwrap(), None);
    }

    #[test]
    fn sqlx_postgres_store_concurrent_increments() {
        let server = PostgresServer::start();
        let rt = runtime();
        let pool = pool(&rt, &server, "sqlx_increments");
        let store = blocking(&rt, SqlxPostgresStore::new(pool));
        assert_eq!(concurrent_increments(Arc::new(store)), 2000);
    }

    /// The sqlx store and the tokio-postgres store serve one table: each reads and
    /// compare-and-sets what the other wrote.
    #[cfg(feature = "postgres")]
    #[test]
    fn sqlx_postgres_store_shares_the_table() {
        use pyramid_session::store::postgres::DEFAULT_TIMEOUT;
        use pyramid_session::store::AsyncPostgresStore;
        let server = PostgresServer::start();
        let rt = runtime();
        let pool = pool(&rt, &server, "sqlx_shared");
        let ours = blocking(&rt, SqlxPostgresStore::new(pool));
        let theirs = blocking(
            &rt,
            AsyncPostgresStore::connect(&server.url_for("sqlx_shared"), DEFAULT_TIMEOUT),
        );
        assert!(ours
            .create(&key(1), b"from sqlx", NOW + 100.0, NOW)
            .unwrap()
            .is_created());
        let r = theirs.load(&key(1), NOW).unwrap().unwrap();
        assert_eq!((r.data.as_slice(), r.version), (&b"from sqlx"[..], 1));
        assert_eq!(
            theirs.save(&key(1), b"two", 1, NOW + 100.0, NOW).unwrap(),
            SaveOutcome::Saved { version: 2 }
        );
        assert_eq!(
            ours.save(&key(1), b"stale", 1, NOW + 100.0, NOW).unwrap(),
            SaveOutcome::Conflict
        );
        assert_eq!(ours.load(&key(1), NOW).unwrap().unwrap().data, b"two");
    }

    /// `from_pool` runs no DDL; a stopped server is a typed `Unavailable`/`Timeout`
    /// within the store's timeout, never a hang.
    #[test]
    fn sqlx_postgres_store_from_pool_and_failures() {
        use pyramid_session::server::StoreErrorKind;
        let server = PostgresServer::start();
        let rt = runtime();
        let pool = pool(&rt, &server, "sqlx_from_pool");
        let store = BlockOn {
            store: SqlxPostgresStore::from_pool(pool.clone())
                .with_timeout(std::time::Duration::from_millis(500)),
            rt: rt.handle().clone(),
        };
        assert!(store.load(&key(1), NOW).is_err(), "no table yet");
        rt.block_on(sqlx::raw_sql(pyramid_session::store::sqlx_postgres::SCHEMA).execute(&pool))
            .unwrap();
        contract(&store);
        server.stop();
        let started = std::time::Instant::now();
        let err = store.load(&key(1), NOW).unwrap_err();
        assert!(
            matches!(
                err.kind,
                StoreErrorKind::Unavailable | StoreErrorKind::Timeout
            ),
            "{err:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
