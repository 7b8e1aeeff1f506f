//! Framework-neutral glue on the `http` crate's types (feature `http`).

extern crate std;

use alloc::vec::Vec;

use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue};

/// The request's cookies as one `Cookie:` header value, or `None` without any. HTTP/2
/// clients may split cookies over several `Cookie` fields; they are joined with `"; "`.
pub fn cookie_header(headers: &HeaderMap) -> Option<Vec<u8>> {
    let mut values = headers.get_all(COOKIE).iter();
    let first = values.next()?;
    let mut joined = first.as_bytes().to_vec();
    for value in values {
        joined.extend_from_slice(b"; ");
        joined.extend_from_slice(value.as_bytes());
    }
    Some(joined)
}

/// Adds the session's response headers:
///
/// - `Set-Cookie` when `set_cookie` is given;
/// - `Vary: Cookie` when the session was used (read, written or re-sent), so shared
///   caches never serve one user's page to another (added once, kept with other `Vary`
///   values, left alone under `Vary: *`);
/// - `Cache-Control: private` in the same case, unless the response already has a
///   `Cache-Control`.
///
/// Fails only if `set_cookie` is not a valid header value (configurations validated by
/// this crate never produce one).
pub fn apply_session_headers(
    headers: &mut HeaderMap,
    set_cookie: Option<&str>,
    session_used: bool,
) -> Result<(), http::header::InvalidHeaderValue> {
    if let Some(cookie) = set_cookie {
        headers.append(SET_COOKIE, HeaderValue::from_str(cookie)?);
    }
    if session_used || set_cookie.is_some() {
        let varies = headers.get_all(VARY).iter().any(|v| {
            v.to_str()
                .map(|s| {
                    s.split(',')
                        .any(|t| t.trim() == "*" || t.trim().eq_ignore_ascii_case("cookie"))
                })
                .unwrap_or(false)
        });
        if !varies {
            headers.append(VARY, HeaderValue::from_static("Cookie"));
        }
        if !headers.contains_key(CACHE_CONTROL) {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_split_cookie_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(cookie_header(&h), None);
        h.append(COOKIE, HeaderValue::from_static("a=1"));
        h.append(COOKIE, HeaderValue::from_static("session=x"));
        assert_eq!(cookie_header(&h).unwrap(), b"a=1; session=x");
    }

    #[test]
    fn adds_vary_and_cache_control_once() {
        let mut h = HeaderMap::new();
        h.append(VARY, HeaderValue::from_static("Accept-Encoding"));
        apply_session_headers(&mut h, Some("session=v; Path=/"), true).unwrap();
        apply_session_headers(&mut h, None, true).unwrap();
        assert_eq!(h.get_all(VARY).iter().count(), 2);
        assert_eq!(h.get(CACHE_CONTROL).unwrap(), "private");
        assert_eq!(h.get(SET_COOKIE).unwrap(), "session=v; Path=/");

        let mut h = HeaderMap::new();
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(VARY, HeaderValue::from_static("*"));
        apply_session_headers(&mut h, None, true).unwrap();
        assert_eq!(h.get(CACHE_CONTROL).unwrap(), "no-store");
        assert_eq!(h.get_all(VARY).iter().count(), 1);

        let mut h = HeaderMap::new();
        apply_session_headers(&mut h, None, false).unwrap();
        assert!(h.is_empty());
        assert!(apply_session_headers(&mut h, Some("bad\r\nvalue"), true).is_err());
    }
}
