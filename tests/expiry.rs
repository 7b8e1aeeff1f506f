//! Per-session expiry ("remember me"): a session with its own idle timeout and cookie
//! `Max-Age` outlives the configured timeout but not its own, in cookie mode and in
//! server mode (the record's expiry in the memory store and in SQLite), within the
//! configured `max_expiry`; sessions without one behave as before.
#![allow(clippy::disallowed_methods)] // the test servers' own deadlines

mod servers;

use std::time::Duration;

use pyramid_session::driver;
use pyramid_session::policy::Expiry;
use pyramid_session::server::{
    IdCookieFormat, Pending, ServerConfig, ServerSession, Store, StoreExt,
};
use pyramid_session::session::EXPIRY_KEY;
use pyramid_session::store::MemoryStore;
use pyramid_session::{CookieSession, LoadOutcome, OsRandom, SessionConfig};
use serde_json::json;

const T0: f64 = 1_700_000_000.0;
const DAY: u64 = 86_400;

fn month() -> Option<Expiry> {
    Some(Expiry::OnInactivity(Duration::from_secs(30 * DAY)))
}

/// The `name=value` part of a `Set-Cookie` value.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// The value of attribute `name` in a `Set-Cookie` value, if present.
fn attribute(set_cookie: &str, name: &str) -> Option<String> {
    set_cookie.split("; ").skip(1).find_map(|a| {
        let (k, v) = a.split_once('=').unwrap_or((a, ""));
        k.eq_ignore_ascii_case(name).then(|| v.to_string())
    })
}

mod cookie_mode {
    use super::*;

    fn login(config: &SessionConfig, expiry: Option<Expiry>) -> String {
        let mut session = CookieSession::load(config, None, T0);
        session.insert("user", json!("ada"));
        session.set_expiry(expiry);
        session.finish(config, false).unwrap().unwrap()
    }

    fn user_at(config: &SessionConfig, set_cookie: &str, now: f64) -> (LoadOutcome, bool) {
        let cookie = pair(set_cookie);
        let mut session = CookieSession::load(config, Some(cookie.as_bytes()), now);
        (
            session.outcome(),
            session.get("user") == Some(&json!("ada")),
        )
    }

    #[test]
    fn a_remembered_session_outlives_the_default_timeout_but_not_its_own() {
        let config = SessionConfig::pyramid("seekrit").build().unwrap();
        let set_cookie = login(&config, month());
        assert_eq!(
            attribute(&set_cookie, "Max-Age").as_deref(),
            Some("2592000")
        );
        assert_eq!(
            attribute(&set_cookie, "expires").as_deref(),
            Some("Thu, 14-Dec-2023 22:13:20 GMT"),
            "{set_cookie}"
        );
        // The default timeout is 1200 s: a week later the user is still in.
        assert_eq!(
            user_at(&config, &set_cookie, T0 + 7.0 * DAY as f64),
            (LoadOutcome::Valid, true)
        );
        // Exactly its own timeout is still in (strict `>`), a second more is not.
        assert_eq!(
            user_at(&config, &set_cookie, T0 + 30.0 * DAY as f64),
            (LoadOutcome::Valid, true)
        );
        assert_eq!(
            user_at(&config, &set_cookie, T0 + 30.0 * DAY as f64 + 1.0),
            (LoadOutcome::Expired, false)
        );
    }

    #[test]
    fn a_default_session_expires_as_before() {
        let config = SessionConfig::pyramid("seekrit").build().unwrap();
        let set_cookie = login(&config, None);
        assert_eq!(attribute(&set_cookie, "Max-Age"), None);
        assert!(!set_cookie.contains(EXPIRY_KEY.trim_matches('_')));
        assert_eq!(
            user_at(&config, &set_cookie, T0 + 1200.0),
            (LoadOutcome::Valid, true)
        );
        assert_eq!(
            user_at(&config, &set_cookie, T0 + 1201.0),
            (LoadOutcome::Expired, false)
        );
    }

