//! End-to-end: the demo app as a real process, driven over HTTP with a cookie jar.
// Test harness code times its own waits and real servers; the crate under test does not.
#![allow(clippy::disallowed_methods)]

mod demo;
mod servers;

use std::time::Duration;

use demo::{Client, Demo};
use serde_json::json;

fn session_id(client: &Client) -> String {
    // The CubicWeb id cookie: signed [accessed, created, {"sessioneid": id}]; the id is
    // the JSON inside the payload, which is readable (signed, not encrypted).
    let value = client.cookies.get("session").expect("a session cookie");
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&raw[64..]).unwrap();
    payload[2]["sessioneid"].as_str().unwrap().to_string()
}

#[test]
fn api_login_increment_logout() {
    let demo = Demo::start(&["--store", "memory"]);
    let mut c = Client::new();
    assert_eq!(
        c.get(&demo.url("/api/session")).json(),
        json!({"user": null, "count": 0})
    );
    assert!(c.cookies.is_empty(), "a read-only visit sets no cookie");

    let r = c.post_form(&demo.url("/api/login"), &[("user", "ada")]);
    assert_eq!((r.status, r.json()), (200, json!({"user": "ada"})));
    assert!(
        r.set_cookies[0].ends_with("; Path=/; HttpOnly; SameSite=Lax"),
        "{:?}",
        r.set_cookies
    );
    assert_eq!(r.header("vary"), ["Cookie"]);
    assert_eq!(r.header("cache-control"), ["private"]);
    let first_id = session_id(&c);

    for n in 1..=3 {
        assert_eq!(
            c.post_form(&demo.url("/api/increment"), &[]).json(),
            json!({"count": n})
        );
    }
    assert_eq!(
        c.get(&demo.url("/api/session")).json(),
        json!({"user": "ada", "count": 3})
    );

    // Logging in again regenerates the id; the data moves along.
    let before = c.clone();
    c.post_form(&demo.url("/api/login"), &[("user", "bob")]);
    let second_id = session_id(&c);
    assert_ne!(first_id, second_id);
    assert_eq!(
        c.get(&demo.url("/api/session")).json(),
        json!({"user": "bob", "count": 3})
    );
    // The pre-login cookie is dead.
    let mut old = before.clone();
    assert_eq!(
        old.get(&demo.url("/api/session")).json(),
        json!({"user": null, "count": 0})
    );

    // Logout: the record is removed server-side and the cookie deleted.
    let stolen = c.clone();
    let r = c.post_form(&demo.url("/api/logout"), &[]);
    assert_eq!(r.json(), json!({"ok": true}));
    assert!(
        r.set_cookies[0].starts_with("session=; Max-Age=0; Path=/"),
        "{:?}",
        r.set_cookies
    );
    assert!(c.cookies.is_empty());
    // A copy of the old cookie replayed after logout gets nothing.
    let mut replay = stolen;
    assert_eq!(
        replay.get(&demo.url("/api/session")).json(),
        json!({"user": null, "count": 0})
    );
}

#[test]
fn idle_timeout_expires_the_session() {
    let demo = Demo::start(&["--store", "memory", "--timeout", "2"]);
    let mut c = Client::new();
    c.post_form(&demo.url("/api/login"), &[("user", "ada")]);
    assert_eq!(c.get(&demo.url("/api/session")).json()["user"], "ada");
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(
        c.get(&demo.url("/api/session")).json(),
        json!({"user": null, "count": 0})
    );
}

