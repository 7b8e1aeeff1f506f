//! Cookie-mode session behaviour beyond the recorded vectors: rotation, the deliberate
//! guards (skew, lifetime, `not_before`), load outcomes, duplicates, CSRF, limits.

use pyramid_session::session::InvalidCookie;
use pyramid_session::{
    CookieSession, FinishError, FrameError, Keyring, LoadOutcome, RandomError, SessionConfig,
    SessionData,
};
use serde_json::json;
use std::time::Duration;

const T0: f64 = 1_700_000_000.25;

fn cookie_of(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

fn issue(config: &SessionConfig, now: f64, key: &str, value: serde_json::Value) -> String {
    let mut s = CookieSession::load(config, None, now);
    s.insert(key, value);
    cookie_of(&s.finish(config, false).unwrap().unwrap())
}

fn counting_rng() -> impl FnMut(&mut [u8]) -> Result<(), RandomError> {
    let mut n = 0u8;
    move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_add(1);
            *b = n;
        }
        Ok(())
    }
}

#[test]
fn load_outcomes_name_the_reason() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let good = issue(&config, T0, "a", json!(1));
    let outcome = |header: &str, now: f64| {
        CookieSession::load(&config, Some(header.as_bytes()), now).outcome()
    };
    assert_eq!(
        CookieSession::load(&config, None, T0).outcome(),
        LoadOutcome::NoCookie
    );
    assert_eq!(outcome("other=1", T0), LoadOutcome::NoCookie);
    assert_eq!(outcome(&good, T0 + 1.0), LoadOutcome::Valid);
    assert_eq!(
        outcome("session=a+b/", T0),
        LoadOutcome::Invalid(InvalidCookie::Encoding)
    );
    assert_eq!(
        outcome(&format!("{good}AAAA"), T0),
        LoadOutcome::Invalid(InvalidCookie::Signature)
    );
    assert_eq!(outcome(&good, T0 + 1201.0), LoadOutcome::Expired);
    let ring = Keyring::new(
        pyramid_session::HashAlg::Sha512,
        "pyramid.session.",
        &["seekrit"],
    )
    .unwrap();
    let not_json = format!("session={}", ring.sign(b"not json"));
    assert_eq!(
        outcome(&not_json, T0),
        LoadOutcome::Invalid(InvalidCookie::Frame(FrameError::Syntax))
    );
}

#[test]
fn rotation_resigns_with_the_new_secret_and_dropping_the_old_one_rejects() {
    let old = SessionConfig::pyramid("old-secret").build().unwrap();
    let cookie = issue(&old, T0, "user", json!("ada"));
    let rotated = SessionConfig::pyramid("new-secret")
        .old_secret("old-secret")
        .build()
        .unwrap();
    let mut session = CookieSession::load(&rotated, Some(cookie.as_bytes()), T0 + 0.5);
    assert_eq!(session.outcome(), LoadOutcome::Rotated { key_index: 1 });
    assert_eq!(session.get("user"), Some(&json!("ada")));
    let resent = cookie_of(&session.finish(&rotated, false).unwrap().expect("re-signed"));
    let new_only = SessionConfig::pyramid("new-secret").build().unwrap();
    let mut again = CookieSession::load(&new_only, Some(resent.as_bytes()), T0 + 1.0);
    assert_eq!(again.outcome(), LoadOutcome::Valid);
    assert_eq!(again.get("user"), Some(&json!("ada")));
    assert_eq!(
        CookieSession::load(&new_only, Some(cookie.as_bytes()), T0 + 1.0).outcome(),
        LoadOutcome::Invalid(InvalidCookie::Signature)
    );
}

#[test]
fn future_skew_boundary() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let cookie = issue(&config, T0 + 60.0, "a", json!(1));
    // The cookie's accessed slot is int(T0 + 60) and created is T0 + 60.25.
    assert_eq!(
        CookieSession::load(&config, Some(cookie.as_bytes()), T0 + 0.25).outcome(),
        LoadOutcome::Valid
    );
    assert_eq!(
        CookieSession::load(&config, Some(cookie.as_bytes()), T0 - 0.5).outcome(),
        LoadOutcome::Invalid(InvalidCookie::FromFuture)
    );
    let lenient = SessionConfig::pyramid("seekrit")
        .max_future_skew(None)
        .build()
        .unwrap();
    assert_eq!(
        CookieSession::load(&lenient, Some(cookie.as_bytes()), T0 - 1e6).outcome(),
        LoadOutcome::Valid
    );
}