    #[test]
    fn the_expiry_survives_requests_and_reissues_and_can_be_dropped() {
        let config = SessionConfig::pyramid("seekrit").build().unwrap();
        let first = login(&config, month());
        // A read two days later reissues (reissue 0): the new cookie keeps the expiry.
        let cookie = pair(&first);
        let later = T0 + 2.0 * DAY as f64;
        let mut session = CookieSession::load(&config, Some(cookie.as_bytes()), later);
        assert_eq!(session.expiry(), month());
        assert!(session.get("user").is_some());
        let second = session.finish(&config, false).unwrap().unwrap();
        assert_eq!(attribute(&second, "Max-Age").as_deref(), Some("2592000"));
        assert_eq!(
            user_at(&config, &second, later + 29.0 * DAY as f64),
            (LoadOutcome::Valid, true)
        );
        // Back to the default: no Max-Age, the default timeout from then on.
        let cookie = pair(&second);
        let mut session = CookieSession::load(&config, Some(cookie.as_bytes()), later);
        session.set_expiry(None);
        assert_eq!(session.expiry(), None);
        let third = session.finish(&config, false).unwrap().unwrap();
        assert_eq!(attribute(&third, "Max-Age"), None);
        assert_eq!(
            user_at(&config, &third, later + 1201.0),
            (LoadOutcome::Expired, false)
        );
        // Logout (Pyramid's invalidate clears the state) drops it too.
        let cookie = pair(&second);
        let mut session = CookieSession::load(&config, Some(cookie.as_bytes()), later);
        session.invalidate();
        assert_eq!(session.expiry(), None);
    }

    #[test]
    fn the_configured_maximum_caps_the_session_and_its_cookie() {
        let config = SessionConfig::pyramid("seekrit")
            .max_expiry(Some(Duration::from_secs(7 * DAY)))
            .build()
            .unwrap();
        let set_cookie = login(&config, month());
        assert_eq!(attribute(&set_cookie, "Max-Age").as_deref(), Some("604800"));
        assert_eq!(
            user_at(&config, &set_cookie, T0 + 7.0 * DAY as f64),
            (LoadOutcome::Valid, true)
        );
        assert_eq!(
            user_at(&config, &set_cookie, T0 + 8.0 * DAY as f64),
            (LoadOutcome::Expired, false)
        );
        // Lowering the maximum later applies to cookies already issued.
        let lower = SessionConfig::pyramid("seekrit")
            .max_expiry(Some(Duration::from_secs(DAY)))
            .build()
            .unwrap();
        assert_eq!(
            user_at(&lower, &set_cookie, T0 + 2.0 * DAY as f64),
            (LoadOutcome::Expired, false)
        );
        // The absolute lifetime bounds it too.
        let lifetime = SessionConfig::pyramid("seekrit")
            .max_lifetime(Some(Duration::from_secs(3 * DAY)))
            .build()
            .unwrap();
        let set_cookie = login(&lifetime, month());
        assert!(user_at(&lifetime, &set_cookie, T0 + 2.0 * DAY as f64).1);
        assert!(!user_at(&lifetime, &set_cookie, T0 + 4.0 * DAY as f64).1);
    }

    #[test]
    fn a_browser_session_cookie_drops_the_configured_max_age() {
        let config = SessionConfig::pyramid("seekrit")
            .max_age(Some(Duration::from_secs(3600)))
            .build()
            .unwrap();
        assert_eq!(
            attribute(&login(&config, None), "Max-Age").as_deref(),
            Some("3600")
        );
        let set_cookie = login(&config, Some(Expiry::OnSessionEnd));
        assert_eq!(attribute(&set_cookie, "Max-Age"), None);
        assert_eq!(attribute(&set_cookie, "expires"), None);
        // The configured idle timeout still applies.
        assert!(!user_at(&config, &set_cookie, T0 + 1201.0).1);
    }