#[test]
fn concurrent_increments_over_http() {
    let demo = Demo::start(&[]); // the default store: SQLite in a file
    let mut c = Client::new();
    c.post_form(&demo.url("/api/login"), &[("user", "ada")]);
    let url = demo.url("/api/increment");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (mut client, url) = (c.clone(), url.clone());
            std::thread::spawn(move || {
                for _ in 0..100 {
                    let r = client.post_form(&url, &[]);
                    assert_eq!(r.status, 200, "{}", r.body);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        c.get(&demo.url("/api/session")).json(),
        json!({"user": "ada", "count": 800})
    );
}

#[test]
fn sessions_survive_a_restart_with_the_default_store() {
    let mut demo = Demo::start(&[]);
    let mut c = Client::new();
    c.post_form(&demo.url("/api/login"), &[("user", "ada")]);
    c.post_form(&demo.url("/api/increment"), &[]);
    demo.restart();
    assert_eq!(
        c.get(&demo.url("/api/session")).json(),
        json!({"user": "ada", "count": 1})
    );
    // In the data directory, never the working directory.
    assert!(demo.data().join("sessions.db").exists());
    assert!(demo.data().join("secret.txt").exists());
    let in_cwd: Vec<_> = std::fs::read_dir(&demo.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        in_cwd,
        ["pyramid-session-demo"],
        "the working directory holds only it"
    );
}

#[test]
fn forms_require_the_csrf_token() {
    let demo = Demo::start(&["--store", "memory"]);
    let mut c = Client::new();
    let page = c.get(&demo.url("/")).body;
    assert!(page.contains("id=\"login\""));
    assert_eq!(
        c.post_form(&demo.url("/login"), &[("user", "eve")]).status,
        403
    );
    assert_eq!(
        c.post_form(
            &demo.url("/login"),
            &[("user", "eve"), ("csrf_token", "0000")]
        )
        .status,
        403
    );
    let token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = c.post_form(
        &demo.url("/login"),
        &[("user", "ada"), ("csrf_token", &token)],
    );
    assert_eq!(r.status, 303);
    let page = c.get(&demo.url("/")).body;
    assert!(page.contains("<strong id=\"user\">ada</strong>"), "{page}");
    assert!(page.contains("Welcome, ada!"));
}

#[test]
fn store_outage_answers_503_json() {
    let mut redis = servers::RedisServer::start();
    let demo = Demo::start(&["--store", &redis.url()]);
    let mut c = Client::new();
    c.post_form(&demo.url("/api/login"), &[("user", "ada")]);
    let cookie = c.cookies.clone();
    redis.stop();
    let r = c.get(&demo.url("/api/session"));
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("session store"));
    let r = c.post_form(&demo.url("/api/increment"), &[]);
    assert_eq!(r.status, 503);
    assert!(r.set_cookies.is_empty());
    assert_eq!(c.cookies, cookie);
    redis.resume();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = c.get(&demo.url("/api/session"));
        if r.status == 200 {
            assert_eq!(r.json(), json!({"user": "ada", "count": 0}));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no recovery: {}",
            r.body
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn page_token(page: &str) -> String {
    page.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn cross_site_posts_are_refused_before_the_session_is_touched() {
    let demo = Demo::start(&["--store", "memory"]);
    let mut c = Client::new();
    assert_eq!(
        c.post_form(&demo.url("/api/login"), &[("user", "ada")])
            .status,
        200
    );
    let own = format!("http://127.0.0.1:{}", demo.port);
    let refused: [&[(&str, &str)]; 4] = [
        &[("Origin", "http://evil.example")],
        &[("Origin", "null")],
        &[("Sec-Fetch-Site", "cross-site")],
        &[("Sec-Fetch-Site", "same-site"), ("Origin", own.as_str())],
    ];
    for headers in refused {
        for path in ["/api/logout", "/api/login", "/api/increment", "/logout"] {
            let r = c.post_form_with(&demo.url(path), &[("user", "mallory")], headers);
            assert_eq!(r.status, 403, "{path} {headers:?}: {}", r.body);
            assert!(r.set_cookies.is_empty());
        }
    }
    assert_eq!(
        c.get(&demo.url("/api/session")).json(),
        json!({"user": "ada", "count": 0}),
        "still logged in as ada, nothing counted"
    );
    // The app's own pages, and scripts that send neither header, still work.
    let same: [&[(&str, &str)]; 3] = [
        &[("Origin", own.as_str()), ("Sec-Fetch-Site", "same-origin")],
        &[("Sec-Fetch-Site", "none")],
        &[],
    ];
    for headers in same {
        let r = c.post_form_with(&demo.url("/api/increment"), &[], headers);
        assert_eq!(r.status, 200, "{headers:?}: {}", r.body);
    }
}

#[test]
fn the_csrf_token_rotates_at_login() {
    let demo = Demo::start(&["--store", "memory"]);
    let mut c = Client::new();
    c.post_form(&demo.url("/api/login"), &[("user", "ada")]);
    let before = page_token(&c.get(&demo.url("/")).body);
    let r = c.post_form(
        &demo.url("/login"),
        &[("user", "bob"), ("csrf_token", &before)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = c.get(&demo.url("/")).body;
    assert!(page.contains("<strong id=\"user\">bob</strong>"), "{page}");
    let after = page_token(&page);
    assert_ne!(before, after, "a new token after login");
    let r = c.post_form(&demo.url("/increment"), &[("csrf_token", &before)]);
    assert_eq!(r.status, 403, "the old token is dead");
    let r = c.post_form(&demo.url("/increment"), &[("csrf_token", &after)]);
    assert_eq!(r.status, 303);
}

#[test]
fn anonymous_page_views_store_nothing() {
    let demo = Demo::start(&["--store", "sqlite:sessions.db"]);
    for _ in 0..25 {
        let mut c = Client::new();
        let page = c.get(&demo.url("/")).body;
        assert!(page.contains("id=\"anonymous\""));
        // The login form still works from such a page.
        if c.cookies.len() == 1 {
            let token = page_token(&page);
            let r = c.post_form(
                &demo.url("/login"),
                &[("user", "ada"), ("csrf_token", &token)],
            );
            assert_eq!(r.status, 303);
            break;
        }
    }
    for _ in 0..50 {
        Client::new().get(&demo.url("/"));
    }
    let db = rusqlite::Connection::open(demo.dir.join("sessions.db")).unwrap();
    let rows: i64 = db
        .query_row("SELECT COUNT(*) FROM pyramid_sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1, "only the logged-in session is stored");
}

#[test]
fn user_names_and_bodies_are_capped() {
    let demo = Demo::start(&["--store", "memory"]);
    let mut c = Client::new();
    let long = "x".repeat(65);
    let r = c.post_form(&demo.url("/api/login"), &[("user", &long)]);
    assert_eq!(r.status, 400, "{}", r.body);
    let big = "x".repeat(20 << 10);
    let r = c.post_form(&demo.url("/api/login"), &[("user", &big)]);
    assert_eq!(r.status, 413);
    // 2 MB: refused too (the server may close before the client has sent it all).
    let huge = "x".repeat(2 << 20);
    if let Some(r) = c.try_post_form(&demo.url("/api/login"), &[("user", &huge)]) {
        assert_eq!(r.status, 413);
    }
    assert!(c.cookies.is_empty());
    let ok = "é".repeat(64);
    let r = c.post_form(&demo.url("/api/login"), &[("user", &ok)]);
    assert_eq!(r.json(), json!({ "user": ok }));
}

#[cfg(unix)]
#[test]
fn demo_files_are_private_and_the_secret_can_come_from_a_file() {
    use std::os::unix::fs::PermissionsExt;
    let demo = Demo::start(&[]);
    let mut c = Client::new();
    c.post_form(&demo.url("/api/login"), &[("user", "ada")]);
    let dir_mode = std::fs::metadata(demo.data()).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o077, 0, "the data directory is {dir_mode:o}");
    for file in ["secret.txt", "sessions.db"] {
        let mode = std::fs::metadata(demo.data().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{file} is {mode:o}");
    }
    let path = std::env::temp_dir().join(format!("demo-secret-{}", std::process::id()));
    std::fs::write(&path, "from-a-file\n").unwrap();
    let demo = Demo::start(&["--store", "memory", "--secret-file", path.to_str().unwrap()]);
    let mut c = Client::new();
    c.post_form(&demo.url("/api/login"), &[("user", "ada")]);
    let value = c.cookies.get("session").unwrap();
    let config = pyramid_session::SessionConfig::cubicweb("from-a-file")
        .build()
        .unwrap();
    assert!(
        pyramid_session::server::IdCookieFormat::CubicWeb
            .decode(&config, value.as_bytes())
            .is_some(),
        "signed with the file's secret (newline stripped)"
    );
    let _ = std::fs::remove_file(path);
}
