//! `http-bench-app`: the benchmark app of `benches/http` (issue 17), served on
//! `127.0.0.1:PORT` until killed.
//!
//! ```text
//! http-bench-app --lib ours|tower-sessions|none --store cookie|memory|sqlite|redis|postgres
//!     --port N [--sqlite-path PATH] [--redis-url URL] [--postgres-url URL]
//! ```
//!
//! The app itself is written twice, once per library, each module self-contained as a
//! new user would write it from that library's docs: [`ours`] and [`tower_sessions`].
//! `--lib none` serves `GET /bare` with no session layer, the baseline of the layer's
//! own cost. A build holds one library (features `ours`, `tower-sessions`: see
//! `Cargo.toml` for why).

#[cfg(feature = "ours")]
mod ours;
#[cfg(feature = "tower-sessions")]
mod tower_sessions;

use axum::{routing::get, Router};

/// Where the sessions live, from `--store` and its URL or path flag.
pub enum Store {
    /// The whole session in the signed cookie (this crate only).
    Cookie,
    /// The process's memory.
    Memory,
    /// An SQLite file (WAL).
    Sqlite(String),
    /// A Redis server.
    Redis(String),
    /// A PostgreSQL database.
    Postgres(String),
}

/// The flags, parsed: `(lib, store, port)`.
fn parse_args() -> Result<(String, Store, u16), String> {
    let mut args = std::env::args().skip(1);
    let (mut lib, mut store, mut port) = (None, None, None);
    let (mut sqlite, mut redis, mut postgres) = (None, None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--lib" => lib = Some(value),
            "--store" => store = Some(value),
            "--port" => port = Some(value.parse().map_err(|e| format!("--port: {e}"))?),
            "--sqlite-path" => sqlite = Some(value),
            "--redis-url" => redis = Some(value),
            "--postgres-url" => postgres = Some(value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let need = |v: Option<String>, flag: &str| v.ok_or(format!("{flag} is required"));
    let store = match need(store, "--store")?.as_str() {
        "cookie" => Store::Cookie,
        "memory" => Store::Memory,
        "sqlite" => Store::Sqlite(need(sqlite, "--sqlite-path")?),
        "redis" => Store::Redis(need(redis, "--redis-url")?),
        "postgres" => Store::Postgres(need(postgres, "--postgres-url")?),
        other => return Err(format!("unknown store {other}")),
    };
    Ok((
        need(lib, "--lib")?,
        store,
        port.ok_or("--port is required")?,
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (lib, store, port) = parse_args()?;
    let app = match lib.as_str() {
        #[cfg(feature = "ours")]
        "ours" => ours::app(store).await?,
        #[cfg(feature = "tower-sessions")]
        "tower-sessions" => tower_sessions::app(store).await?,
        "none" => Router::new().route("/bare", get(|| async { "ok" })),
        other => return Err(format!("--lib {other}: not in this build").into()),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    Ok(axum::serve(listener, app).await?)
}
