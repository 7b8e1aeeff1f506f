//! The request side as WebOb sees it: which `Cookie` value Pyramid reads (the last of
//! its name, unescaped), the request's domain, and the cookie domains of each Pyramid.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use super::config::{Builder, DomainStyle};
use crate::cookie::parse_cookie_header;

/// `request.domain`: the `Host` header without its port, unless it ends in `]` (an IPv6
/// literal without a port, `[::1]`).
pub fn request_domain(host: &str) -> &str {
    if host.ends_with(']') {
        return host;
    }
    match host.rsplit_once(':') {
        Some((domain, _)) => domain,
        None => host,
    }
}

/// Bytes WebOb's cookie parser takes in an unquoted value: `\w` (ASCII letters, digits,
/// `_`) and ``~!@#$%^&*()_+=-`.?|:/(){}<>'``; a backslash escape is handled apart.
fn is_webob_unquoted(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"~!@#$%^&*()_+=-`.?|:/{}<>'".contains(&b)
}

/// The value Pyramid's `request.cookies.get(name)` gives for this header: the last pair
/// named `name` (WebOb builds a dict), quotes removed and backslash escapes (`\054`,
/// `\"`) decoded, as UTF-8. `None` when there is no such cookie, when its value is not
/// UTF-8 (WebOb raises), or when it is unquoted and holds a byte WebOb's parser stops at
/// (a raw `,`, a space, non-ASCII...): WebOb would read only the part before it, which
/// no genuine ticket is.
pub(super) fn ticket_cookie<'h>(header: &'h [u8], name: &str) -> Option<Cow<'h, str>> {
    let (_, value) = parse_cookie_header(header)
        .filter(|(n, _)| *n == name.as_bytes())
        .last()?;
    // The parser strips one pair of quotes; the byte before the value says whether it did.
    let offset = value.as_ptr() as usize - header.as_ptr() as usize;
    let quoted = offset > 0 && header[offset - 1] == b'"';
    if !quoted && !unquoted_ok(value) {
        return None;
    }
    if !value.contains(&b'\\') {
        return core::str::from_utf8(value).ok().map(Cow::Borrowed);
    }
    String::from_utf8(unescape(value)).ok().map(Cow::Owned)
}

/// A cookie value as it appears in a `Cookie` header (quoted or not, WebOb's `\054`
/// escapes included) as the text Pyramid reads: what the ticket-cookie reader
/// (`ticket_cookie`) reads for a cookie of that value. `None` where that refuses it.
pub fn cookie_value_text(value: &str) -> Option<String> {
    let mut header = Vec::with_capacity(value.len() + 2);
    header.extend_from_slice(b"t=");
    header.extend_from_slice(value.as_bytes());
    ticket_cookie(&header, "t").map(Cow::into_owned)
}

/// Every byte is one WebOb's unquoted-value pattern takes, or part of an escape.
fn unquoted_ok(value: &[u8]) -> bool {
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'\\' => {
                if i + 1 >= value.len() {
                    return false;
                }
                i += if is_octal_escape(&value[i + 1..]) {
                    4
                } else {
                    2
                };
            }
            b if is_webob_unquoted(b) => i += 1,
            _ => return false,
        }
    }
    true
}

fn is_octal_escape(rest: &[u8]) -> bool {
    matches!(rest, [b'0'..=b'3', b'0'..=b'7', b'0'..=b'7', ..])
}

/// WebOb's `_unquote` after the quotes: `\ooo` (first digit 0–3) as that byte, `\x` as
/// `x`.
fn unescape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'\\' && i + 1 < value.len() {
            let rest = &value[i + 1..];
            if is_octal_escape(rest) {
                out.push((rest[0] - b'0') << 6 | (rest[1] - b'0') << 3 | (rest[2] - b'0'));
                i += 4;
            } else {
                out.push(rest[0]);
                i += 2;
            }
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    out
}

/// The `Domain` of each cookie `remember`/`forget` writes (`None`: no attribute), as
/// `_get_cookies` of the configured Pyramid computes them.
pub(super) fn push_domains<'a>(
    out: &mut Vec<Option<Cow<'a, str>>>,
    cfg: &'a Builder,
    host: &'a str,
) {
    push_domains_of(out, cfg, cfg.style, host);
}

/// [`push_domains`] as the Pyramid of `style` would compute them for this configuration.
pub(super) fn push_domains_of<'a>(
    out: &mut Vec<Option<Cow<'a, str>>>,
    cfg: &'a Builder,
    style: DomainStyle,
    host: &'a str,
) {
    if let Some(domain) = &cfg.domain {
        out.push(Some(Cow::Borrowed(domain)));
        return;
    }
    let parent = if cfg.parent_domain && host.bytes().filter(|&b| b == b'.').count() > 1 {
        host.split_once('.').map(|(_, parent)| parent)
    } else {
        None
    };
    match style {
        DomainStyle::Pyramid1 => {
            if let Some(parent) = parent {
                out.push(Some(Cow::Owned(alloc::format!(".{parent}"))));
            } else {
                out.push(None);
                out.push(Some(Cow::Borrowed(host)));
                if cfg.wild_domain {
                    out.push(Some(Cow::Owned(alloc::format!(".{host}"))));
                }
            }
        }
        DomainStyle::Pyramid2 => out.push(match parent {
            Some(parent) => Some(Cow::Borrowed(parent)),
            None if cfg.wild_domain => Some(Cow::Borrowed(host)),
            None => None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_of_requests() {
        assert_eq!(request_domain("example.com:80"), "example.com");
        assert_eq!(request_domain("example.com"), "example.com");
        assert_eq!(request_domain("[::1]:6543"), "[::1]");
        assert_eq!(request_domain("[::1]"), "[::1]");
        assert_eq!(request_domain(""), "");
    }

    #[test]
    fn last_cookie_wins_and_is_unescaped() {
        let get = |h: &str| ticket_cookie(h.as_bytes(), "t").map(|c| c.into_owned());
        assert_eq!(get("t=a; t=b").as_deref(), Some("b"));
        assert_eq!(get("T=a").as_deref(), None);
        assert_eq!(get(r#"t="a\054b""#).as_deref(), Some("a,b"));
        assert_eq!(get(r#"t="a\"b""#).as_deref(), Some("a\"b"));
        assert_eq!(get(r"t=a\054b").as_deref(), Some("a,b"));
        assert_eq!(get("t=a,b").as_deref(), None);
        assert_eq!(get("t=\"a,b\"").as_deref(), Some("a,b"));
        assert_eq!(get("t=a b").as_deref(), None);
        assert_eq!(get("t=a\\").as_deref(), None);
        assert_eq!(get("t=").as_deref(), Some(""));
        assert_eq!(ticket_cookie(b"t=\"\xff\"", "t"), None);
        assert_eq!(get(r#"t="\377""#), None);
    }
}
