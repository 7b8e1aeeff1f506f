//! Redis key expiry must not depend on the application host's clock agreeing with the
//! Redis server's: an app clock that lags by more than the session lifetime must not
//! make every record vanish at once. The key's TTL is relative (the span the app
//! computed), and the app-side deadline check uses the app's own clock.
// Test harness code times its own waits and real servers; the crate under test does not.
#![allow(clippy::disallowed_methods)]

mod common;
mod servers;

use std::time::Duration;

use pyramid_session::server::{SaveOutcome, SessionId, StoreExt, StoreKey};
use pyramid_session::store::redis::DEFAULT_TIMEOUT;
use pyramid_session::store::{AsyncRedisStore, RedisStore};
use servers::RedisServer;

const SPAN: f64 = 60.0;

fn wall_clock() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn key(n: u8) -> StoreKey {
    SessionId::parse(&format!("clock-{n}")).unwrap().store_key()
}

/// The key's PTTL must be about `SPAN` seconds.
fn assert_ttl_about_span(server: &RedisServer, redis_key: &str, what: &str) {
    let ttl = server.pttl(redis_key);
    assert!(
        ttl > (SPAN as i64 - 5) * 1000 && ttl <= SPAN as i64 * 1000,
        "{what}: PTTL {ttl} ms, expected about {SPAN} s"
    );
}

/// create, save and touch with an app clock lagging by twice the record's lifetime.
fn lagging_clock(
    server: &RedisServer,
    prefix: &str,
    create: impl Fn(&StoreKey, &[u8], f64, f64) -> bool,
    save: impl Fn(&StoreKey, &[u8], u64, f64, f64) -> SaveOutcome,
    touch: impl Fn(&StoreKey, f64, f64) -> bool,
    load: impl Fn(&StoreKey, f64) -> Option<pyramid_session::server::Record>,
) {
    let now = wall_clock() - 2.0 * SPAN;
    let k = key(1);
    let redis_key = format!("{prefix}{}", k.as_str());

    assert!(create(&k, b"one", now + SPAN, now));
    let r = load(&k, now).expect("created record loads at the app's time");
    assert_eq!((r.data.as_slice(), r.version), (&b"one"[..], 1));
    assert_ttl_about_span(server, &redis_key, "after create");

    assert_eq!(
        save(&k, b"two", 1, now + SPAN, now),
        SaveOutcome::Saved { version: 2 }
    );
    assert_eq!(load(&k, now).expect("saved record loads").data, b"two");
    assert_ttl_about_span(server, &redis_key, "after save");

    assert!(touch(&k, now + SPAN, now));
    assert_eq!(load(&k, now).expect("touched record loads").version, 2);
    assert_ttl_about_span(server, &redis_key, "after touch");

    // The app-side deadline still applies, at the app's clock.
    assert_eq!(load(&k, now + SPAN + 1.0), None);

    // Fractions of a millisecond round up: the key never expires before the deadline.
    let k2 = key(2);
    let redis_key2 = format!("{prefix}{}", k2.as_str());
    assert!(create(&k2, b"short", now + 0.0001, now));
    let ttl = server.pttl(&redis_key2);
    assert!((0..=1).contains(&ttl) || ttl == -2, "{ttl}");
}

#[test]
fn redis_lagging_app_clock_keeps_records() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url(), "lag:", DEFAULT_TIMEOUT).unwrap();
    lagging_clock(
        &server,
        "lag:",
        |k, d, e, n| store.create(k, d, e, n).unwrap().is_created(),
        |k, d, v, e, n| store.save(k, d, v, e, n).unwrap(),
        |k, e, n| store.touch(k, e, n).unwrap().is_touched(),
        |k, n| store.load(k, n).unwrap(),
    );
}

#[test]
fn async_redis_lagging_app_clock_keeps_records() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let store = rt
        .block_on(AsyncRedisStore::connect(
            &server.url(),
            "alag:",
            Duration::from_secs(2),
        ))
        .unwrap();
    let store = common::BlockOn {
        store,
        rt: rt.handle().clone(),
    };
    lagging_clock(
        &server,
        "alag:",
        |k, d, e, n| store.create(k, d, e, n).unwrap().is_created(),
        |k, d, v, e, n| store.save(k, d, v, e, n).unwrap(),
        |k, e, n| store.touch(k, e, n).unwrap().is_touched(),
        |k, n| store.load(k, n).unwrap(),
    );
}

#[test]
fn redis_app_clock_ahead_keeps_the_span() {
    // The other direction: an app clock ahead of Redis by more than the span must not
    // make keys live longer than the span either.
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url(), "ahead:", DEFAULT_TIMEOUT).unwrap();
    let now = wall_clock() + 10.0 * SPAN;
    let k = key(3);
    assert!(store
        .create(&k, b"x", now + SPAN, now)
        .unwrap()
        .is_created());
    assert_ttl_about_span(&server, &format!("ahead:{}", k.as_str()), "clock ahead");
}
