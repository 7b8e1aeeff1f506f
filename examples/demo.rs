//! The demo web app: server-side sessions in a browser and a JSON API for scripts.
//!
//! ```text
//! cargo run --example demo -- [--port 8080]
//!     [--store memory|sqlite:PATH|redis://...|postgres://...|pyramid_session_redis+redis://...
//!              |cubicweb+sqlite:PATH|cubicweb+postgres://...]
//!     [--timeout SECONDS] [--secret-file PATH | --secret SECRET]
//!     [--ini PATH] [--base-url URL] [--cubicweb-db cubicweb+sqlite:PATH|cubicweb+postgres://...]
//!     [--data-dir PATH]
//! ```
//!
//! `--ini PATH` serves the sessions a Pyramid or CubicWeb `pyramid.ini` configures, so the
//! demo and the Python app share them: the session factory its includes name (a signed
//! cookie session — pickled on Pyramid 1, which every CubicWeb runs — CubicWeb's
//! `CWSessionFactory`, or pyramid_session_redis on the Redis of `redis.sessions.url`,
//! with its key prefix), its secret and its cookie settings. `--store
//! pyramid_session_redis+redis://HOST:PORT/DB` keeps sessions in pyramid_session_redis's
//! own Redis layout (with the ini's settings, or the secret and timeout given here).
//!
//! # Beside a CubicWeb instance
//!
//! With a CubicWeb instance's `pyramid.ini` and its database the demo is a peer of the
//! Python instance: same sessions, same logins, both ways.
//!
//! - **Database sessions** (`cubicweb.pyramid.session` in `cubicweb.includes`): `--store
//!   cubicweb+sqlite:PATH` or `--store cubicweb+postgres://...` keeps the sessions in the
//!   instance's `cw_CWSession` rows as CubicWeb writes them (`CubicWebStore`: eids
//!   allocated in the database, `CWSessionFactory`'s id cookie with the ini's
//!   `cubicweb.session.secret`), and `--base-url URL` (required there: the instance's
//!   `base-url`, which the rows' `cw_cwuri` starts with).
//! - **Pickled cookie sessions** (`cubicweb.pyramid.default_session`): no session
//!   store; `--store cubicweb+...` then names the database of the users only.
//! - **pyramid_session_redis** (`pyramid.includes = pyramid_session_redis`): `--store
//!   pyramid_session_redis+redis://...` (or the ini's Redis URL), and the users'
//!   database with `--cubicweb-db`.
//!
//! The users' database is `--cubicweb-db`, else `--store` when it is a `cubicweb+`
//! database. When the ini includes `cubicweb.pyramid.auth` and a users' database is
//! given, the demo serves CubicWeb's logins: the AuthTkt policies of the ini's
//! `cubicweb.auth.*` keys (`auth_tkt`, and `pauth_tkt` for "remember me"; the ticket
//! kept in the session, as CubicWeb 4.6.1+ does), passwords checked against
//! `cw_CWUser`, groups read from the database. Without a database the ini's sessions
//! are served with the demo's own `user=` logins only (a note on stderr). Deliberate
//! deviations from the Python login: the session gets a new id at login (Python keeps
//! it), `last_login_time` is written even with `cubicweb.auth.update_login_time = no`,
//! and passwords longer than 4096 bytes are refused without hashing (passlib's limit).
//!
//! Default store: SQLite in `sessions.db` of the demo's data directory, with the secret
//! kept in `secret.txt` there (made on first run), so sessions survive a restart; both
//! files are created readable by their owner only (0600), in a directory only its owner
//! enters (0700). The data directory is `--data-dir PATH`, else
//! `$XDG_DATA_HOME/pyramid-session-demo`, else `~/.local/share/pyramid-session-demo`:
//! never the working directory. The secret comes from `--secret-file`,
//! `--secret`, the `PYRAMID_SESSION_SECRET` environment variable, or that file, in this
//! order. The cookie is HttpOnly and SameSite=Lax but not Secure, since the demo serves
//! plain HTTP on loopback.
//!
//! CSRF: every POST whose `Origin` is present and is not the demo's own origin, or whose
//! `Sec-Fetch-Site` is present and is neither `same-origin` nor `none`, is refused with
//! 403 before the session is touched (the JSON API keeps its plain form contract for
//! scripts, which send neither). The HTML forms also carry a token: the session's CSRF
//! token once logged in (rotated at login), and for the anonymous login form a
//! double-submit cookie, so anonymous page views store nothing. User names are at most
//! 64 characters (400 otherwise) and request bodies at most 16 KiB (413).
//!
//! Pages: `/` (login form with CSRF protection, or the session: user, visit counter,
//! created/accessed times, flash messages), `POST /login`, `POST /increment`,
//! `POST /logout`. JSON API (stable):
//!
//! - `POST /api/login`, form `user=NAME` (the demo's own login, when the form has no
//!   `login`) → `{"user": NAME}`; form `login`, `password` and optionally
//!   `persistent=1` (CubicWeb's login: Pyramid's `asbool`, as CubicWeb reads
//!   `__setauthcookie`) → `{"userid": EID}`, or 403 `{"error": ...}` for a wrong password,
//!   an unknown login or an account that is not activated (400 when CubicWeb logins are
//!   not configured);
//! - `GET /api/auth` → `{"userid": EID or null, "groups": [...]}` (the CubicWeb user the
//!   login cookies and the session's ticket name, and its groups, sorted);
//! - `POST /api/increment` → `{"count": N}`, `GET /api/session` →
//!   `{"user": ..., "count": N}`;
//! - `POST /api/logout` → `{"ok": true}` (the CubicWeb logout, when configured: the
//!   ticket leaves the session and both login cookies are deleted; then the session is
//!   invalidated).
//!
//! Store outages answer 503 with a JSON error.