#[test]
fn absolute_lifetime_holds_even_when_reissued() {
    let config = SessionConfig::pyramid("seekrit")
        .max_lifetime(Some(Duration::from_secs(3600)))
        .build()
        .unwrap();
    let mut cookie = issue(&config, T0, "a", json!(1));
    let mut now = T0;
    // Read every 10 minutes: reissued each time, never idle-expired.
    for _ in 0..5 {
        now += 600.0;
        let mut s = CookieSession::load(&config, Some(cookie.as_bytes()), now);
        assert_eq!(s.outcome(), LoadOutcome::Valid);
        assert_eq!(s.created(), T0, "reissue never resets created");
        s.get("a");
        cookie = cookie_of(&s.finish(&config, false).unwrap().unwrap());
    }
    now += 600.5;
    let mut s = CookieSession::load(&config, Some(cookie.as_bytes()), now);
    assert_eq!(
        s.outcome(),
        LoadOutcome::Invalid(InvalidCookie::LifetimeExceeded)
    );
    assert!(s.is_new());
    assert_eq!(s.get("a"), None);
}

#[test]
fn not_before_revokes_older_sessions() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let cookie = issue(&config, T0, "a", json!(1));
    let revoking = SessionConfig::pyramid("seekrit")
        .not_before(Some((T0 + 1.0).into()))
        .build()
        .unwrap();
    assert_eq!(
        CookieSession::load(&revoking, Some(cookie.as_bytes()), T0 + 2.0).outcome(),
        LoadOutcome::Invalid(InvalidCookie::Revoked)
    );
    let later = issue(&revoking, T0 + 2.0, "a", json!(1));
    assert_eq!(
        CookieSession::load(&revoking, Some(later.as_bytes()), T0 + 3.0).outcome(),
        LoadOutcome::Valid
    );
}

#[test]
fn first_cookie_that_verifies_wins_whatever_the_order() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let real = issue(&config, T0, "who", json!("real"));
    let other_app = SessionConfig::pyramid("other").build().unwrap();
    let tossed = issue(&other_app, T0, "who", json!("tossed"));
    for header in [
        format!("{tossed}; {real}"),
        format!("{real}; {tossed}"),
        format!("session=junk; {real}"),
    ] {
        let mut s = CookieSession::load(&config, Some(header.as_bytes()), T0 + 1.0);
        assert_eq!(s.get("who"), Some(&json!("real")), "{header}");
    }
}

#[test]
fn reissue_keeps_every_cookie_attribute() {
    let config = SessionConfig::secure("seekrit")
        .cookie_name("__Host-sid")
        .max_age(Some(Duration::from_secs(3600)))
        .samesite(Some(pyramid_session::SameSite::Strict))
        .build()
        .unwrap();
    let first = {
        let mut s = CookieSession::load(&config, None, T0);
        s.insert("a", json!(1));
        s.finish(&config, false).unwrap().unwrap()
    };
    let mut s = CookieSession::load(&config, Some(cookie_of(&first).as_bytes()), T0 + 121.0);
    s.get("a");
    let reissued = s
        .finish(&config, false)
        .unwrap()
        .expect("reissue after 120 s");
    let attrs = |h: &str| {
        h.split_once(';')
            .unwrap()
            .1
            .replace(|c: char| c.is_ascii_digit(), "#")
    };
    assert_eq!(attrs(&first), attrs(&reissued));
    assert!(reissued.ends_with(
        "; Path=/; expires=Tue, 14-Nov-2023 23:15:21 GMT; secure; HttpOnly; SameSite=Strict"
    ));
}

#[test]
fn set_on_exception_and_size_limit() {
    let quiet = SessionConfig::pyramid("seekrit")
        .set_on_exception(false)
        .build()
        .unwrap();
    let mut s = CookieSession::load(&quiet, None, T0);
    s.insert("a", json!(1));
    assert_eq!(s.finish(&quiet, true), Ok(None));
    assert!(s.finish(&quiet, false).unwrap().is_some());

    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let mut s = CookieSession::load(&config, None, T0);
    s.insert("blob", json!("x".repeat(2950)));
    assert!(matches!(
        s.finish(&config, false),
        Err(FinishError::CookieTooLong { .. })
    ));
}

