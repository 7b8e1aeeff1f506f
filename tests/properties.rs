//! Property tests: sign→verify round trip, tamper detection, parsers that never panic,
//! JSON round trip, and the session timeout invariant.

use proptest::prelude::*;
use pyramid_session::codec::json::{decode_frame, to_pyjson, write_float};
use pyramid_session::cookie::parse_cookie_header;
use pyramid_session::signer::{HashAlg, Keyring};
use pyramid_session::{CookieSession, LoadOutcome, SessionConfig, VerifyError};
use serde_json::{json, Value};
use std::time::Duration;

fn alg() -> impl Strategy<Value = HashAlg> {
    prop::sample::select(HashAlg::ALL.to_vec())
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

proptest! {
    #[test]
    fn sign_then_verify_roundtrips(alg in alg(), secret in "[^\u{0}]{1,80}", salt in ".{0,20}",
                                   payload in prop::collection::vec(any::<u8>(), 0..600)) {
        let ring = Keyring::new(alg, &salt, &[&secret]).unwrap();
        let value = ring.sign(&payload);
        prop_assert!(value.bytes().all(|b| B64.contains(&b)));
        prop_assert_eq!(ring.verify(value.as_bytes()), Ok((payload, 0)));
    }

    #[test]
    fn any_single_char_change_is_rejected(alg in alg(), payload in prop::collection::vec(any::<u8>(), 0..200),
                                          pos in any::<prop::sample::Index>(), replacement in any::<u8>()) {
        let ring = Keyring::new(alg, "pyramid.session.", &["seekrit"]).unwrap();
        let mut value = ring.sign(&payload).into_bytes();
        let i = pos.index(value.len());
        prop_assume!(value[i] != replacement);
        value[i] = replacement;
        prop_assert!(ring.verify(&value).is_err());
    }

    #[test]
    fn any_single_decoded_byte_change_is_rejected(alg in alg(), payload in prop::collection::vec(any::<u8>(), 1..200),
                                                  pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let ring = Keyring::new(alg, "pyramid.session.", &["seekrit"]).unwrap();
        let mut raw = engine.decode(ring.sign(&payload)).unwrap();
        let i = pos.index(raw.len());
        raw[i] ^= flip;
        prop_assert_eq!(ring.verify(engine.encode(&raw).as_bytes()), Err(VerifyError::BadSignature));
    }

    #[test]
    fn truncation_and_extension_are_rejected(payload in prop::collection::vec(any::<u8>(), 0..100), cut in 1usize..8,
                                             junk in "[A-Za-z0-9_-]{1,8}") {
        let ring = Keyring::new(HashAlg::Sha512, "s.", &["k"]).unwrap();
        let value = ring.sign(&payload);
        prop_assert!(ring.verify(&value.as_bytes()[..value.len() - cut.min(value.len())]).is_err());
        let appended = format!("{value}{junk}");
        let prepended = format!("{junk}{value}");
        prop_assert!(ring.verify(appended.as_bytes()).is_err());
        prop_assert!(ring.verify(prepended.as_bytes()).is_err());
    }

    #[test]
    fn cookie_header_parsing_never_panics(header in prop::collection::vec(any::<u8>(), 0..2000)) {
        for (name, value) in parse_cookie_header(&header) {
            prop_assert!(!name.is_empty());
            prop_assert!(!value.iter().any(|&b| b < 0x20 && b != b'\t'));
        }
    }

    #[test]
    fn session_load_never_panics(header in prop::collection::vec(any::<u8>(), 0..1000), now in any::<f64>()) {
        let config = SessionConfig::pyramid("seekrit").build().unwrap();
        let mut session = CookieSession::load(&config, Some(&header), now);
        session.insert("k", json!(1));
        let _ = session.finish(&config, false);
    }

    #[test]
    fn frame_decoding_never_panics(payload in prop::collection::vec(any::<u8>(), 0..500)) {
        let _ = decode_frame(&payload);
    }

    #[test]
    fn python_float_repr_roundtrips(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        let mut out = Vec::new();
        write_float(x, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), x.to_bits(), "{}", text);
        prop_assert!(text.contains('.') || text.contains('e'), "{}", text);
    }

    #[test]
    fn json_roundtrips(value in json_value()) {
        let text = to_pyjson(&value).unwrap();
        prop_assert!(text.is_ascii());
        let back: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(to_pyjson(&back).unwrap(), text);
    }

    /// A cookie issued at `t0` is never honoured once `timeout` has passed since its last
    /// issue, and each issue stamps the cookie with the request's whole second.
    #[test]
    fn never_valid_after_timeout(steps in prop::collection::vec((0.0f64..400.0, any::<bool>()), 1..12)) {
        let config = SessionConfig::pyramid("seekrit").timeout(Some(Duration::from_secs(300))).reissue_time(Some(Duration::from_secs(30))).build().unwrap();
        let mut now = 1_700_000_000.5;
        let mut cookie: Option<String> = None;
        let mut last_issue: Option<f64> = None;
        for (gap, write) in steps {
            now += gap;
            let header = cookie.as_ref().map(|c| format!("session={c}"));
            let mut session = CookieSession::load(&config, header.as_deref().map(str::as_bytes), now);
            if let Some(issued) = last_issue {
                let expired = now - issued > 300.0;
                prop_assert_eq!(session.outcome() == LoadOutcome::Expired, expired);
                if expired {
                    prop_assert!(session.get("n").is_none());
                }
            }
            if write {
                session.insert("n", json!(1));
            } else {
                session.get("n");
            }
            if let Some(set) = session.finish(&config, false).unwrap() {
                let value = set.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
                let (payload, _) = config.keyring().verify(value.as_bytes()).unwrap();
                let frame: Value = serde_json::from_slice(&payload).unwrap();
                prop_assert_eq!(frame[0].as_i64().unwrap(), now.trunc() as i64);
                last_issue = Some(now.trunc());
                cookie = Some(value);
            }
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| json!(x)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((".{0,6}", inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}
