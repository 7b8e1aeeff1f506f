//! Any bytes as an AuthTkt ticket value and as a `Cookie` header: never panics; a
//! ticket that verifies re-renders to a value that verifies to the same ticket (and the
//! same decoded userid); any fields split out of the input render to a value that
//! verifies back to them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyramid_session::authtkt::{AuthTktHelper, DomainStyle, HashAlg, Ticket, MAX_TICKET_LEN};

/// The secret of the vectors the corpus is seeded from.
const SECRET: &[u8] = b"seekrit";
const NOW: f64 = 1_700_000_010.25;

fn roundtrip(alg: HashAlg, ticket: &Ticket, ip: &str) {
    let again = ticket.render(alg, SECRET, ip).unwrap();
    let back = Ticket::verify(alg, SECRET, &again, ip).unwrap();
    assert_eq!(&back, ticket);
    assert_eq!(back.userid(), ticket.userid());
}

fuzz_target!(|data: &[u8]| {
    let helpers = [DomainStyle::Pyramid1, DomainStyle::Pyramid2].map(|style| {
        AuthTktHelper::builder_with_secret_bytes(SECRET, style)
            .timeout(Some(1200))
            .reissue_time(Some(0))
            .build()
            .unwrap()
    });
    if let Ok(text) = core::str::from_utf8(data) {
        for alg in HashAlg::SHA2 {
            if let Ok(ticket) = Ticket::verify(alg, SECRET, text, "0.0.0.0") {
                roundtrip(alg, &ticket, "0.0.0.0");
            }
        }
        // Fields split out of the input: whatever they are, they come back.
        let mut parts = text.splitn(3, '\u{0}');
        let (field, tokens, user_data) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("").replace('!', ""),
            parts.next().unwrap_or("").trim_end_matches('"'),
        );
        let ticket = Ticket::from_fields(1_700_000_000, field, &tokens, user_data);
        if ticket.render(HashAlg::SHA512, SECRET, "::1").unwrap().len() <= MAX_TICKET_LEN {
            roundtrip(HashAlg::SHA512, &ticket, "::1");
        }
    }
    for h in &helpers {
        for header in [data, &[b"auth_tkt=", data].concat()] {
            if let Some(identity) = h.identify(header, "192.0.2.10", NOW) {
                roundtrip(HashAlg::SHA512, &identity.ticket, "0.0.0.0");
                if let Some(reissue) = &identity.reissue {
                    let headers = h.reissue_headers(reissue, "example.com");
                    assert!(!headers.is_empty());
                    let value = headers[0].split(';').next().unwrap();
                    let renewed = h.identify(value.as_bytes(), "192.0.2.10", NOW).unwrap();
                    assert_eq!(renewed.userid, identity.userid);
                }
            }
        }
    }
});