use core::time::Duration;
use std::collections::HashMap;
use std::io::Write;

use axum::extract::{DefaultBodyLimit, Extension, Form, Request};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pyramid_session::authtkt::cubicweb::CubicWebSettings;
use pyramid_session::authtkt::DomainStyle;
use pyramid_session::integrations::axum::{
    system_clock, Auth, AuthConfig, Session, SessionError, SessionLayer,
};
use pyramid_session::server::{IdCookieFormat, IdScheme, ServerConfig};
use pyramid_session::settings::{asbool, aslist, Backend, PyramidSettings};
use pyramid_session::store::{
    AsyncPostgresStore, AsyncPyramidSessionRedisStore, AsyncRedisStore, CubicWebOptions,
    CubicWebStore, MemoryStore, PyramidSessionRedisOptions, SqliteStore,
};
use pyramid_session::{OsRandom, RandomSource, SessionConfig};
use serde_json::{json, Value};

struct Options {
    port: u16,
    store: String,
    /// `None`: the ini's, or 1200 s.
    timeout: Option<u64>,
    secret: Option<String>,
    secret_file: Option<String>,
    ini: Option<String>,
    /// Whether `--store` was given (an ini picks its own store otherwise).
    store_given: bool,
    data_dir: Option<std::path::PathBuf>,
    /// The CubicWeb instance's `base-url` (`cw_cwuri` of the session rows).
    base_url: Option<String>,
    /// The CubicWeb database of the users, when the session store is elsewhere.
    cubicweb_db: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: demo [--port N] [--store memory|sqlite:PATH|redis://...|postgres://...|pyramid_session_redis+redis://...|cubicweb+sqlite:PATH|cubicweb+postgres://...] [--timeout SECONDS] [--secret-file PATH | --secret S] [--ini PATH] [--base-url URL] [--cubicweb-db cubicweb+sqlite:PATH|cubicweb+postgres://...] [--data-dir PATH]"
    );
    std::process::exit(2)
}

fn options() -> Options {
    let mut opts = Options {
        port: 8080,
        // Set in `options()` once the data directory is known.
        store: String::new(),
        timeout: None,
        secret: None,
        secret_file: None,
        ini: None,
        store_given: false,
        data_dir: None,
        base_url: None,
        cubicweb_db: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| usage())
        };
        match name.as_str() {
            "--port" => opts.port = value().parse().unwrap_or_else(|_| usage()),
            "--store" => {
                opts.store = value();
                opts.store_given = true;
            }
            "--timeout" => opts.timeout = Some(value().parse().unwrap_or_else(|_| usage())),
            "--ini" => opts.ini = Some(value()),
            "--data-dir" => opts.data_dir = Some(value().into()),
            "--base-url" => opts.base_url = Some(value()),
            "--cubicweb-db" => opts.cubicweb_db = Some(value()),
            "--secret" => opts.secret = Some(value()),
            "--secret-file" => opts.secret_file = Some(value()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    if !opts.store_given {
        opts.store = format!("sqlite:{}", data_file(&opts, "sessions.db").display());
    }
    opts
}

/// The data directory (made, owner-only, on first use): `--data-dir`, else
/// `$XDG_DATA_HOME/pyramid-session-demo`, else `~/.local/share/pyramid-session-demo`.
fn data_dir(opts: &Options) -> std::path::PathBuf {
    let dir = match &opts.data_dir {
        Some(dir) => dir.clone(),
        None => {
            let base = std::env::var_os("XDG_DATA_HOME")
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".local/share"))
                })
                .unwrap_or_else(|| fail("no data directory: pass --data-dir PATH".into()));
            base.join("pyramid-session-demo")
        }
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .unwrap_or_else(|e| fail(format!("cannot create {}: {e}", dir.display())));
    dir
}

