//! The tower layer without axum: over `tower::service_fn` with `String` and
//! `http_body_util::Full<Bytes>` bodies, and on a real hyper 1 server (request body
//! `hyper::body::Incoming`) driven over HTTP. The handler takes the session from the
//! request extensions. CubicWeb logins on `String` bodies, the remote address from a
//! configured source.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use pyramid_session::authtkt::cubicweb::CubicWebSettings;
use pyramid_session::authtkt::DomainStyle;
use pyramid_session::integrations::tower::{Auth, AuthConfig, Session, SessionError, SessionLayer};
use pyramid_session::server::{
    AsyncStore, BoxFuture, IdCookieFormat, OpResult, ServerConfig, StoreError, StoreErrorKind,
    StoreOp,
};
use pyramid_session::settings::PyramidSettings;
use pyramid_session::store::MemoryStore;
use pyramid_session::SessionConfig;
use serde_json::{json, Value};
use tower::{service_fn, Layer, ServiceExt};

fn frozen() -> f64 {
    1_700_000_000.25
}

fn server_config() -> ServerConfig {
    ServerConfig::new(
        SessionConfig::secure("s").build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap()
}

/// The application, on any request body: the session from the extensions, the answer a
/// plain `String`, the error response the handler's own.
async fn route<B>(request: Request<B>) -> (StatusCode, String) {
    let session = request
        .extensions()
        .get::<Session>()
        .cloned()
        .expect("the layer put the session in the extensions");
    let answer: Result<String, SessionError> = async {
        Ok(match request.uri().path() {
            "/set" => {
                session.insert("a", json!(1)).await?;
                "ok".to_string()
            }
            "/get" => session
                .get::<Value>("a")
                .await?
                .map(|v| v.to_string())
                .unwrap_or_default(),
            "/incr" => {
                let bump =
                    |n: Option<&Value>| Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1));
                session.modify("n", bump).await?;
                session.save().await?;
                session.get("n").await?.unwrap_or(json!(0)).to_string()
            }
            "/logout" => {
                session.invalidate().await?;
                "bye".to_string()
            }
            _ => "no session".to_string(),
        })
    }
    .await;
    match answer {
        Ok(text) => (StatusCode::OK, text),
        Err(e) => (e.status(), e.json_body()),
    }
}

async fn string_app(request: Request<String>) -> Result<Response<String>, Infallible> {
    let (status, text) = route(request).await;
    let mut response = Response::new(text);
    *response.status_mut() = status;
    Ok(response)
}

async fn full_app<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, text) = route(request).await;
    let mut response = Response::new(Full::from(text));
    *response.status_mut() = status;
    Ok(response)
}

