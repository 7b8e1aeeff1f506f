//! Framework-neutral glue on the `http` crate's types (feature `http`).

extern crate std;

use alloc::vec::Vec;

use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue};

/// The request's cookies as one `Cookie:` header value, or `None` without any. HTTP/2
/// clients may split cookies over several `Cookie` fields; they are joined with `"; "`.
pub fn cookie_header(headers: &HeaderMap) -> Option<Vec<u8>> {
    join_cookie_fields(headers.get_all(COOKIE).iter().map(HeaderValue::as_bytes))
}

/// [`cookie_header`] over the raw field values, for frameworks with their own header map.
pub(crate) fn join_cookie_fields<'a>(
    mut values: impl Iterator<Item = &'a [u8]>,
) -> Option<Vec<u8>> {
    let mut joined = values.next()?.to_vec();
    for value in values {
        joined.extend_from_slice(b"; ");
        joined.extend_from_slice(value);
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
    apply_to(headers, set_cookie, session_used)
}

/// The response headers [`apply_session_headers`] touches, for any framework's header
/// map (actix-web has its own, on the `http` 0.2 types): the rules are written once, in
/// [`apply_to`].
pub(crate) trait ResponseHeaders {
    /// A `Set-Cookie` value that is no valid header value.
    type Invalid;
    /// Appends a `Set-Cookie` field.
    fn append_set_cookie(&mut self, value: &str) -> Result<(), Self::Invalid>;
    /// The `Vary` fields' values.
    fn vary_values(&self) -> impl Iterator<Item = &[u8]>;
    /// Appends `Vary: Cookie`.
    fn append_vary_cookie(&mut self);
    /// True when the response has a `Cache-Control` field.
    fn has_cache_control(&self) -> bool;
    /// Sets `Cache-Control: private`.
    fn set_cache_control_private(&mut self);
}

/// [`apply_session_headers`] on any [`ResponseHeaders`].
pub(crate) fn apply_to<H: ResponseHeaders + ?Sized>(
    headers: &mut H,
    set_cookie: Option<&str>,
    session_used: bool,
) -> Result<(), H::Invalid> {
    if let Some(cookie) = set_cookie {
        headers.append_set_cookie(cookie)?;
    }
    if session_used || set_cookie.is_some() {
        let varies = headers.vary_values().any(|value| {
            value.split(|&b| b == b',').any(|token| {
                let token = token.trim_ascii();
                token == b"*" || token.eq_ignore_ascii_case(b"cookie")
            })
        });
        if !varies {
            headers.append_vary_cookie();
        }
        if !headers.has_cache_control() {
            headers.set_cache_control_private();
        }
    }
    Ok(())
}

impl ResponseHeaders for HeaderMap {
    type Invalid = http::header::InvalidHeaderValue;
    fn append_set_cookie(&mut self, value: &str) -> Result<(), Self::Invalid> {
        self.append(SET_COOKIE, HeaderValue::from_str(value)?);
        Ok(())
    }
    fn vary_values(&self) -> impl Iterator<Item = &[u8]> {
        self.get_all(VARY).iter().map(HeaderValue::as_bytes)
    }
    fn append_vary_cookie(&mut self) {
        self.append(VARY, HeaderValue::from_static("Cookie"));
    }
    fn has_cache_control(&self) -> bool {
        self.contains_key(CACHE_CONTROL)
    }
    fn set_cache_control_private(&mut self) {
        self.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
    }
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
        h.insert(VARY, HeaderValue::from_static("accept-encoding,  COOKIE "));
        apply_session_headers(&mut h, None, true).unwrap();
        assert_eq!(
            h.get_all(VARY).iter().count(),
            1,
            "a listed cookie token counts"
        );

        let mut h = HeaderMap::new();
        apply_session_headers(&mut h, None, false).unwrap();
        assert!(h.is_empty());
        assert!(apply_session_headers(&mut h, Some("bad\r\nvalue"), true).is_err());
    }
}
