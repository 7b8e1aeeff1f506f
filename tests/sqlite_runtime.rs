//! SQLite behind the axum layer must never stall the async runtime: while another
//! connection holds the database's write lock, requests that do not touch the session
//! still answer at once, and the blocked session request gets a 503 after the store's
//! bounded busy timeout.
// Test harness code times its own waits; the crate under test does not.
#![allow(clippy::disallowed_methods)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod servers;

use axum::routing::get;
use axum::Router;
use pyramid_session::integrations::axum::{Session, SessionError, SessionLayer};
use pyramid_session::server::{IdCookieFormat, ServerConfig, StoreExt};
use pyramid_session::store::SqliteStore;
use pyramid_session::SessionConfig;
use serde_json::json;
use servers::TempDir;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// GET `url` with an optional cookie: (status, first `Set-Cookie` pair, body).
fn get_url(agent: &ureq::Agent, url: &str, cookie: Option<&str>) -> (u16, Option<String>, String) {
    let mut request = agent.get(url);
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    let response = request.call().unwrap();
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    let body = response.into_body().read_to_string().unwrap_or_default();
    (status, cookie, body)
}

const BUSY_TIMEOUT: Duration = Duration::from_millis(1500);

#[test]
fn locked_sqlite_does_not_stall_other_requests() {
    let dir = TempDir::new("sqlite-runtime");
    let path = dir.0.join("sessions.db");
    let store = SqliteStore::open(&path)
        .unwrap()
        .with_busy_timeout(BUSY_TIMEOUT);
    let config = ServerConfig::new(
        SessionConfig::secure("s").build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap();
    let app = Router::new()
        .route(
            "/set",
            get(|s: Session| async move {
                let n = s.get::<u64>("n").await?.unwrap_or(0);
                s.insert("n", json!(n + 1)).await?;
                Ok::<_, SessionError>("ok")
            }),
        )
        .layer(SessionLayer::server(config, store));

    // One worker thread: anything that blocks it stops the whole server.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, app).await });

    let agent = agent();
    let (status, cookie, _) = get_url(&agent, &format!("{base}/set"), None);
    assert_eq!(status, 200);
    let cookie = cookie.expect("a session cookie");

    // Another process takes the write lock (readers still proceed in WAL mode).
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let blocked = {
        let (agent, url, done) = (agent.clone(), format!("{base}/set"), done.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            let (status, set_cookie, body) = get_url(&agent, &url, Some(&cookie));
            done.store(true, Ordering::SeqCst);
            (status, set_cookie, body, started.elapsed())
        })
    };
    // Let the session request reach the store and wait on the lock.
    std::thread::sleep(Duration::from_millis(300));

    let started = Instant::now();
    let (status, _, _) = get_url(&agent, &format!("{base}/no-such-route"), None);
    let latency = started.elapsed();
    let still_pending = !done.load(Ordering::SeqCst);
    eprintln!("404 answered in {latency:?} (session request still pending: {still_pending})");
    assert_eq!(status, 404);
    assert!(
        still_pending,
        "the 404 must answer while the session request waits on the lock"
    );
    // The target is 100 ms (measured: a few ms). The bound asserted here is a
    // third of the busy timeout, so that a loaded CI machine cannot fail it while a
    // blocked runtime (which waits the whole busy timeout) always does.
    assert!(
        latency < BUSY_TIMEOUT / 3,
        "the 404 took {latency:?}: the runtime was blocked"
    );

    let (status, set_cookie, body, elapsed) = blocked.join().unwrap();
    eprintln!("blocked session request: {status} after {elapsed:?}: {body}");
    assert_eq!(status, 503, "{body}");
    assert_eq!(set_cookie, None, "no cookie for a failed write");
    assert!(
        elapsed >= BUSY_TIMEOUT && elapsed < BUSY_TIMEOUT * 2,
        "the busy wait is bounded by the configured timeout: {elapsed:?}"
    );
    assert!(!body.contains("rusqlite"), "{body}");

    // Lock released: the session works again.
    locker.execute_batch("ROLLBACK").unwrap();
    let (status, _, _) = get_url(&agent, &format!("{base}/set"), None);
    assert_eq!(status, 200);
    drop(rt);
}

const NOW: f64 = 1_700_000_000.5;

