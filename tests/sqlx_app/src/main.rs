//! An sqlx application's view of the stores: its pool, our store on it, one session
//! written and read back (through both SQLite stores: one native sqlite3 under both).

use pyramid_session::driver;
use pyramid_session::server::{IdCookieFormat, Pending, ServerConfig};
use pyramid_session::store::{SqliteStore, SqlxPostgresStore, SqlxSqliteStore};
use pyramid_session::{OsRandom, SessionConfig};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

const NOW: f64 = 1_700_000_000.0;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = std::env::temp_dir().join(format!("sqlx-app-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("app.db");

    // The application's pool and its own table.
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&db)
                .create_if_missing(true),
        )
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS notes (body TEXT)")
        .execute(&pool)
        .await
        .unwrap();

    // Our store on that pool.
    let store = SqlxSqliteStore::new(pool.clone()).await.unwrap();
    let config = ServerConfig::new(
        SessionConfig::secure("sqlx-app-secret").build().unwrap(),
        IdCookieFormat::PyramidSessionRedis,
    )
    .unwrap();
    let mut session = driver::open_async(&store, &config, Pending::start(&config, None, NOW))
        .await
        .unwrap();
    session.insert("user", serde_json::json!("ada"));
    let set_cookie = driver::finish_async(&store, &config, &mut session, false, &mut OsRandom)
        .await
        .unwrap()
        .expect("a new session sends its cookie");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    // The next request finds it, on the pool...
    let pending = Pending::start(&config, Some(cookie.as_bytes()), NOW + 1.0);
    let mut again = driver::open_async(&store, &config, pending).await.unwrap();
    assert_eq!(again.get("user"), Some(&serde_json::json!("ada")));

    // ...and so does the rusqlite store on the same file, in the same binary.
    let rusqlite_store = SqliteStore::open(&db).unwrap();
    let pending = Pending::start(&config, Some(cookie.as_bytes()), NOW + 1.0);
    let mut from_rusqlite = driver::open_async(&rusqlite_store, &config, pending)
        .await
        .unwrap();
    assert_eq!(from_rusqlite.get("user"), Some(&serde_json::json!("ada")));

    // One SQLite library under sqlx and rusqlite: Cargo links a single `sqlite3`
    // (`links = "sqlite3"`), so this build resolving at all is the proof.
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&pool)
        .await
        .unwrap();

    // The PostgreSQL store over an sqlx pool is there too (no server here: a lazy pool).
    let pg = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://app@localhost/app")
        .unwrap();
    let _pg_store = SqlxPostgresStore::from_pool(pg);

    pool.close().await;
    drop(rusqlite_store);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "sqlx app: a session stored through sqlx's pool (SQLite {version}) and read back by both SQLite stores"
    );
}
