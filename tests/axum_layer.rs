//! The axum layer in process: cookie mode against Pyramid's cookie, `set_on_exception`,
//! the clock read once per request, and store failures mapped to 503.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use pyramid_session::integrations::axum::{Session, SessionError, SessionLayer};
use pyramid_session::server::AsyncStore;
use pyramid_session::server::{
    BoxFuture, IdCookieFormat, OpResult, ServerConfig, StoreError, StoreErrorKind, StoreOp,
};
use pyramid_session::store::MemoryStore;
use pyramid_session::SessionConfig;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use tower::ServiceExt;

fn frozen() -> f64 {
    1_700_000_000.25
}

async fn call(
    app: &Router,
    uri: &str,
    cookie: Option<&str>,
) -> (StatusCode, Vec<String>, Vec<String>, String) {
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
    let header = |name: &str| -> Vec<String> {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    };
    let (set_cookie, vary) = (header("set-cookie"), header("vary"));
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        set_cookie,
        vary,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route(
            "/set",
            get(|s: Session| async move {
                s.insert("a", json!(1)).await?;
                Ok::<_, SessionError>("ok")
            }),
        )
        .route(
            "/get",
            get(|s: Session| async move {
                Ok::<_, SessionError>(
                    s.get::<Value>("a")
                        .await?
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                )
            }),
        )
        .route(
            "/fail",
            get(|s: Session| async move {
                s.insert("a", json!(2)).await?;
                Ok::<_, SessionError>((StatusCode::INTERNAL_SERVER_ERROR, "boom"))
            }),
        )
        .route("/static", get(|| async { "no session" }))
        .layer(layer)
}

#[tokio::test]
async fn cookie_mode_matches_pyramid() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let app = app(SessionLayer::cookie(config).with_clock(frozen));
    let (status, set, vary, _) = call(&app, "/set", None).await;
    assert_eq!(status, StatusCode::OK);
    // Byte-identical to Pyramid's SignedCookieSessionFactory('seekrit') at this time.
    assert_eq!(
        set,
        ["session=4v0IyFcbgeVNQOQ8Tlv2YwZThB-jrYUMvS_OTMoEPrCxdUEDzX2R67WSqr_Ufqwm6hfSxGcau7E1AhDmkvn1mVsxNzAwMDAwMDAwLCAxNzAwMDAwMDAwLjI1LCB7ImEiOiAxfV0; Path=/; SameSite=Lax"]
    );
    assert_eq!(vary, ["Cookie"]);
    let cookie = set[0].split(';').next().unwrap().to_string();
    let (_, set, vary, body) = call(&app, "/get", Some(&cookie)).await;
    assert_eq!(body, "1");
    assert!(set.is_empty(), "same second: no reissue");
    assert_eq!(vary, ["Cookie"], "the session was read");
    let (_, set, vary, _) = call(&app, "/static", Some(&cookie)).await;
    assert!(
        set.is_empty() && vary.is_empty(),
        "untouched sessions add no header"
    );
}

#[tokio::test]
async fn set_on_exception_is_honoured() {
    let on = SessionConfig::pyramid("seekrit").build().unwrap();
    let (status, set, _, _) = call(&app(SessionLayer::cookie(on)), "/fail", None).await;
    assert_eq!((status, set.len()), (StatusCode::INTERNAL_SERVER_ERROR, 1));
    let off = SessionConfig::pyramid("seekrit")
        .set_on_exception(false)
        .build()
        .unwrap();
    let (status, set, _, _) = call(&app(SessionLayer::cookie(off)), "/fail", None).await;
    assert_eq!((status, set.len()), (StatusCode::INTERNAL_SERVER_ERROR, 0));
}

/// A store that is down.
struct Down;

impl AsyncStore for Down {
    fn execute<'a>(&'a self, _: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        Box::pin(async {
            Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "connection refused",
            ))
        })
    }
}