/// A file of the data directory.
fn data_file(opts: &Options, name: &str) -> std::path::PathBuf {
    data_dir(opts).join(name)
}

/// Creates `path` (if missing) readable and writable by its owner only.
fn create_private(path: &str) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes an existing file (from a run before files were made private) owner-only.
fn make_private(path: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn fail(message: String) -> ! {
    eprintln!("demo: {message}");
    std::process::exit(2)
}

/// The secret: from `--secret-file`, `--secret`, `PYRAMID_SESSION_SECRET`, or kept in
/// `secret.txt` of the data directory (0600, made on first run) so cookies outlive a
/// restart.
fn secret(opts: &Options) -> String {
    if let Some(path) = &opts.secret_file {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| fail(format!("cannot read the secret file {path}: {e}")));
        return text.trim_end_matches(['\r', '\n']).to_string();
    }
    if let Some(secret) = opts
        .secret
        .clone()
        .or_else(|| std::env::var("PYRAMID_SESSION_SECRET").ok())
    {
        return secret;
    }
    let file = data_file(opts, "secret.txt");
    let path = file
        .to_str()
        .unwrap_or_else(|| fail("the data directory is not UTF-8".into()));
    make_private(path);
    if let Ok(secret) = std::fs::read_to_string(path) {
        return secret.trim().to_string();
    }
    let mut bytes = [0u8; 48];
    OsRandom.fill(&mut bytes).expect("OS random source");
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    create_private(path)
        .and_then(|mut f| f.write_all(secret.as_bytes()))
        .unwrap_or_else(|e| fail(format!("cannot write {path}: {e}")));
    secret
}

async fn layer(store: &str, config: ServerConfig) -> Result<SessionLayer, String> {
    let timeout = Duration::from_secs(2);
    Ok(if store == "memory" {
        SessionLayer::server(config, MemoryStore::new())
    } else if let Some(path) = store.strip_prefix("sqlite:") {
        // Made private before SQLite opens it; its journal files take the same mode.
        match create_private(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => make_private(path),
            Err(e) => return Err(format!("cannot create {path}: {e}")),
        }
        SessionLayer::server(config, SqliteStore::open(path).map_err(|e| e.to_string())?)
    } else if store.starts_with("redis://") {
        SessionLayer::server(
            config,
            AsyncRedisStore::connect(store, "demo:", timeout)
                .await
                .map_err(|e| e.to_string())?,
        )
    } else if store.starts_with("postgres://") || store.starts_with("postgresql://") {
        SessionLayer::server(
            config,
            AsyncPostgresStore::connect(store, timeout)
                .await
                .map_err(|e| e.to_string())?,
        )
    } else {
        return Err(format!("unknown store {store:?}"));
    })
}

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

fn date(secs: f64) -> String {
    let mut out = String::new();
    pyramid_session::cookie::push_http_date(&mut out, secs as i64);
    out
}

/// The anonymous login form's CSRF cookie (double submit: the form field must match it).
const LOGIN_CSRF_COOKIE: &str = "demo_login_csrf";

/// Longest accepted user name, in characters.
const MAX_USER_LEN: usize = 64;

