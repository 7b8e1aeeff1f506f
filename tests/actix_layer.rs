//! The actix-web middleware on a real `HttpServer` (a free loopback port, its own actix
//! system in a thread), driven over HTTP with ureq: cookie mode (Pyramid's cookie byte
//! for byte, read back, a tampered cookie ignored, `set_on_exception`), server mode over
//! `MemoryStore` (login, increments, logout revokes), store failures (503 with the JSON
//! error and no `Set-Cookie`, for a write after the handler and for an early `save`),
//! `Vary` / `Cache-Control`, concurrent increments on one session, and CubicWeb logins
//! (`SessionMiddleware::with_cubicweb_auth`, the `Auth` extractor: login, the peer
//! address of an `include_ip` ticket, logout, the old cookies replayed).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpResponse, HttpServer};
use pyramid_session::authtkt::cubicweb::CubicWebSettings;
use pyramid_session::authtkt::{AuthTktHelper, DomainStyle, HashAlg, UserId};
use pyramid_session::integrations::actix::{
    Auth, AuthConfig, Session, SessionError, SessionMiddleware,
};
use pyramid_session::server::{
    AsyncStore, BoxFuture, IdCookieFormat, OpResult, ServerConfig, StoreError, StoreErrorKind,
    StoreOp,
};
use pyramid_session::settings::PyramidSettings;
use pyramid_session::store::MemoryStore;
use pyramid_session::SessionConfig;
use serde_json::{json, Value};

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

type Answer = Result<HttpResponse, SessionError>;

async fn set(s: Session) -> Answer {
    s.insert("a", json!(1)).await?;
    Ok(HttpResponse::Ok().body("ok"))
}

async fn read(s: Session) -> Answer {
    let a = s
        .get::<Value>("a")
        .await?
        .map(|v| v.to_string())
        .unwrap_or_default();
    Ok(HttpResponse::Ok().body(a))
}

async fn fail(s: Session) -> Answer {
    s.insert("a", json!(2)).await?;
    Ok(HttpResponse::InternalServerError().body("boom"))
}

async fn login(s: Session, user: web::Path<String>) -> Answer {
    s.regenerate_id().await?;
    s.new_csrf_token().await?;
    s.insert("user", json!(user.into_inner())).await?;
    Ok(HttpResponse::Ok().body("welcome"))
}

async fn whoami(s: Session) -> Answer {
    let user = s.get("user").await?;
    let name = user.as_ref().and_then(Value::as_str).unwrap_or("anonymous");
    Ok(HttpResponse::Ok().body(name.to_string()))
}

async fn increment(s: Session) -> Answer {
    s.modify("count", |n| {
        Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))
    })
    .await?;
    // Write now, so the answer is the stored count even when concurrent requests raced.
    s.save().await?;
    let count = s.get("count").await?.unwrap_or(json!(0));
    Ok(HttpResponse::Ok().body(count.to_string()))
}

async fn logout(s: Session) -> Answer {
    s.invalidate().await?;
    Ok(HttpResponse::Ok().body("bye"))
}

async fn save_early(s: Session) -> Answer {
    s.insert("a", json!(1)).await?;
    s.save().await?;
    Ok(HttpResponse::Ok().body("saved"))
}

async fn flash(s: Session) -> Answer {
    s.flash(json!("hello"), "").await?;
    Ok(HttpResponse::Ok().body("flashed"))
}

async fn pop(s: Session) -> Answer {
    let messages = s.pop_flash("").await?;
    Ok(HttpResponse::Ok().json(messages))
}

async fn cached(s: Session) -> Answer {
    let _ = s.get::<Value>("a").await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Vary", "Accept-Encoding"))
        .body("cached"))
}

async fn auth_whoami(auth: Auth) -> Answer {
    Ok(HttpResponse::Ok().json(json!({ "userid": auth.userid().await? })))
}

async fn auth_login(auth: Auth, eid: web::Path<i64>) -> Answer {
    let login = auth.login(eid.into_inner(), Some(false)).await?;
    Ok(HttpResponse::Ok().json(json!({ "update_login_time": login.update_login_time })))
}

async fn auth_logout(auth: Auth) -> Answer {
    auth.logout().await?;
    Ok(HttpResponse::Ok().body("bye"))
}

async fn plain() -> HttpResponse {
    HttpResponse::Ok().body("no session")
}

