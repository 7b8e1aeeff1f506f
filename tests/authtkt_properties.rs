//! Property tests of `pyramid_session::authtkt`: remember → browser → identify round
//! trips for arbitrary userids (non-ASCII text, bytes, big integers), tokens and
//! remote addresses; render → verify round trips for arbitrary ticket fields; tampered
//! digests refused; arbitrary bytes never panic.

use proptest::prelude::*;
use pyramid_session::authtkt::{AuthTktHelper, DomainStyle, HashAlg, Ticket, UserId};

fn alg() -> impl Strategy<Value = HashAlg> {
    prop::sample::select(HashAlg::SHA2.to_vec())
}

fn style() -> impl Strategy<Value = DomainStyle> {
    prop::sample::select(vec![DomainStyle::Pyramid1, DomainStyle::Pyramid2])
}

fn userid() -> impl Strategy<Value = UserId> {
    prop_oneof![
        any::<i128>().prop_map(UserId::Int),
        any::<String>().prop_map(UserId::Text),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(UserId::Bytes),
    ]
}

fn tokens() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[A-Za-z][A-Za-z0-9+_-]{0,20}", 0..4)
}

fn remote_addr() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        any::<[u16; 8]>().prop_map(|s| s
            .iter()
            .map(|x| format!("{x:x}"))
            .collect::<Vec<_>>()
            .join(":")),
        Just("::1".to_string()),
    ]
}

/// The cookie value as a browser sends it back: what follows `name=` up to the first `;`.
fn sent_back(set_cookie: &str) -> &str {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1
}

proptest! {
    #[test]
    fn remember_then_identify_roundtrips(
        alg in alg(), style in style(), secret in "\\PC{1,40}", uid in userid(), tokens in tokens(),
        addr in remote_addr(), include_ip in any::<bool>(), now in 0.0f64..4_294_967_295.0,
    ) {
        let h = AuthTktHelper::builder(&secret, style)
            .hashalg(alg)
            .include_ip(include_ip)
            .timeout(Some(1200))
            .reissue_time(Some(120))
            .build()
            .unwrap();
        let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let headers = h.remember("www.example.com:8080", &addr, now, &uid, &refs, None).unwrap();
        prop_assert_eq!(headers.len(), if style == DomainStyle::Pyramid1 { 3 } else { 1 });
        let value = sent_back(&headers[0]);
        prop_assert_eq!(value.starts_with('"'), tokens.len() >= 2);
        let header = format!("other=1; {}={}; x=\"y\"", h.cookie_name(), value);
        let identity = h.identify(header.as_bytes(), &addr, now).unwrap();
        prop_assert_eq!(&identity.userid, &uid);
        let expected: Vec<String> = if tokens.is_empty() { vec![String::new()] } else { tokens.clone() };
        prop_assert_eq!(&identity.tokens, &expected);
        prop_assert_eq!(identity.ticket.timestamp(), now as i64);
        prop_assert!(identity.reissue.is_none());
        // Reissued at +121 s with the same userid and tokens; expired after +1200 s.
        let later = h.identify(header.as_bytes(), &addr, now.floor() + 121.0).unwrap();
        let reissue = later.reissue.unwrap();
        let again = format!("{}={}", h.cookie_name(), sent_back(&h.reissue_headers(&reissue, "h")[0]));
        let renewed = h.identify(again.as_bytes(), &addr, now.floor() + 121.0).unwrap();
        prop_assert_eq!(&renewed.userid, &uid);
        prop_assert_eq!(renewed.ticket.timestamp(), (now.floor() + 121.0) as i64);
        prop_assert!(h.identify(header.as_bytes(), &addr, now.floor() + 1200.5).is_none());
        // Another secret, or (with include_ip) another address, is refused.
        let other = AuthTktHelper::builder(&format!("{secret}x"), style).hashalg(alg).build().unwrap();
        prop_assert!(other.identify(header.as_bytes(), &addr, now).is_none());
        if include_ip {
            prop_assert!(h.identify(header.as_bytes(), "203.0.113.9", now).is_none());
        }
    }

    #[test]
    fn render_then_verify_roundtrips(
        alg in alg(), secret in prop::collection::vec(any::<u8>(), 1..40), ts in any::<u32>(),
        field in any::<String>(), tokens in "[^!]{0,40}", user_data in any::<String>(),
    ) {
        // `parse_ticket` strips quotes from both ends: user data ending in `"` cannot come
        // back (in Pyramid either), and no verified ticket has such user data.
        prop_assume!(!user_data.ends_with('"'));
        let ticket = Ticket::from_fields(ts.into(), &field, &tokens, &user_data);
        let value = ticket.render(alg, &secret, "0.0.0.0").unwrap();
        prop_assume!(value.len() <= pyramid_session::authtkt::MAX_TICKET_LEN);
        prop_assert_eq!(Ticket::verify(alg, &secret, &value, "0.0.0.0"), Ok(ticket));
    }

    #[test]
    fn any_digest_change_is_refused(alg in alg(), uid in userid(), pos in any::<prop::sample::Index>(),
                                    replacement in "[0-9a-fA-F]") {
        let h = AuthTktHelper::builder("seekrit", DomainStyle::Pyramid2).hashalg(alg).build().unwrap();
        let mut value = h.ticket_value("", 1_700_000_000.0, &uid, &[]).unwrap();
        let i = pos.index(alg.hex_len());
        prop_assume!(value[i..i + 1] != replacement);
        value.replace_range(i..i + 1, &replacement);
        prop_assert!(h.verify(&value, "").is_err());
    }

    #[test]
    fn arbitrary_input_never_panics(alg in alg(), header in prop::collection::vec(any::<u8>(), 0..400),
                                    text in any::<String>(), addr in any::<String>(), now in any::<f64>()) {
        let h = AuthTktHelper::builder("seekrit", DomainStyle::Pyramid1)
            .hashalg(alg).include_ip(true).timeout(Some(10)).reissue_time(Some(0)).build().unwrap();
        let _ = h.identify(&header, &addr, now);
        let mut cookie = b"auth_tkt=".to_vec();
        cookie.extend_from_slice(&header);
        let _ = h.identify(&cookie, &addr, now);
        let _ = h.verify(&text, &addr);
        if let Ok(ticket) = Ticket::verify(alg, b"seekrit", &text, "0.0.0.0") {
            let _ = ticket.userid();
        }
        let _ = h.remember(&addr, &addr, now, &UserId::from(text.as_str()), &[], None);
        let _ = h.forget(&text);
    }
}
