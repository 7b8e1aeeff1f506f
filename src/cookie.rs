//! `Cookie:` request headers in, `Set-Cookie:` response header values out.
//!
//! Parsing follows RFC 6265 on bytes: pairs are split on `;`, surrounding spaces and tabs
//! are trimmed, the name must be a non-empty token and the value is taken literally (one
//! surrounding pair of double quotes is stripped; nothing is unescaped). Pairs without
//! `=`, with an empty or non-token name, or with control characters are skipped; a pair
//! that is not UTF-8 never affects the others. Only the first 16 KiB and the first 512
//! pairs of a header are parsed (what they hold is kept; a pair cut at 16 KiB is
//! dropped), and the work is linear in the header length.
//!
//! Rendering is byte-identical to WebOb's `Response.set_cookie`: attribute order
//! `Comment, Domain, Max-Age, Path, expires, secure, HttpOnly, SameSite`, `expires` as
//! `Tue, 14-Nov-2023 23:13:20 GMT`, WebOb's octal quoting for odd bytes. `Partitioned`,
//! which WebOb does not know, comes last.

mod date;
mod parse;
mod render;

pub use date::{push_http_date, REMOVAL_EXPIRES};
pub use parse::{
    check_cookie_len, cookie_values, is_cookie_name, parse_cookie_header, CookiePairs,
    MAX_COOKIE_HEADER_LEN, MAX_COOKIE_PAIRS, MAX_COOKIE_PAIR_LEN, MAX_COOKIE_VALUE_LEN,
};
#[cfg(feature = "json")]
pub(crate) use render::render_set_cookie_with;
pub use render::{
    is_plain_attribute, render_expired, render_removal, render_set_cookie, CookieAttributes,
};
