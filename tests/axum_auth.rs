//! CubicWeb's logins on a real axum server (`SessionLayer::with_cubicweb_auth`, the
//! `Auth` extractor), over TCP with a plain HTTP/1.1 client that sends the `Host` and
//! `Cookie` headers a browser would: in cookie mode (Pyramid 1's pickled
//! `SignedCookieSessionFactory`, CubicWeb's `default_session`) and in server mode (a
//! memory store): login → authenticated, reissue, logout → anonymous, old cookies
//! replayed after the logout, `include_ip` with the peer address, and the tickets and
//! session cookies the real pyramid 1.10.8 + CubicWeb 5.0.1 policies made
//! (`tests/data/authtkt_vectors.json`) answered byte for byte as Python answered them.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use axum::http::Uri;
use axum::routing::{get, post};
use axum::{Json, Router};
use pyramid_session::authtkt::cubicweb::CubicWebSettings;
use pyramid_session::authtkt::{AuthTktHelper, DomainStyle, HashAlg, UserId};
use pyramid_session::integrations::axum::{Auth, AuthConfig, Session, SessionError, SessionLayer};
use pyramid_session::server::{IdCookieFormat, ServerConfig};
use pyramid_session::settings::PyramidSettings;
use pyramid_session::store::MemoryStore;
use pyramid_session::time::{ManualClock, UnixTime};
use pyramid_session::SessionConfig;
use serde_json::{json, Value};

const T0: f64 = 1_700_000_000.25;

/// The settings of the vectors' flows.
const SETTINGS: [(&str, &str); 5] = [
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
];

fn auth_config(extra: &[(&str, &str)]) -> AuthConfig {
    let mut pairs = SETTINGS.to_vec();
    pairs.extend_from_slice(extra);
    let auth = CubicWebSettings::from_settings(&PyramidSettings::from_pairs(pairs))
        .unwrap()
        .build(DomainStyle::Pyramid1)
        .unwrap();
    AuthConfig::new(auth).with_groups(|eid| async move {
        match eid {
            5 => Some(vec!["managers".to_string(), "users".to_string()]),
            6 => Some(vec!["users".to_string()]),
            _ => None,
        }
    })
}

/// `eid=…&persistent=0|1` from the query string.
fn login_params(uri: &Uri) -> (i64, Option<bool>) {
    let mut eid = None;
    let mut persistent = None;
    for pair in uri.query().unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("eid", v)) => eid = v.parse().ok(),
            Some(("persistent", v)) => persistent = Some(v == "1"),
            _ => {}
        }
    }
    (eid.unwrap(), persistent)
}

fn app() -> Router {
    Router::new()
        .route(
            "/whoami",
            get(|auth: Auth| async move {
                Ok::<_, SessionError>(Json(json!({ "userid": auth.userid().await? })))
            }),
        )
        .route(
            "/principals",
            get(|auth: Auth| async move {
                let p = auth.principals().await?;
                let user = p.authenticated.map(|a| json!([a.userid, a.groups]));
                Ok::<_, SessionError>(Json(json!({ "userids": p.userids, "user": user })))
            }),
        )
        .route(
            "/login",
            post(|auth: Auth, uri: Uri| async move {
                let (eid, persistent) = login_params(&uri);
                let login = auth.login(eid, persistent).await?;
                Ok::<_, SessionError>(Json(
                    json!({ "update_login_time": login.update_login_time }),
                ))
            }),
        )
        .route(
            "/logout",
            post(|auth: Auth| async move {
                auth.logout().await?;
                Ok::<_, SessionError>("bye")
            }),
        )
        .route(
            "/csrf",
            get(|s: Session| async move { s.csrf_token().await }),
        )
}

struct Server {
    addr: SocketAddr,
    clock: Arc<ManualClock>,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    fn start(layer: SessionLayer) -> Server {
        let clock = Arc::new(ManualClock::new(UnixTime::from_secs_f64(T0)));
        let app = app().layer(layer.with_clock(clock.clone()));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
        Server {
            addr,
            clock,
            _rt: rt,
        }
    }