/// An actix-web server on a free loopback port, stopped on drop.
struct Server {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(sessions: SessionMiddleware) -> Server {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(sessions.clone())
                        .route("/set", web::get().to(set))
                        .route("/get", web::get().to(read))
                        .route("/fail", web::get().to(fail))
                        .route("/login/{user}", web::post().to(login))
                        .route("/whoami", web::get().to(whoami))
                        .route("/increment", web::post().to(increment))
                        .route("/logout", web::post().to(logout))
                        .route("/save-early", web::get().to(save_early))
                        .route("/flash", web::post().to(flash))
                        .route("/pop", web::get().to(pop))
                        .route("/cached", web::get().to(cached))
                        .route("/static", web::get().to(plain))
                        .route("/auth/whoami", web::get().to(auth_whoami))
                        .route("/auth/login/{eid}", web::post().to(auth_login))
                        .route("/auth/logout", web::post().to(auth_logout))
                })
                .workers(4)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .unwrap();
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).unwrap();
                server.await.unwrap();
            });
        });
        let (addr, handle) = rx.recv().unwrap();
        Server {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        actix_web::rt::System::new().block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a test looks at in an answer.
struct Reply {
    status: u16,
    /// The `Set-Cookie` values, whole.
    set_cookie: Vec<String>,
    vary: Vec<String>,
    cache_control: Vec<String>,
    content_type: Option<String>,
    body: String,
}

impl Reply {
    /// The first cookie as a `Cookie:` header sends it back.
    fn cookie(&self) -> String {
        self.set_cookie[0].split(';').next().unwrap().to_string()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn send(agent: &ureq::Agent, method: &str, url: &str, cookie: Option<&str>) -> Reply {
    let mut response = match (method, cookie) {
        ("GET", None) => agent.get(url).call(),
        ("GET", Some(c)) => agent.get(url).header("Cookie", c).call(),
        ("POST", None) => agent.post(url).send_empty(),
        ("POST", Some(c)) => agent.post(url).header("Cookie", c).send_empty(),
        _ => unreachable!(),
    }
    .unwrap();
    let all = |name: &str| -> Vec<String> {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    };
    let (set_cookie, vary, cache_control) = (all("set-cookie"), all("vary"), all("cache-control"));
    let content_type = all("content-type").into_iter().next();
    Reply {
        status: response.status().as_u16(),
        set_cookie,
        vary,
        cache_control,
        content_type,
        body: response.body_mut().read_to_string().unwrap(),
    }
}

fn get(agent: &ureq::Agent, url: &str, cookie: Option<&str>) -> Reply {
    send(agent, "GET", url, cookie)
}

fn post(agent: &ureq::Agent, url: &str, cookie: Option<&str>) -> Reply {
    send(agent, "POST", url, cookie)
}

#[test]
fn cookie_mode_matches_pyramid_and_ignores_a_tampered_cookie() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let server = Server::start(SessionMiddleware::cookie(config).with_clock(frozen));
    let agent = agent();

    let reply = get(&agent, &server.url("/set"), None);
    assert_eq!(reply.status, 200);
    // Byte-identical to Pyramid's SignedCookieSessionFactory('seekrit') at this time, as
    // the axum layer's (tests/axum_layer.rs).
    assert_eq!(
        reply.set_cookie,
        ["session=4v0IyFcbgeVNQOQ8Tlv2YwZThB-jrYUMvS_OTMoEPrCxdUEDzX2R67WSqr_Ufqwm6hfSxGcau7E1AhDmkvn1mVsxNzAwMDAwMDAwLCAxNzAwMDAwMDAwLjI1LCB7ImEiOiAxfV0; Path=/; SameSite=Lax"]
    );
    assert_eq!(reply.vary, ["Cookie"]);
    assert_eq!(reply.cache_control, ["private"]);
    let cookie = reply.cookie();

    let reply = get(&agent, &server.url("/get"), Some(&cookie));
    assert_eq!(reply.body, "1");
    assert!(reply.set_cookie.is_empty(), "same second: no reissue");
    assert_eq!(reply.vary, ["Cookie"], "the session was read");
    assert_eq!(reply.cache_control, ["private"]);

    // One character of the signature changed: the cookie is ignored, the session new.
    let mut tampered = cookie.clone().into_bytes();
    let at = "session=".len() + 3;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let reply = get(&agent, &server.url("/get"), Some(&tampered));
    assert_eq!((reply.status, reply.body.as_str()), (200, ""));
    assert!(
        reply.set_cookie.is_empty(),
        "reading a new session writes nothing"
    );

    // Other cookies around ours are fine.
    let reply = get(
        &agent,
        &server.url("/get"),
        Some(&format!("theme=dark; {cookie}; lang=fr")),
    );
    assert_eq!(reply.body, "1");

    let reply = get(&agent, &server.url("/static"), Some(&cookie));
    assert_eq!(reply.body, "no session");
    assert!(
        reply.set_cookie.is_empty() && reply.vary.is_empty() && reply.cache_control.is_empty(),
        "untouched sessions add no header"
    );
}

#[test]
fn set_on_exception_is_honoured() {
    let on = SessionConfig::pyramid("seekrit").build().unwrap();
    let server = Server::start(SessionMiddleware::cookie(on));
    let reply = get(&agent(), &server.url("/fail"), None);
    assert_eq!((reply.status, reply.set_cookie.len()), (500, 1));
    drop(server);

    let off = SessionConfig::pyramid("seekrit")
        .set_on_exception(false)
        .build()
        .unwrap();
    let server = Server::start(SessionMiddleware::cookie(off));
    let reply = get(&agent(), &server.url("/fail"), None);
    assert_eq!((reply.status, reply.set_cookie.len()), (500, 0));
    assert_eq!(reply.vary, ["Cookie"]);
}

#[test]
fn session_headers_keep_the_handlers_own() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let server = Server::start(SessionMiddleware::cookie(config));
    let reply = get(&agent(), &server.url("/cached"), None);
    assert_eq!(
        reply.cache_control,
        ["no-store"],
        "an explicit Cache-Control stays"
    );
    let vary: Vec<&str> = reply
        .vary
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    assert_eq!(vary, ["Accept-Encoding", "Cookie"]);
}

#[test]
fn server_mode_login_increments_flash_and_logout_revokes() {
    let store = Arc::new(MemoryStore::new());
    let server = Server::start(SessionMiddleware::server(server_config(), store.clone()));
    let agent = agent();

    let anonymous = get(&agent, &server.url("/whoami"), None);
    assert_eq!(anonymous.body, "anonymous");
    assert!(anonymous.set_cookie.is_empty());
    assert!(store.is_empty(), "reading creates no record");

    let reply = post(&agent, &server.url("/login/ada"), None);
    assert_eq!((reply.status, reply.body.as_str()), (200, "welcome"));
    assert_eq!(reply.vary, ["Cookie"]);
    assert_eq!(reply.cache_control, ["private"]);
    let cookie = reply.cookie();
    assert_eq!(store.len(), 1);

    assert_eq!(
        get(&agent, &server.url("/whoami"), Some(&cookie)).body,
        "ada"
    );
    for expected in 1..=3 {
        let reply = post(&agent, &server.url("/increment"), Some(&cookie));
        assert_eq!(reply.body, expected.to_string());
    }
    post(&agent, &server.url("/flash"), Some(&cookie));
    assert_eq!(
        get(&agent, &server.url("/pop"), Some(&cookie)).body,
        r#"["hello"]"#
    );
    assert_eq!(get(&agent, &server.url("/pop"), Some(&cookie)).body, "[]");

    let reply = post(&agent, &server.url("/logout"), Some(&cookie));
    assert_eq!(reply.body, "bye");
    assert!(store.is_empty(), "logout removed the record");
    // Replaying the old cookie is anonymous, and counts from scratch.
    assert_eq!(
        get(&agent, &server.url("/whoami"), Some(&cookie)).body,
        "anonymous"
    );
    let reply = post(&agent, &server.url("/increment"), Some(&cookie));
    assert_eq!(reply.body, "1");
    assert_ne!(reply.cookie(), cookie, "a new session gets a new id");
}

/// A memory store that can be switched off (every operation fails), or made to fail its
/// first `create` only (a blip).
#[derive(Default)]
struct Flaky {
    inner: MemoryStore,
    down: AtomicBool,
    first_create_fails: AtomicBool,
}

impl AsyncStore for Flaky {
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        let blip = matches!(op, StoreOp::Create { .. })
            && self.first_create_fails.swap(false, Ordering::SeqCst);
        if blip || self.down.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(StoreError::new(
                    StoreErrorKind::Unavailable,
                    "connection refused by sessions-db.internal:6379",
                ))
            });
        }
        AsyncStore::execute(&self.inner, op)
    }
}