    #[test]
    fn a_python_peer_sees_an_ordinary_state_key() {
        let config = SessionConfig::pyramid("seekrit").build().unwrap();
        let set_cookie = login(&config, month());
        let value = pair(&set_cookie);
        let value = value.split_once('=').unwrap().1;
        let (payload, _) = config.keyring().verify(value.as_bytes()).unwrap();
        assert_eq!(
            std::str::from_utf8(&payload).unwrap(),
            r#"[1700000000, 1700000000.0, {"user": "ada", "_expiry_": 2592000}]"#
        );
    }
}

mod server_mode {
    use super::*;

    /// One request: opens the session from `cookie`, runs `f`, finishes; the
    /// `Set-Cookie` value, if any.
    fn request<S: Store>(
        store: &S,
        config: &ServerConfig,
        cookie: Option<&str>,
        now: f64,
        f: impl FnOnce(&mut ServerSession),
    ) -> (Option<String>, ServerSession) {
        let pending = Pending::start(config, cookie.map(str::as_bytes), now);
        let mut session = driver::open(store, config, pending).unwrap();
        f(&mut session);
        let set = driver::finish(store, config, &mut session, false, &mut OsRandom).unwrap();
        (set, session)
    }

    fn config(format: IdCookieFormat, max_expiry: Option<u64>) -> ServerConfig {
        let session = SessionConfig::secure("s3cret")
            .max_expiry(max_expiry.map(Duration::from_secs))
            .build()
            .unwrap();
        ServerConfig::new(session, format).unwrap()
    }

    /// Logs in with `expiry`; the cookie pair and the record's expiry in the store.
    fn login<S: Store>(store: &S, config: &ServerConfig, expiry: Option<Expiry>) -> (String, f64) {
        let (set, session) = request(store, config, None, T0, |s| {
            s.insert("user", json!("ada"));
            s.set_expiry(expiry);
        });
        let set = set.unwrap();
        let expected = expiry.map(|_| (30 * DAY).to_string());
        assert_eq!(attribute(&set, "Max-Age"), expected, "{set}");
        let key = config.id_scheme().key(session.id().unwrap());
        let record = store.load(&key, T0).unwrap().unwrap();
        (pair(&set), record.expires_at.as_secs_f64())
    }

    /// A read at `now`: is the user in, and the cookie to send next (the re-sent one, or
    /// the same).
    fn user_at<S: Store>(
        store: &S,
        config: &ServerConfig,
        cookie: &str,
        now: f64,
    ) -> (bool, String) {
        let mut inside = false;
        let (set, _) = request(store, config, Some(cookie), now, |s| {
            inside = s.get("user") == Some(&json!("ada"));
        });
        (inside, set.map_or(cookie.to_string(), |set| pair(&set)))
    }

    fn remembered_outlives_default<S: Store>(store: &S, format: IdCookieFormat) {
        let config = config(format, None);
        let (cookie, expires_at) = login(store, &config, month());
        // The record's expiry (the store's TTL) is the session's own.
        assert_eq!(expires_at, T0 + (30 * DAY) as f64);
        let (inside, cookie) = user_at(store, &config, &cookie, T0 + (7 * DAY) as f64);
        assert!(inside, "a week later, past the default timeout");
        let (inside, _) = user_at(store, &config, &cookie, T0 + (37 * DAY) as f64 + 1.0);
        assert!(!inside, "its own timeout after the last use");
    }

    fn default_expires_as_before<S: Store>(store: &S, format: IdCookieFormat) {
        let config = config(format, None);
        let (cookie, expires_at) = login(store, &config, None);
        assert_eq!(expires_at, T0 + 1200.0);
        let (inside, cookie) = user_at(store, &config, &cookie, T0 + 1100.0);
        assert!(inside);
        // Read at +1100 s: renewed (reissue 120 s), so +2200 s is still in.
        let (inside, cookie) = user_at(store, &config, &cookie, T0 + 2200.0);
        assert!(inside);
        let (inside, _) = user_at(store, &config, &cookie, T0 + 2200.0 + 1201.0);
        assert!(!inside);
    }