    fn at(&self, now: f64) -> &Server {
        self.clock.set(UnixTime::from_secs_f64(now));
        self
    }

    /// One request over a fresh connection, with `Host: example.com`.
    fn send(&self, method: &str, path: &str, cookie: Option<&str>) -> Reply {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\nContent-Length: 0\r\n"
        );
        if let Some(cookie) = cookie {
            request.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (k, v) = l.split_once(": ").unwrap();
                (k.to_ascii_lowercase(), v.to_string())
            })
            .collect();
        Reply {
            status,
            headers,
            body: body.to_string(),
        }
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn set_cookie(&self) -> Vec<String> {
        self.header_all("set-cookie")
    }
    fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn json(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.body);
        serde_json::from_str(&self.body).unwrap()
    }
    /// The `Set-Cookie` names, in order.
    fn names(&self) -> Vec<String> {
        self.set_cookie()
            .iter()
            .map(|h| h.split('=').next().unwrap().to_string())
            .collect()
    }
}

/// A browser's cookie jar, one slot per name (the last `Set-Cookie` wins; an empty value
/// deletes), as the vectors' generator keeps it.
#[derive(Clone, Default, Debug)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn update(&mut self, reply: &Reply) {
        for h in reply.set_cookie() {
            let (name, value) = h.split(';').next().unwrap().split_once('=').unwrap();
            let slot = self.0.iter().position(|(n, _)| n == name);
            match (value.is_empty(), slot) {
                (true, Some(i)) => {
                    self.0.remove(i);
                }
                (true, None) => {}
                (false, Some(i)) => self.0[i].1 = value.to_string(),
                (false, None) => self.0.push((name.to_string(), value.to_string())),
            }
        }
    }
    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }
}

/// Sends a request with the jar's cookies and keeps the answer's.
fn browse(server: &Server, jar: &mut Jar, method: &str, path: &str) -> Reply {
    let reply = server.send(method, path, jar.header().as_deref());
    jar.update(&reply);
    reply
}

fn cookie_layer() -> SessionLayer {
    SessionLayer::cookie(SessionConfig::pyramid1("sess-secret").build().unwrap())
}

fn server_layer() -> SessionLayer {
    let config = ServerConfig::new(
        SessionConfig::cubicweb("sess-secret").build().unwrap(),
        IdCookieFormat::CubicWeb,
    )
    .unwrap();
    SessionLayer::server(config, MemoryStore::new())
}