#[tokio::test]
async fn store_failures_are_503_without_cookie() {
    let config = ServerConfig::new(
        SessionConfig::secure("s").build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap();
    let app = app(SessionLayer::server(config, Down));
    // A new visitor's write fails at the end of the request: the handler's 200 becomes a 503.
    let (status, set, _, body) = call(&app, "/set", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(set.is_empty());
    assert!(body.contains("\"error\""), "{body}");
    assert!(
        !body.contains("connection refused"),
        "store internals stay out of the answer: {body}"
    );
    // Without a cookie nothing is loaded, so a read-only request works.
    let (status, _, _, body) = call(&app, "/get", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
}

#[tokio::test]
async fn handlers_without_the_layer_get_500() {
    let app: Router = Router::new().route(
        "/",
        get(|s: Session| async move { s.get::<Value>("a").await.map(|_| "") }),
    );
    let response = app
        .oneshot(Request::builder().uri("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

/// A memory store whose first `create` fails (a blip), then works.
#[derive(Default)]
struct FirstCreateFails {
    inner: MemoryStore,
    failed: AtomicBool,
}

impl AsyncStore for FirstCreateFails {
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        if matches!(op, StoreOp::Create { .. }) && !self.failed.swap(true, Ordering::SeqCst) {
            return Box::pin(async { Err(StoreError::new(StoreErrorKind::Timeout, "blip")) });
        }
        AsyncStore::execute(&self.inner, op)
    }
}

#[tokio::test]
async fn a_503_for_a_failed_early_save_commits_nothing_and_sends_no_cookie() {
    let config = ServerConfig::new(
        SessionConfig::secure("s").build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap();
    let store = std::sync::Arc::new(FirstCreateFails::default());
    let app = Router::new()
        .route(
            "/save-early",
            get(|s: Session| async move {
                s.insert("a", json!(1)).await?;
                s.save().await?;
                Ok::<_, SessionError>("saved")
            }),
        )
        .layer(SessionLayer::server(config, store.clone()));
    let (status, set, _, body) = call(&app, "/save-early", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        set.is_empty(),
        "a 503 for a store failure carries no cookie: {set:?}"
    );
    assert!(
        store.inner.is_empty(),
        "the write reported as failed was not committed afterwards"
    );
    // The next request works normally.
    let (status, set, _, _) = call(&app, "/save-early", None).await;
    assert_eq!((status, set.len()), (StatusCode::OK, 1));
    assert_eq!(store.inner.len(), 1);
}

#[tokio::test]
async fn a_handler_told_its_save_failed_keeps_its_own_answer() {
    let config = ServerConfig::new(
        SessionConfig::secure("s").build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap();
    let store = std::sync::Arc::new(FirstCreateFails::default());
    let app = Router::new()
        .route(
            "/try",
            get(|s: Session| async move {
                s.insert("a", json!(1)).await?;
                Ok::<_, SessionError>(match s.save().await {
                    Ok(()) => (StatusCode::OK, "saved"),
                    Err(_) => (StatusCode::CONFLICT, "try again"),
                })
            }),
        )
        .layer(SessionLayer::server(config, store.clone()));
    let (status, set, _, body) = call(&app, "/try", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::CONFLICT, "try again"));
    assert!(set.is_empty());
    assert!(store.inner.is_empty(), "nothing written after the failure");
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct User {
    name: String,
    groups: Vec<String>,
}

#[tokio::test]
async fn typed_values_flash_peeking_and_the_session_id() {
    let config = ServerConfig::new(
        SessionConfig::secure("s").build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap();
    let app: Router = Router::new()
        .route(
            "/login",
            get(|s: Session| async move {
                let user = User {
                    name: "ada".into(),
                    groups: vec!["users".into()],
                };
                s.insert("user", &user).await?;
                s.insert("visits", 1u32).await?;
                s.flash(json!("hello"), "").await?;
                Ok::<_, SessionError>("ok")
            }),
        )
        .route(
            "/read",
            get(|s: Session| async move {
                let user: Option<User> = s.get("user").await?;
                let visits = s.get::<u32>("visits").await?;
                let peeked = s.peek_flash("").await?;
                let again = s.peek_flash("").await?;
                let id = s.id().await?.map(|id| id.as_str().len());
                let accessed = s.accessed().await?;
                Ok::<_, SessionError>(
                    json!({"user": user.map(|u| u.name), "visits": visits,
                           "peeked": peeked, "again": again, "id_len": id,
                           "accessed": accessed})
                    .to_string(),
                )
            }),
        )
        .route(
            "/wrong",
            get(|s: Session| async move { s.get::<u32>("user").await.map(|_| "no") }),
        )
        .layer(SessionLayer::server(config, MemoryStore::new()).with_clock(frozen));
    let (status, cookies, _, _) = call(&app, "/login", None).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = cookies[0].split(';').next().unwrap().to_string();
    let (status, _, _, body) = call(&app, "/read", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["user"], "ada");
    assert_eq!(body["visits"], 1);
    assert_eq!(body["peeked"], json!(["hello"]));
    assert_eq!(
        body["again"],
        json!(["hello"]),
        "peeking leaves the messages"
    );
    assert_eq!(body["id_len"], 43);
    assert_eq!(body["accessed"], 1_700_000_000.25);
    // A stored value of another type: a typed error, answered 500 without internals.
    let (status, cookies, _, body) = call(&app, "/wrong", Some(&cookie)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(cookies.is_empty());
    assert_eq!(body, r#"{"error":"session value of an unexpected type"}"#);
}

/// "Remember me" through the layer: the handler's `set_expiry` gives the cookie its own
/// `Max-Age`, and the session outlives the default idle timeout but not its own. The
/// layer holds one `Arc` of the store, the test another (`Arc<S>` is a store).
#[tokio::test]
async fn remember_me_outlives_the_default_timeout() {
    use pyramid_session::policy::Expiry;
    use pyramid_session::time::{ManualClock, UnixTime};
    use std::sync::Arc;
    use std::time::Duration;

    let clock = Arc::new(ManualClock::new(UnixTime::from(1_700_000_000.0)));
    let store = Arc::new(MemoryStore::new());
    let config = ServerConfig::new(
        SessionConfig::secure("s3cret").build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap();
    let app = Router::new()
        .route(
            "/login",
            get(|s: Session, uri: axum::http::Uri| async move {
                s.regenerate_id().await?;
                s.insert("user", "ada").await?;
                if uri.query() == Some("remember") {
                    let month = Duration::from_secs(30 * 86_400);
                    s.set_expiry(Some(Expiry::OnInactivity(month))).await?;
                }
                Ok::<_, SessionError>(format!("{:?}", s.expiry().await?))
            }),
        )
        .route(
            "/who",
            get(|s: Session| async move {
                Ok::<_, SessionError>(s.get::<String>("user").await?.unwrap_or_default())
            }),
        )
        .layer(SessionLayer::server(config, store.clone()).with_clock(clock.clone()));

    let (_, set, _, body) = call(&app, "/login?remember", None).await;
    assert_eq!(body, "Some(OnInactivity(2592000s))");
    assert!(set[0].contains("; Max-Age=2592000;"), "{set:?}");
    let remembered = set[0].split(';').next().unwrap().to_string();
    let (_, set, _, _) = call(&app, "/login", None).await;
    assert!(!set[0].contains("Max-Age"), "{set:?}");
    let default = set[0].split(';').next().unwrap().to_string();
    assert_eq!(store.len(), 2);

    // Two hours later: past the default 1200 s, within the month.
    clock.advance(Duration::from_secs(7200));
    assert_eq!(call(&app, "/who", Some(&remembered)).await.3, "ada");
    assert_eq!(call(&app, "/who", Some(&default)).await.3, "");
    // Past the month since the last use: gone too.
    clock.advance(Duration::from_secs(30 * 86_400 + 1));
    assert_eq!(call(&app, "/who", Some(&remembered)).await.3, "");
}
