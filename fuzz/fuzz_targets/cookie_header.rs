//! Any bytes as a `Cookie:` header: never panics, yields only well-formed pairs, and a
//! session loads from it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyramid_session::cookie::{is_cookie_name, parse_cookie_header, MAX_COOKIE_PAIRS};
use pyramid_session::{CookieSession, SessionConfig};

fuzz_target!(|data: &[u8]| {
    let mut n = 0;
    for (name, value) in parse_cookie_header(data) {
        n += 1;
        assert!(is_cookie_name(name));
        assert!(!value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f));
    }
    assert!(n <= MAX_COOKIE_PAIRS);
    let config = SessionConfig::pyramid("fuzz").build().unwrap();
    let mut session = CookieSession::load(&config, Some(data), 1_700_000_000.0);
    session.get("a");
});