/// login → authenticated → reissue → logout → anonymous → the old cookies replayed.
/// Returns the userid the replay gets.
fn login_logout_replay(layer: SessionLayer, session_cookie: &str) -> Value {
    let server = Server::start(layer.with_cubicweb_auth(auth_config(&[])));
    let mut jar = Jar::default();

    let reply = browse(server.at(T0), &mut jar, "GET", "/whoami");
    assert_eq!(reply.json(), json!({ "userid": null }));
    assert!(reply.set_cookie().is_empty(), "{:?}", reply.set_cookie());

    let reply = browse(server.at(T0), &mut jar, "POST", "/login?eid=5&persistent=0");
    assert_eq!(reply.json(), json!({ "update_login_time": 5 }));
    assert_eq!(
        reply.names(),
        ["auth_tkt", "auth_tkt", "auth_tkt", session_cookie],
        "the login cookie's three domains, then the session cookie"
    );
    let set_cookie = reply.set_cookie();
    assert!(set_cookie[1].contains("; Domain=example.com; Path=/; HttpOnly; SameSite=Lax"));
    assert!(set_cookie[2].contains("; Domain=.example.com; "));
    assert!(reply.header_all("vary").contains(&"Cookie".to_string()));

    let reply = browse(server.at(T0 + 60.0), &mut jar, "GET", "/whoami");
    assert_eq!(reply.json(), json!({ "userid": 5 }));
    assert!(!reply.names().contains(&"auth_tkt".to_string()));
    let principals = browse(server.at(T0 + 61.0), &mut jar, "GET", "/principals").json();
    assert_eq!(
        principals,
        json!({ "userids": [5], "user": [5, ["managers", "users"]] })
    );

    // After 120 s the ticket is reissued, before the session cookie.
    let reply = browse(server.at(T0 + 121.0), &mut jar, "GET", "/whoami");
    assert_eq!(reply.json(), json!({ "userid": 5 }));
    let names = reply.names();
    assert_eq!(
        &names[..3],
        ["auth_tkt", "auth_tkt", "auth_tkt"],
        "{names:?}"
    );
    assert!(names[3..].iter().all(|n| n == session_cookie), "{names:?}");
    let stolen = jar.clone();

    // Logout: six deletions (both cookies, three domains each).
    let csrf_before = browse(server.at(T0 + 122.0), &mut jar, "GET", "/csrf").body;
    let reply = browse(server.at(T0 + 123.0), &mut jar, "POST", "/logout");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let deletions: Vec<String> = reply
        .set_cookie()
        .into_iter()
        .filter(|h| h.contains("auth_tkt=;"))
        .collect();
    assert_eq!(deletions.len(), 6, "{:?}", reply.set_cookie());
    assert!(!jar.has("auth_tkt") && !jar.has("pauth_tkt"));
    let csrf_after = browse(server.at(T0 + 124.0), &mut jar, "GET", "/csrf").body;
    assert_eq!(csrf_after.len(), 40);
    assert_ne!(csrf_before, csrf_after, "logout rotates the CSRF token");
    let reply = browse(server.at(T0 + 125.0), &mut jar, "GET", "/whoami");
    assert_eq!(reply.json(), json!({ "userid": null }));

    // Someone kept the cookies from before the logout.
    let mut replay = stolen;
    browse(server.at(T0 + 126.0), &mut replay, "GET", "/whoami").json()["userid"].clone()
}

#[test]
fn server_mode_login_logout_and_replay() {
    // The ticket left the stored session: the old cookies are anonymous.
    assert_eq!(login_logout_replay(server_layer(), "session"), Value::Null);
}

#[test]
fn cookie_mode_login_logout_and_replay() {
    // A cookie session cannot revoke: the old session cookie still holds the ticket,
    // and the replay logs back in, as with CubicWeb's default_session.
    assert_eq!(login_logout_replay(cookie_layer(), "session"), json!(5));
}

#[test]
fn persistent_and_both_logins() {
    let server = Server::start(server_layer().with_cubicweb_auth(auth_config(&[])));
    let mut jar = Jar::default();
    let reply = browse(server.at(T0), &mut jar, "POST", "/login?eid=6&persistent=1");
    assert_eq!(reply.names()[..3], ["pauth_tkt", "pauth_tkt", "pauth_tkt"]);
    assert!(reply.set_cookie()[0].contains("Max-Age=2592000"));
    let reply = browse(server.at(T0 + 1000.0), &mut jar, "GET", "/whoami");
    assert_eq!(reply.json(), json!({ "userid": 6 }));

    // Without `persistent`, both cookies; the session holds the persistent ticket.
    let mut jar = Jar::default();
    let reply = browse(server.at(T0), &mut jar, "POST", "/login?eid=5");
    assert_eq!(
        reply.names()[..6],
        [
            "auth_tkt",
            "auth_tkt",
            "auth_tkt",
            "pauth_tkt",
            "pauth_tkt",
            "pauth_tkt"
        ]
    );
    let reply = browse(server.at(T0 + 5.0), &mut jar, "GET", "/whoami");
    assert_eq!(reply.json(), json!({ "userid": 5 }));
    jar.0.retain(|(n, _)| n != "pauth_tkt");
    let reply = browse(server.at(T0 + 6.0), &mut jar, "GET", "/whoami");
    assert_eq!(reply.json(), json!({ "userid": null }), "auth_tkt alone");

    // An eid the groups lookup does not know is nobody.
    let mut jar = Jar::default();
    browse(
        server.at(T0),
        &mut jar,
        "POST",
        "/login?eid=77&persistent=0",
    );
    let reply = browse(server.at(T0 + 1.0), &mut jar, "GET", "/whoami");
    assert_eq!(reply.json(), json!({ "userid": null }));
}

