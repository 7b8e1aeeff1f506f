//! One hot session under contention, as real HTTP against two demo instances sharing a
//! Redis or PostgreSQL store: 32 concurrent writers × 20 increments each, alternating
//! between the instances. Compare-and-set with jittered backoff must give zero errors and
//! the exact count.
// Test harness code times its own waits and real servers; the crate under test does not.
#![allow(clippy::disallowed_methods)]

mod demo;
mod servers;

use demo::{Client, Demo};
use serde_json::json;

const WRITERS: usize = 32;
const PER_WRITER: usize = 20;

fn hot_session(store_url: &str) {
    let args = ["--store", store_url, "--secret", "contention-secret"];
    let (a, b) = (Demo::start(&args), Demo::start(&args));
    let mut c = Client::new();
    let r = c.post_form(&a.url("/api/login"), &[("user", "ada")]);
    assert_eq!(r.status, 200, "{}", r.body);
    let urls = [a.url("/api/increment"), b.url("/api/increment")];
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (mut client, urls) = (c.clone(), urls.clone());
            std::thread::spawn(move || {
                let mut errors = Vec::new();
                for i in 0..PER_WRITER {
                    let r = client.post_form(&urls[(w + i) % 2], &[]);
                    if r.status != 200 {
                        errors.push(format!("{} {}", r.status, r.body));
                    }
                }
                errors
            })
        })
        .collect();
    let errors: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let count = c.get(&b.url("/api/session")).json()["count"].clone();
    assert!(
        errors.is_empty(),
        "{} of {} increments failed (final count {count}): {:?}",
        errors.len(),
        WRITERS * PER_WRITER,
        &errors[..errors.len().min(5)]
    );
    assert_eq!(count, json!(WRITERS * PER_WRITER));
}

#[test]
fn hot_session_on_redis_through_two_instances() {
    let redis = servers::RedisServer::start();
    hot_session(&redis.url());
}

#[test]
fn hot_session_on_postgres_through_two_instances() {
    let postgres = servers::PostgresServer::start();
    hot_session(&postgres.url());
}