    #[test]
    fn memory_store_cubicweb_cookie() {
        remembered_outlives_default(&MemoryStore::new(), IdCookieFormat::CubicWeb);
        default_expires_as_before(&MemoryStore::new(), IdCookieFormat::CubicWeb);
    }

    #[test]
    fn memory_store_pyramid_session_redis_cookie() {
        remembered_outlives_default(&MemoryStore::new(), IdCookieFormat::PyramidSessionRedis);
        default_expires_as_before(&MemoryStore::new(), IdCookieFormat::PyramidSessionRedis);
    }

    #[test]
    fn sqlite_store_keeps_the_records_own_expiry() {
        let dir = servers::TempDir::new("expiry");
        let store = pyramid_session::store::SqliteStore::open(dir.0.join("s.db")).unwrap();
        remembered_outlives_default(&store, IdCookieFormat::CubicWeb);
        default_expires_as_before(&store, IdCookieFormat::CubicWeb);
    }

    #[test]
    fn renewals_and_changes_keep_the_expiry_and_resend_the_cookie() {
        let store = MemoryStore::new();
        let config = config(IdCookieFormat::CubicWeb, None);
        let (cookie, _) = login(&store, &config, month());
        // A read after the reissue time extends the record by the session's own timeout
        // and re-sends the cookie with its Max-Age.
        let later = T0 + (2 * DAY) as f64;
        let (set, session) = request(&store, &config, Some(&cookie), later, |s| {
            assert_eq!(s.expiry(), month());
            assert!(s.get("user").is_some());
        });
        let set = set.unwrap();
        assert_eq!(attribute(&set, "Max-Age").as_deref(), Some("2592000"));
        let key = config.id_scheme().key(session.id().unwrap());
        let record = store.load(&key, later).unwrap().unwrap();
        assert_eq!(record.expires_at.as_secs_f64(), later + (30 * DAY) as f64);
        // Back to the default: saved, the cookie re-sent without Max-Age, the record's
        // expiry a default timeout away.
        let cookie = pair(&set);
        let (set, _) = request(&store, &config, Some(&cookie), later + 1.0, |s| {
            s.set_expiry(None);
        });
        assert_eq!(attribute(&set.unwrap(), "Max-Age"), None);
        let record = store.load(&key, later).unwrap().unwrap();
        assert_eq!(record.expires_at.as_secs_f64(), later + 1.0 + 1200.0);
        // Setting what is already set writes nothing.
        let (set, _) = request(&store, &config, Some(&cookie), later + 2.0, |s| {
            s.set_expiry(None);
        });
        assert_eq!(set, None);
    }

    #[test]
    fn the_configured_maximum_caps_the_records_expiry() {
        let store = MemoryStore::new();
        let config = config(IdCookieFormat::CubicWeb, Some(7 * DAY));
        let (_, session) = request(&store, &config, None, T0, |s| {
            s.insert("user", json!("ada"));
            s.set_expiry(month());
        });
        let key = config.id_scheme().key(session.id().unwrap());
        let record = store.load(&key, T0).unwrap().unwrap();
        assert_eq!(record.expires_at.as_secs_f64(), T0 + (7 * DAY) as f64);
    }

    #[test]
    fn a_stale_default_cookie_is_still_refused_once_its_record_is_read() {
        // A CubicWeb id cookie older than the default timeout names a record that a
        // request on another cookie kept alive: as before, that old cookie is refused.
        let store = MemoryStore::new();
        let config = config(IdCookieFormat::CubicWeb, None);
        let (old_cookie, _) = login(&store, &config, None);
        let (set, session) = request(&store, &config, Some(&old_cookie), T0 + 1000.0, |s| {
            s.insert("n", json!(1));
        });
        let fresh_cookie = pair(&set.unwrap());
        assert!(user_at(&store, &config, &fresh_cookie, T0 + 2000.0).0);
        let (_, mut stale) = request(&store, &config, Some(&old_cookie), T0 + 2100.0, |_| {});
        assert!(stale.get("user").is_none() && stale.is_new());
        assert!(!session.is_new());
    }
}