fn random_token() -> String {
    let mut bytes = [0u8; 20];
    OsRandom.fill(&mut bytes).expect("OS random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of cookie `name` in the request, if any.
fn request_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

async fn index(session: Session, headers: HeaderMap) -> Result<Response, SessionError> {
    let flashes = session.pop_flash("").await?;
    let user = session.get::<String>("user").await?;
    // Logged in: the session's token. Anonymous: a token in its own cookie, so that a
    // page view stores nothing until there is something to keep.
    let (token, login_cookie) = if user.is_some() {
        (session.csrf_token().await?, None)
    } else {
        match request_cookie(&headers, LOGIN_CSRF_COOKIE) {
            Some(t) if t.len() == 40 && t.bytes().all(|b| b.is_ascii_hexdigit()) => {
                (t.to_string(), None)
            }
            _ => {
                let t = random_token();
                (t.clone(), Some(t))
            }
        }
    };
    let count = session.get::<u64>("count").await?.unwrap_or(0);
    let created = session.created().await?;
    let flash_html: String = flashes
        .iter()
        .map(|m| format!("<li>{}</li>", escape(m.as_str().unwrap_or(""))))
        .collect();
    let accessed = session.accessed().await?;
    let body = match user.as_deref() {
        Some(user) => format!(
            r#"<p>Logged in as <strong id="user">{user}</strong>.</p>
<p>Visits counted: <strong id="count">{count}</strong></p>
<p>Session created <span id="created">{created}</span>, accessed <span id="accessed">{accessed}</span>.</p>
<form method="post" action="/increment"><input type="hidden" name="csrf_token" value="{token}">
<button id="increment" type="submit">Count a visit</button></form>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{token}">
<button id="logout" type="submit">Log out</button></form>"#,
            user = escape(user),
            created = date(created),
            accessed = date(accessed),
        ),
        None => format!(
            r#"<p id="anonymous">Not logged in.</p>
<form method="post" action="/login"><input type="hidden" name="csrf_token" value="{token}">
<label>User <input id="user-input" name="user" required></label>
<button id="login" type="submit">Log in</button></form>"#
        ),
    };
    let flash = format!(r#"<ul id="flash" class="flash" role="status">{flash_html}</ul>"#);
    let mut response = page("pyramid-session demo", &format!("{flash}{body}")).into_response();
    if let Some(t) = login_cookie {
        let cookie = format!("{LOGIN_CSRF_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict");
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// The demo's small stylesheet: readable on a phone and a desktop alike.
const STYLE: &str = "\
:root{color-scheme:light dark;--accent:#2b6cb0}\
body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}\
h1{font-size:1.5rem;border-bottom:2px solid var(--accent);padding-bottom:.3rem}\
form{margin:1rem 0}label{display:block;margin-bottom:.5rem}\
input{font:inherit;padding:.3rem .5rem;margin-left:.5rem}\
button{font:inherit;padding:.4rem 1rem;border:0;border-radius:.3rem;background:var(--accent);color:#fff;cursor:pointer}\
.flash{list-style:none;padding:.6rem 1rem;border-left:4px solid #38a169;background:#38a16922}\
.flash:empty{display:none}\
.error{padding:.6rem 1rem;border-left:4px solid #c53030;background:#c5303022}";

/// A whole HTML page: viewport, stylesheet, the title as the heading.
fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{STYLE}</style></head>
<body><h1>{title}</h1>{body}</body></html>"#
    ))
}

/// An HTML error page with `status`.
fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        r#"<p id="error" class="error" role="alert">{}</p><p><a href="/">Back to the demo</a></p>"#,
        escape(message)
    );
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    (status, page(&title, &body)).into_response()
}

type FormData = Form<HashMap<String, String>>;

async fn checked(session: &Session, form: &HashMap<String, String>) -> Result<bool, SessionError> {
    let supplied = form.get("csrf_token").map(String::as_str).unwrap_or("");
    session.check_csrf_token(supplied).await
}

fn forbidden() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from this site (bad CSRF token). Reload the page and try again.",
    )
}

/// The form's user name, if it has at most [`MAX_USER_LEN`] characters.
fn user_name(form: &HashMap<String, String>) -> Option<String> {
    let user = form.get("user").cloned().unwrap_or_default();
    (user.chars().count() <= MAX_USER_LEN).then_some(user)
}

fn user_name_too_long() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "User names have at most 64 characters.",
    )
}

/// Logs `user` in: a new session id, a new CSRF token, the user name.
async fn log_in(session: &Session, user: &str) -> Result<(), SessionError> {
    session.regenerate_id().await?;
    session.new_csrf_token().await?;
    session.insert("user", json!(user)).await
}

