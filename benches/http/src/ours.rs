//! The benchmark app on this crate: its axum layer in cookie mode (Pyramid's signed
//! cookie) or in server mode on one of its stores.

use std::time::Duration;

use axum::{
    routing::{get, post},
    Json, Router,
};
use pyramid_session::integrations::axum::{Session, SessionError, SessionLayer};
use pyramid_session::server::{IdCookieFormat, ServerConfig};
use pyramid_session::store::{AsyncPostgresStore, AsyncRedisStore, MemoryStore, SqliteStore};
use pyramid_session::SessionConfig;
use serde_json::{json, Value};

use crate::Store;

/// `POST /login`: a new session id, `user` and `n = 0`.
async fn login(session: Session) -> Result<Json<Value>, SessionError> {
    session.regenerate_id().await?;
    session.insert("user", "ada").await?;
    session.insert("n", 0u64).await?;
    Ok(Json(json!({ "user": "ada" })))
}

/// `GET /read`: the user and the counter.
async fn read(session: Session) -> Result<Json<Value>, SessionError> {
    let user: Option<String> = session.get("user").await?;
    let n: Option<u64> = session.get("n").await?;
    Ok(Json(json!({ "user": user, "n": n })))
}

/// `POST /incr`: read-modify-write of the counter; answers the stored value.
async fn incr(session: Session) -> Result<Json<Value>, SessionError> {
    session
        .modify("n", |n| {
            Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))
        })
        .await?;
    session.save().await?;
    Ok(Json(json!({ "n": session.get::<u64>("n").await? })))
}

/// `GET /bare`: a constant, the session untouched.
async fn bare() -> &'static str {
    "ok"
}

/// The four routes under the session layer for `store`.
pub async fn app(store: Store) -> Result<Router, Box<dyn std::error::Error>> {
    let session = SessionConfig::pyramid("http-bench-secret-do-not-use-elsewhere")
        .timeout(Some(Duration::from_secs(1200)))
        .reissue_time(Some(Duration::from_secs(120)))
        .build()?;
    let timeout = Duration::from_secs(2);
    let server = |session| ServerConfig::new(session, IdCookieFormat::CubicWeb);
    let layer = match store {
        Store::Cookie => SessionLayer::cookie(session),
        Store::Memory => SessionLayer::server(server(session)?, MemoryStore::new()),
        Store::Sqlite(path) => SessionLayer::server(server(session)?, SqliteStore::open(path)?),
        Store::Redis(url) => SessionLayer::server(
            server(session)?,
            AsyncRedisStore::connect(&url, "bench:", timeout).await?,
        ),
        Store::Postgres(url) => SessionLayer::server(
            server(session)?,
            AsyncPostgresStore::connect_pool(&url, timeout, 4).await?,
        ),
    };
    Ok(Router::new()
        .route("/login", post(login))
        .route("/read", get(read))
        .route("/incr", post(incr))
        .route("/bare", get(bare))
        .layer(layer))
}
