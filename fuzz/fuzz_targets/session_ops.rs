//! Arbitrary request sequences on a cookie-mode session: load, read, write, flash, CSRF,
//! invalidate, time passing, finish. Invariants: a cookie is never honoured after the
//! idle timeout, an expired session never hands back old state, and every cookie sent
//! verifies and loads.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pyramid_session::{CookieSession, LoadOutcome, RandomError, SessionConfig, SessionData};
use serde_json::json;
use std::time::Duration;

#[derive(Arbitrary, Debug)]
enum Op {
    Read(u8),
    Write(u8, u16),
    Remove(u8),
    Flash(u8),
    PopFlash,
    Csrf,
    Invalidate,
    Changed,
}

#[derive(Arbitrary, Debug)]
struct Request {
    advance: u16,
    fraction: u8,
    ops: Vec<Op>,
    failed: bool,
}

const TIMEOUT: u64 = 600;

fuzz_target!(|requests: Vec<Request>| {
    let config = SessionConfig::pyramid("fuzz")
        .timeout(Some(Duration::from_secs(TIMEOUT)))
        .reissue_time(Some(Duration::from_secs(30)))
        .build()
        .unwrap();
    let mut now = 1_700_000_000.0;
    let mut cookie: Option<String> = None;
    let mut issued: Option<f64> = None;
    let mut rng = |buf: &mut [u8]| -> Result<(), RandomError> {
        buf.fill(7);
        Ok(())
    };
    for request in requests.iter().take(32) {
        now += f64::from(request.advance) + f64::from(request.fraction) / 256.0;
        let header = cookie.as_ref().map(|c| format!("session={c}"));
        let mut s = CookieSession::load(&config, header.as_deref().map(str::as_bytes), now);
        if let Some(at) = issued {
            let expired = now - at > TIMEOUT as f64;
            match s.outcome() {
                LoadOutcome::Valid | LoadOutcome::Rotated { .. } => {
                    assert!(!expired, "honoured after the timeout")
                }
                LoadOutcome::Expired => {
                    assert!(expired);
                    assert!(s.peek_state().is_empty(), "expired state leaked");
                }
                other => panic!("our own cookie failed to load: {other:?}"),
            }
        }
        for op in &request.ops {
            let key = |k: &u8| format!("k{}", k % 4);
            match op {
                Op::Read(k) => {
                    s.get(&key(k));
                }
                Op::Write(k, v) => {
                    s.insert(key(k), json!(v));
                }
                Op::Remove(k) => {
                    s.remove(&key(k));
                }
                Op::Flash(m) => s.flash(json!(m), "", m % 2 == 0),
                Op::PopFlash => {
                    s.pop_flash("");
                }
                Op::Csrf => {
                    let token = s.get_csrf_token(&mut rng).unwrap();
                    assert!(s.check_csrf_token(&token));
                }
                Op::Invalidate => s.invalidate(),
                Op::Changed => s.changed(),
            }
        }
        match s.finish(&config, request.failed) {
            Ok(Some(set_cookie)) => {
                let value = set_cookie
                    .split(';')
                    .next()
                    .unwrap()
                    .split_once('=')
                    .unwrap()
                    .1
                    .to_string();
                let (payload, key_index) = config
                    .keyring()
                    .verify(value.as_bytes())
                    .expect("our cookie verifies");
                assert_eq!(key_index, 0);
                let frame: serde_json::Value = serde_json::from_slice(&payload).unwrap();
                issued = Some(frame[0].as_f64().unwrap());
                cookie = Some(value);
            }
            Ok(None) => {}
            Err(e) => panic!("finish failed: {e}"),
        }
    }
});