async fn login(
    session: Session,
    headers: HeaderMap,
    Form(form): FormData,
) -> Result<Response, SessionError> {
    // The anonymous form's double-submit token (or, if already logged in, the session's).
    let supplied = form.get("csrf_token").map(String::as_str).unwrap_or("");
    let double_submit = request_cookie(&headers, LOGIN_CSRF_COOKIE)
        .is_some_and(|c| !supplied.is_empty() && subtle_eq(c.as_bytes(), supplied.as_bytes()));
    if !double_submit && !checked(&session, &form).await? {
        return Ok(forbidden());
    }
    let Some(user) = user_name(&form) else {
        return Ok(user_name_too_long());
    };
    log_in(&session, &user).await?;
    session
        .flash(json!(format!("Welcome, {user}!")), "")
        .await?;
    Ok(Redirect::to("/").into_response())
}

async fn increment(session: Session, Form(form): FormData) -> Result<Response, SessionError> {
    if !checked(&session, &form).await? {
        return Ok(forbidden());
    }
    session.modify("count", bump).await?;
    Ok(Redirect::to("/").into_response())
}

async fn logout(
    session: Session,
    auth: Result<Auth, SessionError>,
    Form(form): FormData,
) -> Result<Response, SessionError> {
    if !checked(&session, &form).await? {
        return Ok(forbidden());
    }
    log_out(&session, auth).await?;
    session.flash(json!("Logged out."), "").await?;
    Ok(Redirect::to("/").into_response())
}

fn bump(n: Option<&Value>) -> Option<Value> {
    Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))
}

/// The CubicWeb database of the users, when the demo serves CubicWeb's logins.
#[derive(Clone)]
struct Users(Option<CubicWebStore>);

/// passlib's `MAX_PASSWORD_SIZE`: longer passwords are refused without hashing.
const MAX_PASSWORD_LEN: usize = 4096;

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn api_login(
    session: Session,
    auth: Result<Auth, SessionError>,
    Extension(Users(users)): Extension<Users>,
    Form(form): FormData,
) -> Result<Response, SessionError> {
    if let Some(login) = form.get("login") {
        return cubicweb_login(&session, auth.ok(), users, login, &form).await;
    }
    let Some(user) = user_name(&form) else {
        return Ok(user_name_too_long());
    };
    log_in(&session, &user).await?;
    Ok(Json(json!({ "user": user })).into_response())
}

/// Constant-time equality of two byte strings.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses cross-site POSTs before the session is touched: an `Origin` other than the
/// demo's own, or a `Sec-Fetch-Site` other than `same-origin` / `none`.
async fn same_origin_posts(request: Request, next: Next) -> Response {
    if request.method() == Method::POST && !same_origin(request.headers()) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Cross-site request refused: this form was posted from another site.",
        );
    }
    next.run(request).await
}

fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    match text("origin") {
        None => true,
        // Host names are case-insensitive; a missing Host (HTTP/1.0) refuses.
        Some(origin) => {
            text("host").is_some_and(|host| origin.eq_ignore_ascii_case(&format!("http://{host}")))
        }
    }
}

async fn api_increment(session: Session) -> Result<Json<Value>, SessionError> {
    session.modify("count", bump).await?;
    // Write now, so the answer is the stored count even when concurrent requests raced.
    session.save().await?;
    let count = session.get("count").await?.unwrap_or(json!(0));
    Ok(Json(json!({ "count": count })))
}

async fn api_session(session: Session) -> Result<Json<Value>, SessionError> {
    let user = session.get("user").await?.unwrap_or(Value::Null);
    let count = session.get("count").await?.unwrap_or(json!(0));
    Ok(Json(json!({ "user": user, "count": count })))
}

/// CubicWeb's password login: `login` and `password` checked against `cw_CWUser` (and
/// `last_login_time` updated), a new session id, then the login cookies
/// (`persistent=1`: `pauth_tkt`, else `auth_tkt`) and the ticket in the session.
async fn cubicweb_login(
    session: &Session,
    auth: Option<Auth>,
    users: Option<CubicWebStore>,
    login: &str,
    form: &HashMap<String, String>,
) -> Result<Response, SessionError> {
    let (Some(auth), Some(users)) = (auth, users) else {
        return Ok(json_error(
            StatusCode::BAD_REQUEST,
            "CubicWeb logins are not configured: --ini with cubicweb.pyramid.auth, and the instance's database",
        ));
    };
    let password = form.get("password").map(String::as_str).unwrap_or("");
    let refused = || json_error(StatusCode::FORBIDDEN, "authentication failed");
    if password.len() > MAX_PASSWORD_LEN {
        return Ok(refused());
    }
    let user = match users
        .authenticate_async(login, password, system_clock())
        .await
    {
        Ok(Some(user)) => user,
        Ok(None) => return Ok(refused()),
        Err(e) => {
            return Ok(json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the users' database failed: {e}"),
            ))
        }
    };
    let persistent = form.get("persistent").is_some_and(|v| asbool(v));
    session.regenerate_id().await?;
    session.new_csrf_token().await?;
    auth.login(user.eid, Some(persistent)).await?;
    Ok(Json(json!({ "userid": user.eid })).into_response())
}