#[test]
fn include_ip_hashes_the_peer_address() {
    let ip = [("cubicweb.auth.authtkt.session.include_ip", "yes")];
    let server = Server::start(cookie_layer().with_cubicweb_auth(auth_config(&ip)));
    let mut jar = Jar::default();
    browse(server.at(T0), &mut jar, "POST", "/login?eid=5&persistent=0");
    let reply = browse(server.at(T0 + 1.0), &mut jar, "GET", "/whoami");
    assert_eq!(reply.json(), json!({ "userid": 5 }), "made for 127.0.0.1");

    // The same ticket made for another address does not verify from this one.
    let (_, session) = jar.0.iter().find(|(n, _)| n == "session").unwrap().clone();
    let token = jar.0[0].1.split('!').nth(1).unwrap().to_string();
    let helper = AuthTktHelper::builder("authtkt-session-secret", DomainStyle::Pyramid1)
        .hashalg(HashAlg::SHA512)
        .include_ip(true)
        .build()
        .unwrap();
    let elsewhere = helper
        .ticket_value("192.0.2.10", T0, &UserId::Int(5), &[&token])
        .unwrap();
    let header = format!("auth_tkt={elsewhere}; session={session}");
    let reply = server.at(T0 + 2.0).send("GET", "/whoami", Some(&header));
    assert_eq!(reply.json(), json!({ "userid": null }));
    let here = helper
        .ticket_value("127.0.0.1", T0, &UserId::Int(5), &[&token])
        .unwrap();
    let header = format!("auth_tkt={here}; session={session}");
    let reply = server.at(T0 + 3.0).send("GET", "/whoami", Some(&header));
    assert_eq!(reply.json(), json!({ "userid": 5 }));
}

#[test]
fn auth_without_the_layer_is_an_error() {
    let server = Server::start(cookie_layer());
    let reply = server.send("GET", "/whoami", None);
    assert_eq!(reply.status, 500);
    assert_eq!(
        reply.body,
        json!({ "error": "authentication layer missing" }).to_string()
    );
}

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/authtkt_vectors.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The cookies the real pyramid 1.10.8 + CubicWeb 5.0.1 policies set at login (flow
/// `login_session_then_reissue_then_timeout` and `login_persistent_daily_reissue`),
/// sent to the Rust server: the same users, and the same `Set-Cookie` answers, byte for
/// byte, as Python gave to the same requests.
#[test]
fn python_made_tickets_are_accepted_and_answered_as_python() {
    let v = vectors();
    let flows = v["by_pyramid_version"]["1.10.8"]["policy_flows"]
        .as_array()
        .unwrap();
    let mut checked = 0;
    for (fid, layer) in [
        ("login_session_then_reissue_then_timeout", cookie_layer()),
        (
            "login_persistent_daily_reissue",
            SessionLayer::cookie(
                SessionConfig::pyramid1("sess-secret")
                    .timeout(None)
                    .build()
                    .unwrap(),
            ),
        ),
    ] {
        let flow = flows.iter().find(|f| f["id"] == fid).unwrap();
        let server = Server::start(layer.with_cubicweb_auth(auth_config(&[])));
        for step in flow["steps"].as_array().unwrap() {
            if step["path"] != "/whoami" || step["request_cookie_header"].is_null() {
                continue;
            }
            let cookie = step["request_cookie_header"].as_str().unwrap();
            let now = step["now"].as_f64().unwrap();
            let reply = server.at(now).send("GET", "/whoami", Some(cookie));
            assert_eq!(
                reply.json()["userid"],
                step["body"]["authenticated_userid"],
                "{fid}/{}",
                step["name"]
            );
            assert_eq!(
                reply.set_cookie(),
                strings(&step["response_set_cookie"]),
                "{fid}/{}",
                step["name"]
            );
            checked += 1;
        }
    }
    // auth_60s, auth_121s_reissue, auth_after_reissue_plus_1201; after_half_day,
    // after_one_day, after_40_days_since_reissue.
    assert_eq!(checked, 6);
}
