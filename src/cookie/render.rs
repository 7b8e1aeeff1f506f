//! `Set-Cookie:` response header values, byte-identical to WebOb's `Response.set_cookie`
//! and `delete_cookie`.

use alloc::string::String;
use core::fmt::Write as _;

use super::date::{push_http_date, REMOVAL_EXPIRES};
use super::parse::is_value_byte;
use crate::encoding::scan::plain_prefix;
use crate::time::UnixTime;

/// True when `s` can be a `Path` or `Domain` attribute without any quoting: the bytes
/// WebOb leaves alone, and no space (configuration refuses everything else).
pub fn is_plain_attribute(s: &str) -> bool {
    s.bytes().all(is_value_byte)
}

/// The attributes of a `Set-Cookie` header, as WebOb's `set_cookie` takes them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CookieAttributes<'a> {
    /// `Comment=`; Pyramid never sets one.
    pub comment: Option<&'a str>,
    /// `Domain=`.
    pub domain: Option<&'a str>,
    /// `Max-Age=` in seconds, which also produces `expires=`; `None` makes a
    /// browser-session cookie.
    pub max_age: Option<i64>,
    /// `Path=`; `None` omits it (WebOb's default is `/`).
    pub path: Option<&'a str>,
    /// `secure`.
    pub secure: bool,
    /// `HttpOnly`.
    pub httponly: bool,
    /// `SameSite=`, written exactly as given.
    pub samesite: Option<&'a str>,
    /// `Partitioned` (CHIPS).
    pub partitioned: bool,
}

/// Renders a `Set-Cookie` header value the way WebOb does. `now` (seconds since the Unix
/// epoch) dates `expires` when `max_age` is set.
pub fn render_set_cookie(
    name: &str,
    value: &str,
    attrs: &CookieAttributes<'_>,
    now: f64,
) -> String {
    render_set_cookie_with(name, value.len(), |out| push_value(out, value), attrs, now)
}

/// [`render_set_cookie`] with the value written by `write_value` straight into the
/// header, which is sized for `value_len` bytes of it: a signed value is signed in place
/// instead of being built and copied. The value is not quoted, so it must consist of
/// cookie value bytes only, as urlsafe base64 does.
pub(crate) fn render_set_cookie_with(
    name: &str,
    value_len: usize,
    write_value: impl FnOnce(&mut String),
    attrs: &CookieAttributes<'_>,
    now: f64,
) -> String {
    let mut out = String::with_capacity(name.len() + value_len + 96);
    out.push_str(name);
    out.push('=');
    write_value(&mut out);
    push_attributes(&mut out, attrs, Expires::After(now));
    out
}

/// Renders the header that deletes a cookie, as WebOb's `delete_cookie` does:
/// `name=; Domain=…; Max-Age=0; Path=…; expires=Wed, 31-Dec-97 23:59:59 GMT`.
///
/// `secure` and `SameSite=None` are added when given, since browsers refuse to let a
/// cookie set with them be replaced without them; WebOb adds neither.
pub fn render_removal(
    name: &str,
    path: Option<&str>,
    domain: Option<&str>,
    secure: bool,
    samesite_none: bool,
) -> String {
    let attrs = CookieAttributes {
        domain,
        max_age: Some(0),
        path,
        secure,
        samesite: samesite_none.then_some("None"),
        ..CookieAttributes::default()
    };
    let mut out = String::with_capacity(name.len() + 96);
    out.push_str(name);
    out.push('=');
    push_attributes(&mut out, &attrs, Expires::Removed);
    out
}

/// Renders the header WebOb's `make_cookie(name, None, ...)` writes, which is what a
/// `CookieProfile` (and so Pyramid's AuthTkt `forget`) sends: an empty value,
/// `Max-Age=0`, `expires=Wed, 31-Dec-97 23:59:59 GMT`, and every other attribute of
/// `attrs` as given (`secure`, `HttpOnly` and `SameSite` included, unlike
/// `delete_cookie`). `attrs.max_age` is ignored.
pub fn render_expired(name: &str, attrs: &CookieAttributes<'_>) -> String {
    let attrs = CookieAttributes {
        max_age: Some(0),
        ..*attrs
    };
    let mut out = String::with_capacity(name.len() + 128);
    out.push_str(name);
    out.push('=');
    push_attributes(&mut out, &attrs, Expires::Removed);
    out
}