fn assert_store_error(reply: &Reply) {
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(
        reply.set_cookie.is_empty(),
        "a 503 for a store failure carries no cookie: {:?}",
        reply.set_cookie
    );
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(reply.body, r#"{"error":"session store unavailable"}"#);
}

#[test]
fn a_failing_store_gives_503_without_cookie() {
    let store = Arc::new(Flaky::default());
    let server = Server::start(SessionMiddleware::server(server_config(), store.clone()));
    let agent = agent();

    let reply = post(&agent, &server.url("/login/ada"), None);
    let cookie = reply.cookie();

    store.down.store(true, Ordering::SeqCst);
    // A new visitor's write fails after the handler: its 200 becomes the layer's 503.
    assert_store_error(&post(&agent, &server.url("/login/bob"), None));
    // A known visitor's load fails inside the handler: the handler's SessionError.
    assert_store_error(&get(&agent, &server.url("/whoami"), Some(&cookie)));
    // Without a cookie nothing is loaded, so a read-only request works.
    let reply = get(&agent, &server.url("/whoami"), None);
    assert_eq!((reply.status, reply.body.as_str()), (200, "anonymous"));

    store.down.store(false, Ordering::SeqCst);
    assert_eq!(
        get(&agent, &server.url("/whoami"), Some(&cookie)).body,
        "ada"
    );
    assert_eq!(store.inner.len(), 1, "bob's session was never written");
}

#[test]
fn a_failed_early_save_commits_nothing_and_sends_no_cookie() {
    let store = Arc::new(Flaky::default());
    store.first_create_fails.store(true, Ordering::SeqCst);
    let server = Server::start(SessionMiddleware::server(server_config(), store.clone()));
    let agent = agent();
    assert_store_error(&get(&agent, &server.url("/save-early"), None));
    assert!(
        store.inner.is_empty(),
        "the write reported as failed was not committed afterwards"
    );
    // The next request works normally.
    let reply = get(&agent, &server.url("/save-early"), None);
    assert_eq!((reply.status, reply.set_cookie.len()), (200, 1));
    assert_eq!(store.inner.len(), 1);
}

#[test]
fn concurrent_increments_on_one_session_lose_nothing() {
    const CLIENTS: usize = 4;
    const EACH: usize = 25;
    let store = Arc::new(MemoryStore::new());
    let server = Server::start(SessionMiddleware::server(server_config(), store.clone()));
    let cookie = post(&agent(), &server.url("/login/ada"), None).cookie();

    let url = server.url("/increment");
    let mut answers: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (url, cookie) = (&url, &cookie);
                scope.spawn(move || {
                    let agent = agent();
                    (0..EACH)
                        .map(|_| {
                            let reply = post(&agent, url, Some(cookie));
                            assert_eq!(reply.status, 200, "{}", reply.body);
                            reply.body.parse::<u64>().unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    answers.sort_unstable();
    let total = (CLIENTS * EACH) as u64;
    assert_eq!(
        answers,
        (1..=total).collect::<Vec<_>>(),
        "each increment saw its own committed count"
    );
    let reply = post(&agent(), &url, Some(&cookie));
    assert_eq!(reply.body, (total + 1).to_string());
}

#[test]
fn handlers_without_the_middleware_get_500() {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(|| App::new().route("/", web::get().to(whoami)))
                .workers(1)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .unwrap();
            let addr = server.addrs()[0];
            let server = server.run();
            tx.send((addr, server.handle())).unwrap();
            server.await.unwrap();
        });
    });
    let (addr, handle) = rx.recv().unwrap();
    let reply = get(&agent(), &format!("http://{addr}/"), None);
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR.as_u16());
    assert_eq!(reply.body, r#"{"error":"session layer missing"}"#);
    actix_web::rt::System::new().block_on(handle.stop(false));
    thread.join().unwrap();
}

/// CubicWeb's policies as the vectors' flows set them (tests/axum_auth.rs), the session
/// ticket bound to the remote address.
fn include_ip_auth() -> AuthConfig {
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
    AuthConfig::new(auth).with_groups(|eid| async move {
        (eid == 5).then(|| vec!["managers".to_string(), "users".to_string()])
    })
}

/// A browser's cookie jar: one slot per name, the last `Set-Cookie` wins, an empty value
/// deletes.
fn keep(jar: &mut Vec<(String, String)>, reply: &Reply) {
    for h in &reply.set_cookie {
        let (name, value) = h.split(';').next().unwrap().split_once('=').unwrap();
        jar.retain(|(n, _)| n != name);
        if !value.is_empty() {
            jar.push((name.to_string(), value.to_string()));
        }
    }
}

fn header(jar: &[(String, String)]) -> String {
    let pairs: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
    pairs.join("; ")
}

#[test]
fn cubicweb_logins_login_authenticated_logout_anonymous() {
    let config = ServerConfig::new(
        SessionConfig::cubicweb("sess-secret").build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap();
    let sessions = SessionMiddleware::server(config, MemoryStore::new())
        .with_clock(frozen)
        .with_cubicweb_auth(include_ip_auth());
    let server = Server::start(sessions);
    let agent = agent();
    let mut jar = Vec::new();

    let reply = get(&agent, &server.url("/auth/whoami"), None);
    assert_eq!(reply.body, r#"{"userid":null}"#);
    assert!(reply.set_cookie.is_empty(), "{:?}", reply.set_cookie);

    let reply = post(&agent, &server.url("/auth/login/5"), None);
    assert_eq!(reply.body, r#"{"update_login_time":5}"#);
    let names: Vec<&str> = reply
        .set_cookie
        .iter()
        .map(|h| h.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["auth_tkt", "auth_tkt", "auth_tkt", "session"],
        "the login cookie's three domains, then the session cookie"
    );
    assert_eq!(reply.vary, ["Cookie"]);
    keep(&mut jar, &reply);

    let reply = get(&agent, &server.url("/auth/whoami"), Some(&header(&jar)));
    assert_eq!(reply.body, r#"{"userid":5}"#, "authenticated");

    // The ticket was made for the peer address (127.0.0.1): the same ticket made for
    // another address is nobody.
    let session = jar.iter().find(|(n, _)| n == "session").unwrap().1.clone();
    let ticket = &jar.iter().find(|(n, _)| n == "auth_tkt").unwrap().1;
    let token = ticket.split('!').nth(1).unwrap().to_string();
    let helper = AuthTktHelper::builder("authtkt-session-secret", DomainStyle::Pyramid1)
        .hashalg(HashAlg::SHA512)
        .include_ip(true)
        .build()
        .unwrap();
    for (ip, userid) in [("192.0.2.10", "null"), ("127.0.0.1", "5")] {
        let forged = helper
            .ticket_value(ip, frozen(), &UserId::Int(5), &[&token])
            .unwrap();
        let cookies = format!("auth_tkt={forged}; session={session}");
        let reply = get(&agent, &server.url("/auth/whoami"), Some(&cookies));
        assert_eq!(
            reply.body,
            format!(r#"{{"userid":{userid}}}"#),
            "made for {ip}"
        );
    }

    let stolen = header(&jar);
    let reply = post(&agent, &server.url("/auth/logout"), Some(&header(&jar)));
    assert_eq!((reply.status, reply.body.as_str()), (200, "bye"));
    let deletions = reply
        .set_cookie
        .iter()
        .filter(|h| h.contains("auth_tkt=;"))
        .count();
    assert_eq!(deletions, 6, "{:?}", reply.set_cookie);
    keep(&mut jar, &reply);
    assert!(jar.iter().all(|(n, _)| n != "auth_tkt"));

    let reply = get(&agent, &server.url("/auth/whoami"), Some(&header(&jar)));
    assert_eq!(
        reply.body, r#"{"userid":null}"#,
        "anonymous after the logout"
    );
    // The ticket left the stored session: the cookies from before are anonymous too.
    let reply = get(&agent, &server.url("/auth/whoami"), Some(&stolen));
    assert_eq!(reply.body, r#"{"userid":null}"#, "replayed");

    // Without `with_cubicweb_auth`, `Auth` is refused as axum refuses it.
    drop(server);
    let server = Server::start(SessionMiddleware::server(
        server_config(),
        MemoryStore::new(),
    ));
    let reply = get(&agent, &server.url("/auth/whoami"), None);
    assert_eq!(reply.status, 500);
    assert_eq!(reply.body, r#"{"error":"authentication layer missing"}"#);
}
