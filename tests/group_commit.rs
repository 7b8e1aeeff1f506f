//! Group commit: requests of one process that write the same server-mode session queue
//! behind each other and commit together, instead of racing through compare-and-set.
//! Every acknowledged change is stored exactly once, each request sees the state right
//! after its own change, a failure fails the whole batch without a cookie, and a client
//! that goes away does not strand the requests queued behind it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use pyramid_session::integrations::axum::{Session, SessionError, SessionLayer};
use pyramid_session::server::{
    AsyncStore, BoxFuture, IdCookieFormat, OpResult, SaveOutcome, ServerConfig, StoreError,
    StoreErrorKind, StoreOp,
};
use pyramid_session::store::MemoryStore;
use pyramid_session::SessionConfig;
use serde_json::json;
use tower::ServiceExt;

/// The memory store behind a network-like delay on every save, counting saves and lost
/// compare-and-sets; `down` fails the saves.
#[derive(Default)]
struct Slow {
    inner: MemoryStore,
    saves: AtomicUsize,
    conflicts: AtomicUsize,
    down: AtomicBool,
}

impl AsyncStore for Slow {
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        Box::pin(async move {
            let save = matches!(op, StoreOp::Save { .. });
            if save {
                tokio::time::sleep(Duration::from_millis(20)).await;
                self.saves.fetch_add(1, SeqCst);
                if self.down.load(SeqCst) {
                    return Err(StoreError::new(StoreErrorKind::Unavailable, "down"));
                }
            }
            let answer = AsyncStore::execute(&self.inner, op).await;
            if let Ok(OpResult::Saved(SaveOutcome::Conflict)) = answer {
                self.conflicts.fetch_add(1, SeqCst);
            }
            answer
        })
    }
}

fn config() -> ServerConfig {
    ServerConfig::new(
        SessionConfig::secure("group-commit-secret")
            .build()
            .unwrap(),
        IdCookieFormat::PyramidSessionRedis,
    )
    .unwrap()
}

fn app(store: Arc<Slow>) -> Router {
    Router::new()
        .route(
            "/login",
            get(|s: Session| async move {
                s.insert("n", 0).await?;
                Ok::<_, SessionError>("ok")
            }),
        )
        .route(
            "/incr",
            get(|s: Session| async move {
                s.modify("n", |n| {
                    Some(json!(n.and_then(|v| v.as_u64()).unwrap_or(0) + 1))
                })
                .await?;
                // Stored now, so the answer is the committed count.
                s.save().await?;
                Ok::<_, SessionError>(s.get::<u64>("n").await?.unwrap_or(0).to_string())
            }),
        )
        .route(
            "/read",
            get(|s: Session| async move {
                Ok::<_, SessionError>(s.get::<u64>("n").await?.unwrap_or(0).to_string())
            }),
        )
        .layer(SessionLayer::server(config(), store))
}

async fn call(app: &Router, uri: &str, cookie: Option<&str>) -> (StatusCode, bool, String) {
    let mut request = Request::builder().uri(uri);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let set_cookie = response.headers().contains_key("set-cookie");
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        set_cookie,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

async fn login(app: &Router) -> String {
    let response = app
        .clone()
        .oneshot(Request::get("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// `count` concurrent increments through `apps` (round robin); their answers, sorted.
async fn increments(apps: &[Router], cookie: &str, count: usize) -> Vec<u64> {
    let calls = (0..count).map(|i| {
        let app = apps[i % apps.len()].clone();
        let cookie = cookie.to_string();
        tokio::spawn(async move { call(&app, "/incr", Some(&cookie)).await })
    });
    let mut answers = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        let (status, _, body) = call.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        answers.push(body.parse().unwrap());
    }
    answers.sort_unstable();
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_session_commits_in_batches_without_a_lost_compare_and_set() {
    const REQUESTS: usize = 32;
    let store = Arc::new(Slow::default());
    let app = app(store.clone());
    let cookie = login(&app).await;
    let answers = increments(std::slice::from_ref(&app), &cookie, REQUESTS).await;
    assert_eq!(
        answers,
        (1..=REQUESTS as u64).collect::<Vec<_>>(),
        "each request sees the count right after its own increment"
    );
    assert_eq!(call(&app, "/read", Some(&cookie)).await.2, "32");
    assert_eq!(
        store.conflicts.load(SeqCst),
        0,
        "one process's requests never race each other"
    );
    let saves = store.saves.load(SeqCst);
    assert!(
        saves < REQUESTS / 2,
        "{saves} saves for {REQUESTS} queued increments: they commit together"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_still_meet_through_compare_and_set() {
    // Two layers on one store are two processes: their batches conflict, and the loser
    // replays its whole batch on the winner's state.
    const REQUESTS: usize = 40;
    let store = Arc::new(Slow::default());
    let apps = [app(store.clone()), app(store.clone())];
    let cookie = login(&apps[0]).await;
    let answers = increments(&apps, &cookie, REQUESTS).await;
    assert_eq!(answers, (1..=REQUESTS as u64).collect::<Vec<_>>());
    assert_eq!(call(&apps[1], "/read", Some(&cookie)).await.2, "40");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_fails_each_of_its_requests_without_a_cookie() {
    let store = Arc::new(Slow::default());
    let app = app(store.clone());
    let cookie = login(&app).await;
    store.down.store(true, SeqCst);
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let (app, cookie) = (app.clone(), cookie.clone());
            tokio::spawn(async move { call(&app, "/incr", Some(&cookie)).await })
        })
        .collect();
    for call in calls {
        let (status, set_cookie, body) = call.await.unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(!set_cookie, "no cookie for a write that was not stored");
    }
    store.down.store(false, SeqCst);
    assert_eq!(
        call(&app, "/read", Some(&cookie)).await.2,
        "0",
        "nothing of the failed batches was committed"
    );
    assert_eq!(call(&app, "/incr", Some(&cookie)).await.2, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_does_not_strand_the_queue() {
    let store = Arc::new(Slow::default());
    let app = app(store.clone());
    let cookie = login(&app).await;
    // The first request's future is dropped while its own save is on its way to the
    // store (before it got there: the store's delay comes first); the second, queued
    // behind it, is still answered, and stored once. The first client had no answer,
    // and its change went with its save.
    let first = {
        let (app, cookie) = (app.clone(), cookie.clone());
        tokio::spawn(async move {
            tokio::time::timeout(Duration::from_millis(5), call(&app, "/incr", Some(&cookie))).await
        })
    };
    tokio::time::sleep(Duration::from_millis(2)).await;
    let (status, _, body) = call(&app, "/incr", Some(&cookie)).await;
    assert!(first.await.unwrap().is_err(), "the first client gave up");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "1");
    assert_eq!(call(&app, "/read", Some(&cookie)).await.2, "1");
}
