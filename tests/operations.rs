//! Operations (feature `tracing`): the layer reports refused cookies, lost
//! compare-and-sets and store failures as `tracing` events — reasons and kinds, never a
//! secret, a cookie or an id — and an application renders the layer's error answers.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use pyramid_session::integrations::axum::{ErrorPage, Session, SessionError, SessionLayer};
use pyramid_session::server::{
    AsyncStore, BoxFuture, IdCookieFormat, OpResult, ServerConfig, StoreError, StoreErrorKind,
    StoreOp,
};
use pyramid_session::store::MemoryStore;
use pyramid_session::SessionConfig;
use serde_json::json;
use tower::ServiceExt;

/// A subscriber that keeps each event's fields as text.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(format!("{} ", event.metadata().level()));
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A store whose every operation fails.
struct Down;

impl AsyncStore for Down {
    fn execute<'a>(&'a self, _: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        Box::pin(async {
            Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "connection refused by 10.0.0.7:6379",
            ))
        })
    }
}

async fn call(app: &Router, uri: &str, cookie: Option<&str>) -> (StatusCode, String, String) {
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
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route("/bare", get(|| async { "bare" }))
        .route(
            "/set",
            get(|s: Session| async move {
                s.insert("a", json!(1)).await?;
                Ok::<_, SessionError>("ok")
            }),
        )
        .layer(layer)
}

#[tokio::test]
async fn events_and_error_pages() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let config = || {
        ServerConfig::new(
            SessionConfig::secure("s").build().unwrap(),
            IdCookieFormat::CubicWeb,
        )
        .unwrap()
    };

    // A refused cookie: the reason, not the cookie.
    let cookie_mode = app(SessionLayer::cookie(
        SessionConfig::pyramid("s").build().unwrap(),
    ));
    let forged = "session=Zm9yZ2VkLWNvb2tpZS12YWx1ZQ";
    call(&cookie_mode, "/set", Some(forged)).await;
    let server_mode = app(SessionLayer::server(config(), MemoryStore::new()));
    call(&server_mode, "/set", Some(forged)).await;

    // A failing store: its kind and message for the operator, the category for the
    // client; with an HTML application, its own page.
    let down = app(SessionLayer::server(config(), Down).with_error_page(ErrorPage::html));
    let (status, content_type, body) = call(&down, "/set", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(
        body.contains("503 Service Unavailable") && body.contains("session store unavailable"),
        "{body}"
    );
    assert!(
        !body.contains("10.0.0.7"),
        "no store internals in the page: {body}"
    );
    // The JSON default stays the default.
    let json_down = app(SessionLayer::server(config(), Down));
    let (status, content_type, body) = call(&json_down, "/set", None).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "application/json")
    );
    assert_eq!(body, r#"{"error":"session store unavailable"}"#);

    let events = recorder.0.lock().unwrap().clone();
    let text = events.join("\n");
    assert!(
        events
            .iter()
            .any(|e| e.contains("session cookie refused") && e.contains("Signature")),
        "{text}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.contains("session id cookie refused") && e.contains("refused=1")),
        "{text}"
    );
    assert!(
        events.iter().any(|e| e.starts_with("WARN")
            && e.contains("Unavailable")
            && e.contains("session store operation failed")),
        "{text}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("ERROR") && e.contains("status=503")),
        "{text}"
    );
    assert!(
        !text.contains("Zm9yZ2Vk"),
        "no cookie value in the events: {text}"
    );
}

#[tokio::test]
async fn lost_compare_and_sets_are_reported() {
    // Two requests on one session through two layers (two instances: one process's
    // requests commit together instead of racing), the first saving in between the
    // second's load and save: the second's save loses and retries (a `Wait` op).
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let store = Arc::new(MemoryStore::new());
    let config = ServerConfig::new(
        SessionConfig::secure("s").build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap();
    let app = || -> Router {
        Router::new()
            .route(
                "/login",
                get(|s: Session| async move {
                    s.insert("n", json!(0)).await?;
                    Ok::<_, SessionError>("ok")
                }),
            )
            .route(
                "/race",
                get(|s: Session| async move {
                    // Loads, then lets a concurrent writer in before this request saves.
                    s.get::<u64>("n").await?;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    s.modify("n", |n| {
                        Some(json!(n.and_then(|v| v.as_u64()).unwrap_or(0) + 1))
                    })
                    .await?;
                    Ok::<_, SessionError>("ok")
                }),
            )
            .layer(SessionLayer::server(config.clone(), store.clone()))
    };
    let (app_a, app_b) = (app(), app());
    let response = app_a
        .clone()
        .oneshot(
            Request::builder()
                .uri("/login")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let race = |app: Router, cookie: String| async move {
        app.oneshot(
            Request::builder()
                .uri("/race")
                .header("cookie", cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
    };
    let (a, b) = tokio::join!(race(app_a, cookie.clone()), race(app_b, cookie));
    assert_eq!((a, b), (StatusCode::OK, StatusCode::OK));
    let text = recorder.0.lock().unwrap().join("\n");
    assert!(text.contains("lost a compare-and-set; retrying"), "{text}");
}

#[tokio::test]
async fn the_cookie_is_verified_on_first_use_only() {
    // A handler that never touches the session costs no signature check: a forged
    // cookie on such a route is not even looked at (no refusal reported), in either mode.
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let forged = "session=Zm9yZ2VkLWNvb2tpZS12YWx1ZQ";
    let server_config = ServerConfig::new(
        SessionConfig::secure("s").build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap();
    let apps = [
        app(SessionLayer::cookie(
            SessionConfig::pyramid("s").build().unwrap(),
        )),
        app(SessionLayer::server(server_config, MemoryStore::new())),
    ];
    for app in &apps {
        let (status, _, body) = call(app, "/bare", Some(forged)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "bare"));
    }
    let refusals = || {
        recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.contains("refused"))
            .count()
    };
    assert_eq!(refusals(), 0, "{:?}", recorder.0.lock().unwrap());
    for app in &apps {
        call(app, "/set", Some(forged)).await;
    }
    assert_eq!(refusals(), 2, "verified once the session is used");
}
