//! The benchmark app on tower-sessions 0.14, on its own stores: `MemoryStore`,
//! tower-sessions-sqlx-store's `SqliteStore` (WAL) and `PostgresStore`, and
//! tower-sessions-redis-store's `RedisStore` (fred).

use std::str::FromStr;

use axum::{
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use serde_json::{json, Value};
use tower_sessions::{cookie::time::Duration, Expiry, MemoryStore, Session, SessionManagerLayer};
use tower_sessions_redis_store::{fred::prelude::*, RedisStore};
use tower_sessions_sqlx_store::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use tower_sessions_sqlx_store::sqlx::{PgPool, SqlitePool};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use crate::Store;

/// A session error as a 500.
fn internal(err: tower_sessions::session::Error) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
}

/// `POST /login`: a new session id, `user` and `n = 0`.
async fn login(session: Session) -> Result<Json<Value>, (StatusCode, String)> {
    session.cycle_id().await.map_err(internal)?;
    session.insert("user", "ada").await.map_err(internal)?;
    session.insert("n", 0u64).await.map_err(internal)?;
    Ok(Json(json!({ "user": "ada" })))
}

/// `GET /read`: the user and the counter.
async fn read(session: Session) -> Result<Json<Value>, (StatusCode, String)> {
    let user: Option<String> = session.get("user").await.map_err(internal)?;
    let n: Option<u64> = session.get("n").await.map_err(internal)?;
    Ok(Json(json!({ "user": user, "n": n })))
}

/// `POST /incr`: read-modify-write of the counter (get, then insert); answers the new value.
async fn incr(session: Session) -> Result<Json<Value>, (StatusCode, String)> {
    let n: u64 = session.get("n").await.map_err(internal)?.unwrap_or(0) + 1;
    session.insert("n", n).await.map_err(internal)?;
    Ok(Json(json!({ "n": n })))
}

/// `GET /bare`: a constant, the session untouched.
async fn bare() -> &'static str {
    "ok"
}

/// The four routes under a `SessionManagerLayer` on `session_store`.
fn routes(session_store: impl tower_sessions::SessionStore + Clone) -> Router {
    let layer = SessionManagerLayer::new(session_store)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(Duration::minutes(20)));
    Router::new()
        .route("/login", post(login))
        .route("/read", get(read))
        .route("/incr", post(incr))
        .route("/bare", get(bare))
        .layer(layer)
}

/// The app on `store`'s tower-sessions store.
pub async fn app(store: Store) -> Result<Router, Box<dyn std::error::Error>> {
    Ok(match store {
        Store::Cookie => return Err("tower-sessions keeps no sessions in the cookie".into()),
        Store::Memory => routes(MemoryStore::default()),
        Store::Sqlite(path) => {
            let options = SqliteConnectOptions::from_str(&path)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
            let session_store = SqliteStore::new(SqlitePool::connect_with(options).await?);
            session_store.migrate().await?;
            routes(session_store)
        }
        Store::Redis(url) => {
            let pool = Pool::new(Config::from_url(&url)?, None, None, None, 6)?;
            pool.connect();
            pool.wait_for_connect().await?;
            routes(RedisStore::new(pool))
        }
        Store::Postgres(url) => {
            let session_store = PostgresStore::new(PgPool::connect(&url).await?);
            session_store.migrate().await?;
            routes(session_store)
        }
    })
}
