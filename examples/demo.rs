//! The demo web app: server-side sessions in a browser and a JSON API for scripts.
//!
//! ```text
//! cargo run --example demo -- [--port 8080] [--store memory|sqlite:PATH|redis://...|postgres://...]
//!                             [--timeout SECONDS] [--secret SECRET]
//! ```
//!
//! Default store: SQLite in `demo-sessions.db`, with the secret kept in
//! `demo-secret.txt` (made on first run), so sessions survive a restart. The cookie is
//! HttpOnly and SameSite=Lax but not Secure, since the demo serves plain HTTP on loopback.
//!
//! Pages: `/` (login form with CSRF protection, or the session: user, visit counter,
//! created/accessed times, flash messages), `POST /login`, `POST /increment`,
//! `POST /logout`. JSON API (stable): `POST /api/login` (form `user=NAME`) →
//! `{"user": NAME}`, `POST /api/increment` → `{"count": N}`, `GET /api/session` →
//! `{"user": ..., "count": N}`, `POST /api/logout` → `{"ok": true}`. Store outages
//! answer 503 with a JSON error.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pyramid_session::integrations::axum::{system_clock, Session, SessionError, SessionLayer};
use pyramid_session::server::{IdCookieFormat, ServerConfig};
use pyramid_session::store::{AsyncPostgresStore, AsyncRedisStore, MemoryStore, SqliteStore};
use pyramid_session::{OsRandom, RandomSource, SessionConfig};
use serde_json::{json, Value};

struct Options {
    port: u16,
    store: String,
    timeout: i64,
    secret: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: demo [--port N] [--store memory|sqlite:PATH|redis://...|postgres://...] [--timeout SECONDS] [--secret S]"
    );
    std::process::exit(2)
}

fn options() -> Options {
    let mut opts = Options {
        port: 8080,
        store: "sqlite:demo-sessions.db".into(),
        timeout: 1200,
        secret: None,
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
            "--store" => opts.store = value(),
            "--timeout" => opts.timeout = value().parse().unwrap_or_else(|_| usage()),
            "--secret" => opts.secret = Some(value()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    opts
}

/// The secret: given, or kept in `demo-secret.txt` so cookies outlive a restart.
fn secret(given: Option<String>) -> String {
    if let Some(secret) = given.or_else(|| std::env::var("PYRAMID_SESSION_SECRET").ok()) {
        return secret;
    }
    let path = "demo-secret.txt";
    if let Ok(secret) = std::fs::read_to_string(path) {
        return secret.trim().to_string();
    }
    let mut bytes = [0u8; 48];
    OsRandom.fill(&mut bytes).expect("OS random source");
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(path, &secret).expect("write demo-secret.txt");
    secret
}

async fn layer(store: &str, config: ServerConfig) -> Result<SessionLayer, String> {
    let timeout = Duration::from_secs(2);
    Ok(if store == "memory" {
        SessionLayer::server(config, MemoryStore::new())
    } else if let Some(path) = store.strip_prefix("sqlite:") {
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

async fn index(session: Session) -> Result<Html<String>, SessionError> {
    let token = session.csrf_token().await?;
    let flashes = session.pop_flash("").await?;
    let user = session.get("user").await?;
    let count = session
        .get("count")
        .await?
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let created = session.created().await?;
    let flash_html: String = flashes
        .iter()
        .map(|m| format!("<li>{}</li>", escape(m.as_str().unwrap_or(""))))
        .collect();
    let body = match user.as_ref().and_then(Value::as_str) {
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
            accessed = date(system_clock()),
        ),
        None => format!(
            r#"<p id="anonymous">Not logged in.</p>
<form method="post" action="/login"><input type="hidden" name="csrf_token" value="{token}">
<label>User <input id="user-input" name="user" required></label>
<button id="login" type="submit">Log in</button></form>"#
        ),
    };
    Ok(Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>pyramid-session demo</title></head>
<body><h1>pyramid-session demo</h1><ul id="flash">{flash_html}</ul>{body}</body></html>"#
    )))
}

type FormData = Form<HashMap<String, String>>;

async fn checked(session: &Session, form: &HashMap<String, String>) -> Result<bool, SessionError> {
    let supplied = form.get("csrf_token").map(String::as_str).unwrap_or("");
    session.check_csrf_token(supplied).await
}

fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, "bad CSRF token").into_response()
}

async fn login(session: Session, Form(form): FormData) -> Result<Response, SessionError> {
    if !checked(&session, &form).await? {
        return Ok(forbidden());
    }
    let user = form.get("user").cloned().unwrap_or_default();
    session.regenerate_id().await?;
    session.insert("user", json!(user)).await?;
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

async fn logout(session: Session, Form(form): FormData) -> Result<Response, SessionError> {
    if !checked(&session, &form).await? {
        return Ok(forbidden());
    }
    session.invalidate().await?;
    session.flash(json!("Logged out."), "").await?;
    Ok(Redirect::to("/").into_response())
}

fn bump(n: Option<&Value>) -> Option<Value> {
    Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))
}

async fn api_login(session: Session, Form(form): FormData) -> Result<Json<Value>, SessionError> {
    let user = form.get("user").cloned().unwrap_or_default();
    session.regenerate_id().await?;
    session.insert("user", json!(user)).await?;
    Ok(Json(json!({ "user": user })))
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

async fn api_logout(session: Session) -> Result<Json<Value>, SessionError> {
    session.invalidate().await?;
    Ok(Json(json!({ "ok": true })))
}

#[tokio::main]
async fn main() {
    let opts = options();
    let session_config = SessionConfig::cubicweb(&secret(opts.secret))
        .timeout(Some(opts.timeout))
        .reissue_time(Some((opts.timeout / 10).min(120)))
        .build()
        .unwrap_or_else(|e| {
            eprintln!("demo: bad configuration: {e}");
            std::process::exit(2)
        });
    let config =
        ServerConfig::new(session_config, IdCookieFormat::CubicWeb).expect("timeout is set");
    let layer = layer(&opts.store, config).await.unwrap_or_else(|e| {
        eprintln!("demo: cannot open the store: {e}");
        std::process::exit(1)
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
        .layer(layer);
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
    axum::serve(listener, app).await.expect("server");
}