/// The CubicWeb user of the request (`request.authenticated_userid`) and its groups.
async fn api_auth(
    auth: Result<Auth, SessionError>,
    Extension(Users(users)): Extension<Users>,
) -> Result<Response, SessionError> {
    let anonymous = || Json(json!({ "userid": null, "groups": [] })).into_response();
    let (Ok(auth), Some(users)) = (auth, users) else {
        return Ok(anonymous());
    };
    let Some(user) = auth.authenticated().await? else {
        return Ok(anonymous());
    };
    let groups = match user.groups {
        Some(groups) => groups,
        // `cubicweb.auth.groups_principals = no`: not looked up by the policies.
        None => match users.groups_async(user.userid).await {
            Ok(groups) => groups,
            Err(e) => {
                return Ok(json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("the users' database failed: {e}"),
                ))
            }
        },
    };
    Ok(Json(json!({ "userid": user.userid, "groups": groups })).into_response())
}

/// Logs out: CubicWeb's logout when configured (the ticket leaves the session, both
/// login cookies are deleted), then the session is invalidated.
async fn log_out(session: &Session, auth: Result<Auth, SessionError>) -> Result<(), SessionError> {
    if let Ok(auth) = auth {
        auth.logout().await?;
    }
    session.invalidate().await
}

async fn api_logout(
    session: Session,
    auth: Result<Auth, SessionError>,
) -> Result<Json<Value>, SessionError> {
    log_out(&session, auth).await?;
    Ok(Json(json!({ "ok": true })))
}

/// The `--store` prefix of pyramid_session_redis's own Redis layout.
const PSR_STORE: &str = "pyramid_session_redis+";

/// The `--store` / `--cubicweb-db` prefix of a CubicWeb instance's database.
const CW_STORE: &str = "cubicweb+";

/// Placeholder base URL of a database opened for its users only (no session rows are
/// written there, so `cw_cwuri` is never made).
const USERS_ONLY_BASE_URL: &str = "http://localhost/";

fn bad_config(e: impl std::fmt::Display) -> String {
    format!("bad configuration: {e}")
}

/// What the demo serves: the session layer, and the CubicWeb database of the users when
/// it serves CubicWeb's logins.
struct Served {
    layer: SessionLayer,
    users: Option<CubicWebStore>,
}

/// Opens a CubicWeb instance's database (`sqlite:PATH` or `postgres://...`, after the
/// `cubicweb+` prefix), whose session rows, if any, get `cw_cwuri` from `base_url` and
/// whose records are judged with the session `timeout` (seconds).
async fn open_cubicweb(db: &str, base_url: &str, timeout: u64) -> Result<CubicWebStore, String> {
    let options = CubicWebOptions::new(base_url).with_timeout(Duration::from_secs(timeout));
    let opened = if let Some(path) = db.strip_prefix("sqlite:") {
        // The instance's own file: never created here.
        if !std::path::Path::new(path).is_file() {
            return Err(format!("{path}: no CubicWeb database there"));
        }
        CubicWebStore::open_sqlite(path, options)
    } else if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        CubicWebStore::connect_postgres(db, options).await
    } else {
        return Err(format!(
            "unknown CubicWeb database {db:?}: {CW_STORE}sqlite:PATH or {CW_STORE}postgres://..."
        ));
    };
    opened.map_err(|e| format!("cannot open the CubicWeb database: {e}"))
}