/// What `expires=` says; it is written exactly when `Max-Age` is.
#[derive(Clone, Copy)]
enum Expires {
    /// `now + Max-Age`, `now` in seconds since the Unix epoch (WebOb's `set_cookie`).
    After(f64),
    /// [`REMOVAL_EXPIRES`], a fixed date in the past (WebOb's `delete_cookie`).
    Removed,
}

/// The one attribute writer, for both renderers: WebOb's order — `Comment, Domain,
/// Max-Age, Path, expires, secure, HttpOnly, SameSite` — and `Partitioned` last.
fn push_attributes(out: &mut String, attrs: &CookieAttributes<'_>, expires: Expires) {
    push_quoted(out, "; Comment=", attrs.comment);
    push_quoted(out, "; Domain=", attrs.domain);
    if let Some(max_age) = attrs.max_age {
        let _ = write!(out, "; Max-Age={max_age}");
    }
    push_quoted(out, "; Path=", attrs.path);
    if let Some(max_age) = attrs.max_age {
        out.push_str("; expires=");
        match expires {
            Expires::After(now) => {
                // WebOb: utcnow() + timedelta(seconds=max_age), microseconds dropped.
                let base = UnixTime::from_secs_f64(now).floor_seconds();
                push_http_date(out, base.saturating_add(max_age));
            }
            Expires::Removed => out.push_str(REMOVAL_EXPIRES),
        }
    }
    if attrs.secure {
        out.push_str("; secure");
    }
    if attrs.httponly {
        out.push_str("; HttpOnly");
    }
    if let Some(samesite) = attrs.samesite {
        out.push_str("; SameSite=");
        out.push_str(samesite);
    }
    if attrs.partitioned {
        out.push_str("; Partitioned");
    }
}

/// Appends `label` and the quoted `value`, when there is one.
fn push_quoted(out: &mut String, label: &str, value: Option<&str>) {
    if let Some(value) = value {
        out.push_str(label);
        push_attribute(out, value);
    }
}

/// One byte of a quoted value or attribute: as it is when WebOb leaves it alone or it is
/// a space, otherwise as `\ooo`.
fn push_quoted_byte(out: &mut String, b: u8) {
    if is_value_byte(b) || b == b' ' {
        out.push(char::from(b));
    } else {
        let _ = write!(out, "\\{b:03o}");
    }
}

/// WebOb's value quoting: untouched when every byte is allowed, otherwise wrapped in
/// double quotes with every disallowed byte except space written as `\ooo` (UTF-8 bytes).
fn push_value(out: &mut String, value: &str) {
    // Signed values are urlsafe base64, all value bytes: check those 32 at a time.
    let base64 = plain_prefix(value.as_bytes(), |b| {
        b.is_ascii_alphanumeric() | (b == b'-') | (b == b'_')
    });
    if value.as_bytes()[base64..].iter().all(|&b| is_value_byte(b)) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for b in value.bytes() {
        push_quoted_byte(out, b);
    }
    out.push('"');
}

/// WebOb's attribute quoting: disallowed bytes (space excepted) as `\ooo`, no quotes.
/// Characters up to U+00FF count as one Latin-1 byte, as in WebOb.
fn push_attribute(out: &mut String, value: &str) {
    if value.bytes().all(is_value_byte) {
        out.push_str(value);
        return;
    }
    let mut utf8 = [0u8; 4];
    for c in value.chars() {
        let bytes: &[u8] = match u8::try_from(u32::from(c)) {
            Ok(b) => {
                utf8[0] = b;
                &utf8[..1]
            }
            Err(_) => c.encode_utf8(&mut utf8).as_bytes(),
        };
        for &b in bytes {
            push_quoted_byte(out, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_fast_path_only_passes_value_bytes() {
        for b in 0..=255u8 {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                assert!(is_value_byte(b), "{b:#x}");
            }
        }
        // A long value with a byte to quote in every position is still quoted.
        for at in [0, 31, 32, 70] {
            let mut value = [b'A'; 71];
            value[at] = b',';
            let value = core::str::from_utf8(&value).unwrap();
            let mut out = String::new();
            push_value(&mut out, value);
            assert!(out.starts_with('"') && out.contains("\\054"), "{out}");
        }
    }

    #[test]
    fn huge_max_age_does_not_panic() {
        let attrs = CookieAttributes {
            max_age: Some(i64::MAX),
            path: Some("/"),
            ..CookieAttributes::default()
        };
        let header = render_set_cookie("s", "v", &attrs, f64::MAX);
        assert!(
            header.ends_with("expires=Fri, 31-Dec-9999 23:59:59 GMT"),
            "{header}"
        );
    }
}