fn header(response: &Response<impl Sized>, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn get(uri: &str, cookie: Option<&str>) -> Request<String> {
    let mut request = Request::builder().uri(uri);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.body(String::new()).unwrap()
}

#[tokio::test]
async fn string_bodies_cookie_mode_as_in_axum() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let layer = SessionLayer::cookie(config).with_clock(frozen);
    let app = layer.layer(service_fn(string_app));

    let response = app.clone().oneshot(get("/set", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The cookie tests/axum_layer.rs expects: Pyramid's own, byte for byte.
    assert_eq!(
        header(&response, "set-cookie"),
        ["session=4v0IyFcbgeVNQOQ8Tlv2YwZThB-jrYUMvS_OTMoEPrCxdUEDzX2R67WSqr_Ufqwm6hfSxGcau7E1AhDmkvn1mVsxNzAwMDAwMDAwLCAxNzAwMDAwMDAwLjI1LCB7ImEiOiAxfV0; Path=/; SameSite=Lax"]
    );
    assert_eq!(header(&response, "vary"), ["Cookie"]);
    assert_eq!(header(&response, "cache-control"), ["private"]);
    let cookie = header(&response, "set-cookie")[0]
        .split(';')
        .next()
        .unwrap()
        .to_string();

    let response = app
        .clone()
        .oneshot(get("/get", Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(header(&response, "vary"), ["Cookie"]);
    assert_eq!(response.into_body(), "1");

    let response = app.oneshot(get("/static", Some(&cookie))).await.unwrap();
    assert!(header(&response, "vary").is_empty() && header(&response, "set-cookie").is_empty());
    assert_eq!(response.into_body(), "no session");
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
async fn full_bodies_store_failure_is_a_json_503_without_cookie() {
    let app = SessionLayer::server(server_config(), Down).layer(service_fn(full_app));
    // The handler answered 200; its write failed after it: the layer's 503 replaces it,
    // its body made with `Full::from(String)`.
    let request = Request::builder()
        .uri("/set")
        .body(Full::<Bytes>::default())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(header(&response, "set-cookie").is_empty());
    assert_eq!(header(&response, "content-type"), ["application/json"]);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#"{"error":"session store unavailable"}"#);
}

/// A plain hyper 1 server (no axum) with the layer, on a free loopback port.
fn serve(layer: SessionLayer) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let service = layer.layer(service_fn(full_app::<Incoming>));
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let service = TowerToHyperService::new(service.clone());
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// One GET: status, `Set-Cookie` values (name=value only), body.
fn fetch(agent: &ureq::Agent, url: &str, cookie: Option<&str>) -> (u16, Vec<String>, String) {
    let mut request = agent.get(url);
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    let mut response = request.call().unwrap();
    let set: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect();
    let body = response.body_mut().read_to_string().unwrap();
    (response.status().as_u16(), set, body)
}

#[test]
fn on_a_real_hyper_server_server_mode_counts_and_logout_revokes() {
    let addr = serve(SessionLayer::server(server_config(), MemoryStore::new()));
    let agent = agent();
    let url = |path: &str| format!("http://{addr}{path}");

    let (status, set, body) = fetch(&agent, &url("/incr"), None);
    assert_eq!((status, body.as_str(), set.len()), (200, "1", 1));
    let cookie = set[0].clone();
    for expected in 2..=4 {
        let (_, _, body) = fetch(&agent, &url("/incr"), Some(&cookie));
        assert_eq!(body, expected.to_string());
    }
    let (_, _, body) = fetch(&agent, &url("/logout"), Some(&cookie));
    assert_eq!(body, "bye");
    // The old cookie names a removed record: a fresh session.
    let (_, _, body) = fetch(&agent, &url("/incr"), Some(&cookie));
    assert_eq!(body, "1");
}

#[test]
fn on_a_real_hyper_server_cookie_mode_round_trips() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let addr = serve(SessionLayer::cookie(config));
    let agent = agent();
    let (status, set, _) = fetch(&agent, &format!("http://{addr}/set"), None);
    assert_eq!((status, set.len()), (200, 1));
    let (_, _, body) = fetch(&agent, &format!("http://{addr}/get"), Some(&set[0]));
    assert_eq!(body, "1");
}

/// The login routes, `Auth` from the extensions.
async fn auth_app(request: Request<String>) -> Result<Response<String>, Infallible> {
    let auth = request
        .extensions()
        .get::<Auth>()
        .cloned()
        .expect("with_cubicweb_auth put the Auth in the extensions");
    let answer: Result<String, SessionError> = async {
        Ok(match request.uri().path() {
            "/login" => {
                let login = auth.login(5, Some(false)).await?;
                json!({ "update_login_time": login.update_login_time }).to_string()
            }
            "/logout" => {
                auth.logout().await?;
                "bye".to_string()
            }
            _ => json!({ "userid": auth.userid().await? }).to_string(),
        })
    }
    .await;
    Ok(match answer {
        Ok(text) => Response::new(text),
        Err(e) => {
            let mut response = Response::new(e.json_body());
            *response.status_mut() = e.status();
            response
        }
    })
}

fn from(uri: &str, ip: &str, cookies: &[String]) -> Request<String> {
    let mut request = Request::builder()
        .uri(uri)
        .header("host", "example.com")
        .header("x-real-ip", ip);
    if !cookies.is_empty() {
        request = request.header("cookie", cookies.join("; "));
    }
    request.body(String::new()).unwrap()
}

#[tokio::test]
async fn cubicweb_logins_with_the_remote_address_of_a_source() {
    let settings = PyramidSettings::from_pairs([
        ("cubicweb.session.secret", "sess-secret"),
        (
            "cubicweb.auth.authtkt.session.secret",
            "authtkt-session-secret",
        ),
        (
            "cubicweb.auth.authtkt.persistent.secret",
            "authtkt-persistent-secret",
        ),
        ("cubicweb.auth.authtkt.session.secure", "no"),
        ("cubicweb.auth.authtkt.persistent.secure", "no"),
        ("cubicweb.auth.authtkt.session.include_ip", "yes"),
    ]);
    let auth = CubicWebSettings::from_settings(&settings)
        .unwrap()
        .build(DomainStyle::Pyramid1)
        .unwrap();
    // The proxy's header, read from the request's head.
    let config = AuthConfig::new(auth).with_remote_addr(|head| {
        let ip = head.headers().get("x-real-ip")?.to_str().ok()?;
        Some(ip.to_string())
    });
    let layer = SessionLayer::cookie(SessionConfig::pyramid1("sess-secret").build().unwrap())
        .with_clock(frozen)
        .with_cubicweb_auth(config);
    assert!(format!("{layer:?}").contains("cubicweb_auth: true"));
    let app = layer.layer(service_fn(auth_app));

    let response = app
        .clone()
        .oneshot(from("/login", "203.0.113.7", &[]))
        .await
        .unwrap();
    let set_cookie = header(&response, "set-cookie");
    let names: Vec<&str> = set_cookie
        .iter()
        .map(|h| h.split('=').next().unwrap())
        .collect();
    assert_eq!(names, ["auth_tkt", "auth_tkt", "auth_tkt", "session"]);
    assert!(
        set_cookie[1].contains("; Domain=example.com; "),
        "{set_cookie:?}"
    );
    assert_eq!(response.into_body(), r#"{"update_login_time":5}"#);
    let cookies: Vec<String> = [&set_cookie[0], &set_cookie[3]]
        .iter()
        .map(|h| h.split(';').next().unwrap().to_string())
        .collect();

    for (ip, userid) in [("203.0.113.7", "5"), ("198.51.100.1", "null")] {
        let response = app
            .clone()
            .oneshot(from("/whoami", ip, &cookies))
            .await
            .unwrap();
        assert_eq!(
            response.into_body(),
            format!(r#"{{"userid":{userid}}}"#),
            "from {ip}"
        );
    }

    let response = app
        .clone()
        .oneshot(from("/logout", "203.0.113.7", &cookies))
        .await
        .unwrap();
    let set_cookie = header(&response, "set-cookie");
    assert_eq!(
        set_cookie
            .iter()
            .filter(|h| h.contains("auth_tkt=;"))
            .count(),
        6
    );
    let session = set_cookie
        .iter()
        .find(|h| h.starts_with("session="))
        .unwrap();
    let after = [session.split(';').next().unwrap().to_string()];
    let response = app
        .oneshot(from("/whoami", "203.0.113.7", &after))
        .await
        .unwrap();
    assert_eq!(response.into_body(), r#"{"userid":null}"#);
}
