//! Render a `Set-Cookie` from arbitrary attributes, then parse it back: never a CR/LF,
//! and every attribute a valid configuration could hold comes back unchanged.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pyramid_session::cookie::{
    is_cookie_name, is_plain_attribute, render_removal, render_set_cookie, CookieAttributes,
};

#[derive(Arbitrary, Debug)]
struct Input {
    name: String,
    value: String,
    path: Option<String>,
    domain: Option<String>,
    max_age: Option<i64>,
    secure: bool,
    httponly: bool,
    samesite: Option<u8>,
    partitioned: bool,
    now: f64,
}

fuzz_target!(|input: Input| {
    let samesite = input
        .samesite
        .map(|s| ["Strict", "Lax", "None"][usize::from(s % 3)]);
    let attrs = CookieAttributes {
        comment: None,
        domain: input.domain.as_deref(),
        max_age: input.max_age,
        path: input.path.as_deref(),
        secure: input.secure,
        httponly: input.httponly,
        samesite,
        partitioned: input.partitioned,
    };
    let header = render_set_cookie(&input.name, &input.value, &attrs, input.now);
    let removal = render_removal(
        &input.name,
        attrs.path,
        attrs.domain,
        input.secure,
        samesite == Some("None"),
    );
    let valid = is_cookie_name(input.name.as_bytes())
        && input
            .path
            .as_deref()
            .is_none_or(|p| !p.is_empty() && is_plain_attribute(p))
        && input
            .domain
            .as_deref()
            .is_none_or(|d| !d.is_empty() && is_plain_attribute(d))
        && input
            .value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return;
    }
    for h in [&header, &removal] {
        assert!(!h.contains('\r') && !h.contains('\n'));
    }
    let mut parts = header.split("; ");
    assert_eq!(
        parts.next().unwrap(),
        format!("{}={}", input.name, input.value)
    );
    let mut seen = Vec::new();
    for part in parts {
        let (k, v) = part
            .split_once('=')
            .map_or((part, None), |(k, v)| (k, Some(v)));
        seen.push(k.to_string());
        match k {
            "Domain" => assert_eq!(v, input.domain.as_deref()),
            "Path" => assert_eq!(v, input.path.as_deref()),
            "Max-Age" => assert_eq!(v.unwrap().parse::<i64>().unwrap(), input.max_age.unwrap()),
            "expires" => assert!(v.unwrap().ends_with(" GMT")),
            "SameSite" => assert_eq!(v, samesite),
            "secure" | "HttpOnly" | "Partitioned" => assert!(v.is_none()),
            other => panic!("unexpected attribute {other}"),
        }
    }
    let expected: Vec<&str> = [
        input.domain.as_ref().map(|_| "Domain"),
        input.max_age.map(|_| "Max-Age"),
        input.path.as_ref().map(|_| "Path"),
        input.max_age.map(|_| "expires"),
        input.secure.then_some("secure"),
        input.httponly.then_some("HttpOnly"),
        samesite.map(|_| "SameSite"),
        input.partitioned.then_some("Partitioned"),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(seen, expected, "WebOb's attribute order");
});