#[test]
fn csrf_tokens() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let mut s = CookieSession::load(&config, None, T0);
    assert!(!s.check_csrf_token(""));
    let token = s.get_csrf_token(&mut counting_rng()).unwrap();
    assert_eq!(token, "0102030405060708090a0b0c0d0e0f1011121314");
    assert_eq!(s.get_csrf_token(&mut counting_rng()).unwrap(), token);
    assert!(s.check_csrf_token(&token));
    assert!(!s.check_csrf_token(&token[..39]));
    assert!(!s.check_csrf_token("0102030405060708090a0b0c0d0e0f1011121315"));
    let mut failing = |_: &mut [u8]| Err(RandomError);
    assert_eq!(s.new_csrf_token(&mut failing), Err(RandomError));
    assert!(
        s.check_csrf_token(&token),
        "a failed rotation keeps the old token"
    );
}

#[test]
fn flash_queues_tolerate_foreign_values() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let mut s = CookieSession::load(&config, None, T0);
    s.insert("_f_", json!("not a list"));
    s.flash(json!("hi"), "", true);
    assert_eq!(s.peek_flash(""), vec![json!("hi")]);
    s.flash(json!("hi"), "", false);
    assert_eq!(s.pop_flash(""), vec![json!("hi")]);
    assert_eq!(s.pop_flash(""), Vec::<serde_json::Value>::new());
}

/// `session=…` first, then junk cookies until the header is well over 16 KiB.
fn tossed(cookie: &str) -> String {
    let mut header = cookie.to_string();
    let mut i = 0;
    while header.len() <= 2 * pyramid_session::cookie::MAX_COOKIE_HEADER_LEN {
        header.push_str(&format!("; junk{i}={}", "x".repeat(60)));
        i += 1;
    }
    header
}

#[test]
fn junk_cookies_after_the_session_cookie_do_not_log_out() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let good = issue(&config, T0, "user", json!("ada"));
    let header = tossed(&good);
    let mut s = CookieSession::load(&config, Some(header.as_bytes()), T0 + 1.0);
    assert_eq!(s.outcome(), LoadOutcome::Valid);
    assert_eq!(s.get("user"), Some(&json!("ada")));
    // The session cookie cut by the 16 KiB boundary is not half-read.
    let mut cut = "a=1; ".to_string();
    cut.push_str(&" ".repeat(pyramid_session::cookie::MAX_COOKIE_HEADER_LEN - cut.len() - 20));
    cut.push_str(&good);
    let s = CookieSession::load(&config, Some(cut.as_bytes()), T0 + 1.0);
    assert_eq!(s.outcome(), LoadOutcome::NoCookie);
}

#[test]
fn name_and_value_over_4096_bytes_are_refused() {
    // A value Pyramid accepts (at most 4064) whose `name=value` browsers would drop.
    let short = SessionConfig::pyramid("seekrit").build().unwrap();
    let mut s = CookieSession::load(&short, None, T0);
    s.insert("blob", json!("x".repeat(2900)));
    let value_len = s.signed_value(&short).unwrap().len();
    assert!(value_len <= 4064, "{value_len}");
    let named = |name_len: usize| {
        SessionConfig::pyramid("seekrit")
            .cookie_name(&"n".repeat(name_len))
            .build()
            .unwrap()
    };
    // `name=value` of exactly 4096 bytes is fine.
    let fits = named(4096 - 1 - value_len);
    let set_cookie = s.finish(&fits, false).unwrap().unwrap();
    assert_eq!(cookie_of(&set_cookie).len(), 4096);
    // One byte more is refused, by `finish` and `signed_value` alike.
    let over = named(4097 - 1 - value_len);
    let err = s.finish(&over, false).unwrap_err();
    assert!(
        matches!(err, FinishError::CookieTooLong { len: 4097, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().is_empty());
    assert_eq!(s.signed_value(&over), Err(err));
}
