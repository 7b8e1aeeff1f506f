//! Pyramid 1.10's pickled cookie sessions and CubicWeb's id cookies, as the real
//! CubicWeb 5.0.1 + pyramid 1.10.8 wrote them (`tests/data/cw_real_flows.json`).

use pyramid_session::codec::{Accessed, Serializer};
use pyramid_session::server::{IdCookieFormat, SessionId};
use pyramid_session::{CookieSession, LoadOutcome, SessionConfig};
use serde_json::Value;

mod common;

fn flows() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cw_real_flows.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every `session` cookie of the flows with the given include, with its step's time.
fn session_cookies(include: &str) -> Vec<(f64, Value)> {
    let flows = flows();
    let mut out = Vec::new();
    for flow in flows["flows"].as_array().unwrap() {
        if flow["session_include"] != include {
            continue;
        }
        for step in flow["steps"].as_array().unwrap() {
            for cookie in step["decoded_set_cookie"].as_array().into_iter().flatten() {
                if cookie["name"] == "session" && cookie["session_payload"].is_object() {
                    out.push((step["now"].as_f64().unwrap(), cookie.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn pickled_cookie_sessions_are_read_and_rewritten_byte_for_byte() {
    let config = SessionConfig::pyramid1("test").build().unwrap();
    assert_eq!(config.serializer(), Serializer::Pickle);
    let cookies = session_cookies("cubicweb.pyramid.default_session");
    assert!(cookies.len() >= 5, "{}", cookies.len());
    for (now, cookie) in cookies {
        let value = cookie["value"].as_str().unwrap();
        let payload = common::hex(cookie["session_payload"]["hex"].as_str().unwrap());
        let verified = config
            .keyring()
            .with_verified(value.as_bytes(), |v| v.map(|v| v.payload.to_vec()))
            .unwrap();
        assert_eq!(verified, payload, "{value}");
        let frame = config.serializer().decode(&payload).unwrap();
        // Rewritten with the same slots, the payload and the cookie are Python's.
        let accessed = match payload.get(11) {
            Some(0x4a) => Accessed::Int(frame.renewed as i64),
            _ => Accessed::Float(frame.renewed),
        };
        let mut again = Vec::new();
        config
            .serializer()
            .encode(accessed, frame.created, &frame.state, &mut again)
            .unwrap();
        assert_eq!(again, payload, "{value}");
        assert_eq!(config.keyring().sign(&again), value);
        // And a request carrying it loads the state.
        let header = format!("session={value}");
        let session = CookieSession::load(&config, Some(header.as_bytes()), now);
        assert!(
            matches!(session.outcome(), LoadOutcome::Valid | LoadOutcome::Expired),
            "{:?}",
            session.outcome()
        );
        if session.outcome() == LoadOutcome::Valid {
            assert_eq!(session.peek_state(), &frame.state);
        }
    }
}

#[test]
fn cubicweb_id_cookies_are_read_with_the_pickle_fallback_profile() {
    let config = SessionConfig::cubicweb("test").build().unwrap();
    assert_eq!(config.serializer(), Serializer::JsonWithPickleFallback);
    let cookies = session_cookies("cubicweb.pyramid.session");
    assert!(!cookies.is_empty());
    for (_, cookie) in cookies {
        let value = cookie["value"].as_str().unwrap();
        let id = IdCookieFormat::CubicWeb
            .decode(&config, value.as_bytes())
            .unwrap_or_else(|| panic!("{value}"));
        assert!(
            id.id.as_str().parse::<u64>().is_ok(),
            "{:?}",
            id.id.as_str()
        );
        // Written back with the same times, the cookie is CubicWeb's (JSON).
        let (renewed, created) = id.times.unwrap();
        let accessed = if renewed.fract() == 0.0 {
            Accessed::Int(renewed as i64)
        } else {
            Accessed::Float(renewed)
        };
        let again = IdCookieFormat::CubicWeb
            .encode(&config, &id.id, accessed, created)
            .unwrap();
        assert_eq!(again, value);
    }
    // A CubicWeb 3.29 cookie (the same frame, pickled) is read by the fallback too.
    let legacy = SessionConfig::cubicweb_legacy("test").build().unwrap();
    let id = SessionId::parse("760").unwrap();
    let pickled = IdCookieFormat::CubicWeb
        .encode(&legacy, &id, Accessed::Int(1_700_000_001), 1_700_000_001.25)
        .unwrap();
    let read = IdCookieFormat::CubicWeb
        .decode(&config, pickled.as_bytes())
        .unwrap();
    assert_eq!(read.id, id);
    assert_eq!(read.times, Some((1_700_000_001.0, 1_700_000_001.25)));
}