/// CubicWeb's database sessions on the instance's database `db`: `CWSessionFactory`'s id
/// cookie, ids allocated by the database.
async fn cubicweb_sessions(
    opts: &Options,
    session: SessionConfig,
    db: &str,
) -> Result<(SessionLayer, CubicWebStore), String> {
    let base_url = opts.base_url.as_deref().ok_or_else(|| {
        format!("--store {CW_STORE}...: give the instance's base-url with --base-url URL")
    })?;
    let timeout = session.timeout().unwrap_or(1200);
    let store = open_cubicweb(db, base_url, timeout).await?;
    let config = ServerConfig::new(session, IdCookieFormat::CubicWeb)
        .map_err(bad_config)?
        .with_id_scheme(IdScheme::Allocated);
    Ok((SessionLayer::server(config, store.clone()), store))
}

/// Whether the settings include CubicWeb's login policies (`cubicweb.pyramid.auth`).
fn includes_cubicweb_auth(settings: &PyramidSettings) -> bool {
    ["pyramid.includes", "cubicweb.includes"]
        .into_iter()
        .filter_map(|key| settings.get(key))
        .flat_map(aslist)
        .any(|i| i.trim_end_matches(".includeme") == "cubicweb.pyramid.auth")
}

/// The sessions the demo serves: those `--ini` configures, or its own (CubicWeb's id
/// cookie, on `--store`); with CubicWeb's logins when the ini includes them and the
/// users' database is given.
async fn served(opts: &Options) -> Result<Served, String> {
    let Some(path) = &opts.ini else {
        if opts.cubicweb_db.is_some() {
            return Err(
                "--cubicweb-db serves CubicWeb's logins, which need the instance's --ini".into(),
            );
        }
        let timeout = opts.timeout.unwrap_or(1200);
        if let Some(url) = opts.store.strip_prefix(PSR_STORE) {
            let session = SessionConfig::pyramid_session_redis(&secret(opts))
                .timeout(Some(Duration::from_secs(timeout)))
                .build()
                .map_err(bad_config)?;
            let options = PyramidSessionRedisOptions::new(timeout);
            let layer = redis_layer(session, url, "", options).await?;
            return Ok(Served { layer, users: None });
        }
        let session = SessionConfig::cubicweb(&secret(opts))
            .timeout(Some(Duration::from_secs(timeout)))
            .reissue_time(Some(Duration::from_secs((timeout / 10).min(120))))
            .build()
            .map_err(bad_config)?;
        if let Some(db) = opts.store.strip_prefix(CW_STORE) {
            let (layer, _) = cubicweb_sessions(opts, session, db).await?;
            return Ok(Served { layer, users: None });
        }
        let config = ServerConfig::new(session, IdCookieFormat::CubicWeb).map_err(bad_config)?;
        let layer = layer(&opts.store, config).await?;
        return Ok(Served { layer, users: None });
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the ini {path}: {e}"))?;
    let file = std::path::absolute(path).map_err(|e| format!("{path}: {e}"))?;
    let here = file.parent().unwrap_or(std::path::Path::new("/"));
    let settings =
        PyramidSettings::parse_ini_at(&text, &here.to_string_lossy(), &file.to_string_lossy())
            .map_err(|e| format!("{path}: {e}"))?;
    let mut builder = settings.builder().map_err(bad_config)?;
    if let Some(timeout) = opts.timeout {
        builder = builder.timeout(Some(Duration::from_secs(timeout)));
    }
    let session = builder.build().map_err(bad_config)?;
    let timeout = session.timeout().unwrap_or(1200);
    let cubicweb_store = opts
        .store
        .strip_prefix(CW_STORE)
        .filter(|_| opts.store_given);
    // The database the sessions live in, when it is the instance's.
    let (layer, session_db) = match settings.backend() {
        Some(Backend::Cookie | Backend::CubicWebCookie) => {
            // No session store: a `cubicweb+` store is the users' database.
            let users = match cubicweb_store {
                Some(db) => Some(open_cubicweb(db, USERS_ONLY_BASE_URL, timeout).await?),
                None => None,
            };
            (SessionLayer::cookie(session), users)
        }
        Some(Backend::Redis) => {
            let url = match opts.store.strip_prefix(PSR_STORE) {
                Some(url) if opts.store_given => url,
                None if opts.store_given => {
                    return Err(format!(
                    "the ini configures pyramid_session_redis: use --store {PSR_STORE}redis://... \
                         (and --cubicweb-db for the users)"
                ))
                }
                _ => settings.redis_url().unwrap_or("redis://localhost:6379/0"),
            };
            let mut options = settings
                .pyramid_session_redis_options()
                .map_err(bad_config)?;
            if let Some(timeout) = opts.timeout {
                options = PyramidSessionRedisOptions::new(timeout)
                    .with_python_expires(options.python_expires())
                    .with_set_redis_ttl(options.set_redis_ttl());
            }
            let layer = redis_layer(session, url, settings.redis_prefix(), options).await?;
            (layer, None)
        }
        Some(Backend::CubicWeb) => match cubicweb_store {
            Some(db) => {
                let (layer, store) = cubicweb_sessions(opts, session, db).await?;
                (layer, Some(store))
            }
            None => {
                let config =
                    ServerConfig::new(session, IdCookieFormat::CubicWeb).map_err(bad_config)?;
                (layer(&opts.store, config).await?, None)
            }
        },
        _ => {
            return Err(bad_config(
                "the ini configures no session factory the demo serves",
            ))
        }
    };
    let users = match &opts.cubicweb_db {
        Some(db) => {
            let db = db.strip_prefix(CW_STORE).unwrap_or(db);
            match session_db {
                // The session store's own database: one connection.
                Some(store) if cubicweb_store == Some(db) => Some(store),
                _ => Some(open_cubicweb(db, USERS_ONLY_BASE_URL, timeout).await?),
            }
        }
        None => session_db,
    };
    if !includes_cubicweb_auth(&settings) {
        return Ok(Served { layer, users: None });
    }
    let Some(users) = users else {
        eprintln!(
            "demo: the ini includes cubicweb.pyramid.auth, but no CubicWeb database is given \
             (--cubicweb-db or --store {CW_STORE}...): CubicWeb logins are off"
        );
        return Ok(Served { layer, users: None });
    };
    let style = if settings.pyramid_major() >= 2 {
        DomainStyle::Pyramid2
    } else {
        DomainStyle::Pyramid1
    };
    let auth = CubicWebSettings::from_settings(&settings)
        .and_then(|s| s.build(style))
        .map_err(bad_config)?;
    let lookup = users.clone();
    let layer = layer.with_cubicweb_auth(AuthConfig::new(auth).with_groups(move |eid| {
        let store = lookup.clone();
        // CubicWeb's `get_principals`: the user's groups; an eid without any is nobody.
        async move { store.groups_async(eid).await.ok().filter(|g| !g.is_empty()) }
    }));
    Ok(Served {
        layer,
        users: Some(users),
    })
}

/// pyramid_session_redis's sessions: its id cookie, its ids (`prefix` + 64 characters,
/// looked up as they are) and its Redis layout.
async fn redis_layer(
    session: SessionConfig,
    url: &str,
    prefix: &str,
    options: PyramidSessionRedisOptions,
) -> Result<SessionLayer, String> {
    let scheme = IdScheme::pyramid_session_redis(prefix).ok_or_else(|| {
        bad_config(format!(
            "redis.sessions.prefix {prefix:?}: only A-Z a-z 0-9 - _ . : in at most 136 characters"
        ))
    })?;
    let config = ServerConfig::new(session, IdCookieFormat::PyramidSessionRedis)
        .map_err(bad_config)?
        .with_id_scheme(scheme);
    let store = AsyncPyramidSessionRedisStore::connect(url, options, Duration::from_secs(2))
        .await
        .map_err(|e| format!("cannot open the store: {e}"))?;
    Ok(SessionLayer::server(config, store))
}

#[tokio::main]
async fn main() {
    let opts = options();
    let served = served(&opts).await.unwrap_or_else(|e| {
        eprintln!("demo: {e}");
        std::process::exit(2)
    });
    let app = Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/increment", post(increment))
        .route("/logout", post(logout))
        .route("/api/login", post(api_login))
        .route("/api/increment", post(api_increment))
        .route("/api/session", get(api_session))
        .route("/api/logout", post(api_logout))
        .route("/api/auth", get(api_auth))
        .layer(Extension(Users(served.users)))
        .layer(served.layer)
        .layer(middleware::from_fn(same_origin_posts))
        .layer(DefaultBodyLimit::max(16 * 1024));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .unwrap_or_else(|e| {
            eprintln!("demo: cannot listen on 127.0.0.1:{}: {e}", opts.port);
            std::process::exit(1)
        });
    println!(
        "pyramid-session demo on http://127.0.0.1:{} (store: {})",
        opts.port, opts.store
    );
    // With the peer address: CubicWeb's `include_ip` login tickets hash it.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).await.expect("server");
}