fn key(n: u64) -> pyramid_session::server::StoreKey {
    pyramid_session::server::SessionId::parse(&format!("runtime-{n}"))
        .unwrap()
        .store_key()
}

#[test]
fn queued_calls_share_one_bounded_wait() {
    // Calls queued behind a call that waits on the lock must not add up their waits:
    // each call as a whole is bounded by the busy timeout.
    let dir = TempDir::new("sqlite-runtime");
    let path = dir.0.join("q.db");
    let timeout = Duration::from_millis(400);
    let store = SqliteStore::open(&path).unwrap().with_busy_timeout(timeout);
    assert_eq!(store.busy_timeout(), timeout);
    assert!(store
        .create(&key(1), b"x", NOW + 100.0, NOW)
        .unwrap()
        .is_created());
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                let result = store.touch(&key(1), NOW + 200.0, NOW);
                (result, started.elapsed())
            })
        })
        .collect();
    for call in calls {
        let (result, elapsed) = call.join().unwrap();
        eprintln!("queued call: {result:?} after {elapsed:?}");
        let err = result.unwrap_err();
        assert_eq!(
            err.kind,
            pyramid_session::server::StoreErrorKind::Timeout,
            "{err}"
        );
        assert!(
            elapsed < timeout * 2,
            "a queued call waited {elapsed:?} (bound {timeout:?})"
        );
    }
    locker.execute_batch("ROLLBACK").unwrap();
    assert!(store.touch(&key(1), NOW + 200.0, NOW).unwrap().is_touched());
}

#[test]
fn async_sqlite_concurrent_increments() {
    use pyramid_session::driver;
    use pyramid_session::server::Pending;
    use pyramid_session::OsRandom;
    let dir = TempDir::new("sqlite-runtime");
    let store = SqliteStore::open(dir.0.join("inc.db")).unwrap();
    let config = Arc::new(
        ServerConfig::new(
            SessionConfig::secure("s").build().unwrap(),
            IdCookieFormat::PyramidSessionRedis,
        )
        .unwrap()
        .with_max_retries(100_000),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let count = rt.block_on(async {
        let mut s = driver::open_async(&store, &config, Pending::start(&config, None, NOW))
            .await
            .unwrap();
        s.insert("count", json!(0));
        let cookie = driver::finish_async(&store, &config, &mut s, false, &mut OsRandom)
            .await
            .unwrap()
            .unwrap();
        let cookie = cookie.split(';').next().unwrap().to_string();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (store, config, cookie) = (store.clone(), config.clone(), cookie.clone());
                tokio::spawn(async move {
                    for _ in 0..50 {
                        let pending = Pending::start(&config, Some(cookie.as_bytes()), NOW + 1.0);
                        let mut s = driver::open_async(&store, &config, pending).await.unwrap();
                        assert!(!s.is_new());
                        s.modify("count", |n| {
                            Some(json!(n.and_then(|v| v.as_u64()).unwrap_or(0) + 1))
                        });
                        driver::finish_async(&store, &config, &mut s, false, &mut OsRandom)
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let pending = Pending::start(&config, Some(cookie.as_bytes()), NOW + 2.0);
        let mut s = driver::open_async(&store, &config, pending).await.unwrap();
        s.get("count").and_then(|v| v.as_u64()).unwrap()
    });
    assert_eq!(count, 200);
}

#[test]
fn async_sqlite_outside_tokio_runs_inline() {
    use pyramid_session::server::{AsyncStore, CreateOutcome, OpResult, StoreOp};
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let store = SqliteStore::open_in_memory().unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let k = key(1);
    let create = AsyncStore::execute(
        &store,
        StoreOp::Create {
            key: Some(k),
            data: b"x",
            expires_at: (NOW + 1.0).into(),
            now: NOW.into(),
        },
    );
    assert!(matches!(
        std::pin::pin!(create).poll(&mut cx),
        Poll::Ready(Ok(OpResult::Created(CreateOutcome::Created { version: 1 })))
    ));
    let load = AsyncStore::execute(
        &store,
        StoreOp::Load {
            key: k,
            now: NOW.into(),
        },
    );
    let loaded = std::pin::pin!(load).poll(&mut cx);
    match loaded {
        Poll::Ready(Ok(OpResult::Loaded(Some(r)))) => assert_eq!(r.data, b"x"),
        other => panic!("{other:?}"),
    }
}
