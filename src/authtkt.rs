//! Pyramid's AuthTkt login cookies (`pyramid.authentication.AuthTktCookieHelper`), byte
//! for byte with Pyramid 1.10.8 and 2.1: the tickets CubicWeb logs its users in with
//! (`auth_tkt`, `pauth_tkt`). `no_std` + `alloc`, sans-IO: the caller passes `now`, the
//! remote address, the `Host` and `Cookie` headers; nothing here reads a clock or a
//! random source.
//!
//! - [`AuthTktHelper`] (built by [`AuthTktHelper::builder`]) is the helper:
//!   [`identify`](AuthTktHelper::identify) → [`Identity`] (with the [`Reissue`] it
//!   scheduled), [`remember`](AuthTktHelper::remember) and
//!   [`forget`](AuthTktHelper::forget) → the exact `Set-Cookie` header values.
//!   [`DomainStyle`] picks Pyramid 1.10's three-cookie domain fan-out or 2.x's single
//!   cookie; [`RequestFlags`] carries the per-request rule that a `forget`, or a
//!   `remember` after the reissue, cancels the reissue.
//! - [`Ticket`] is a verified ticket's fields; [`Ticket::verify`] is `parse_ticket`,
//!   [`Ticket::render`] is `AuthTicket.cookie_value`; [`UserId`] is the userid with its
//!   `userid_type` (int, b64unicode, b64str).
//! - [`cubicweb`] (feature `json`) composes two helpers as CubicWeb does: its settings
//!   and defaults, the `authticket_` token bound to the session, login and logout.
//! - [`calculate_digest`] and [`encode_ip_timestamp`] are the digest (a double hash,
//!   not an HMAC, over the secret's UTF-8) with [`HashAlg`]: sha512 (default), sha384,
//!   sha256, sha224; md5 and sha1 only with the cargo feature `authtkt-legacy` *and* an
//!   explicit [`HashAlg::legacy_md5`] / [`HashAlg::legacy_sha1`].
//!
//! ```
//! use pyramid_session::authtkt::{AuthTktHelper, DomainStyle, UserId};
//!
//! let helper = AuthTktHelper::builder("seekrit", DomainStyle::Pyramid1)
//!     .timeout(Some(1200))
//!     .reissue_time(Some(120))
//!     .http_only(true)
//!     .secure(true)
//!     .build()?;
//! let now = 1_700_000_000.25;
//! let token = "authticket_Zeb0BVCPa4iJlxf7LvZJUOzKlO2uiKAea4TCYLzogPq2NLHZcS";
//! let headers = helper.remember("example.com", "192.0.2.10", now, &UserId::Int(1234), &[token], None)?;
//! assert_eq!(headers.len(), 3); // host-only, Domain=example.com, Domain=.example.com
//! assert!(headers[0].ends_with("!userid_type:int; Path=/; secure; HttpOnly; SameSite=Lax"));
//!
//! // The browser sends the value back.
//! let value = headers[0].split(';').next().unwrap();
//! let identity = helper.identify(value.as_bytes(), "192.0.2.10", now + 10.0).unwrap();
//! assert_eq!(identity.userid, UserId::Int(1234));
//! assert_eq!(identity.tokens, [token]);
//! assert!(identity.reissue.is_none()); // reissued only after 120 s
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where this differs from Pyramid
//!
//! Everything a genuine issuer (Pyramid's `remember`) writes is accepted, and the
//! results are Pyramid's. What is refused beyond that, each checked against Pyramid's
//! own answer in `tests/authtkt_vectors.rs`:
//!
//! - **Where Pyramid raises** (an HTTP 500 in the app), `identify` answers "not
//!   authenticated": a userid its `userid_type` cannot decode (`int('abc')`, bad base64,
//!   not UTF-8, the legacy `unicode` type on Python 3), a remote address `include_ip`
//!   cannot hash (`1.2.3.999`), a reissue that `remember` would refuse (a signed token
//!   that is not a valid token, a value over 4093 characters), a cookie value that is
//!   not UTF-8. An unknown `hashalg` cannot be configured at all, and the settings
//!   WebOb only rejects at the first `remember` (`SameSite` other than
//!   strict/lax/none, `SameSite=None` without `secure`) are refused when the helper is
//!   built, as is an empty secret.
//! - **Python's lenient spellings** of values no issuer writes are refused: a timestamp
//!   other than 8 hex digits (`int(…, 16)` also takes `0x`, `+`, `-`, `_`, spaces);
//!   `userid_type:int` on anything but a canonical decimal (`int()` also takes spaces,
//!   `_`, `+`, leading zeros, other Unicode digits) or beyond `i128`; base64 userids
//!   that are not canonical padded standard base64 (`b64decode` skips foreign
//!   characters); a percent-decoded userid that is not UTF-8 (Python substitutes
//!   U+FFFD); a ticket longer than [`MAX_TICKET_LEN`]; a dotted-quad remote address
//!   that is not exactly four octets (Python hashes any count); a token with a trailing
//!   newline (Python's `$` lets it through `VALID_TOKEN`).
//! - **Cookie parsing** is the crate's RFC 6265 parser ([`crate::cookie`]), with
//!   WebOb's choices where they matter: the last cookie of the name wins, a quoted
//!   value has WebOb's `\ooo` escapes decoded, and an unquoted value holding a byte
//!   WebOb's parser stops at (a raw `,`, a space, non-ASCII) is refused instead of
//!   being read in part. Only the AuthTkt cookie is looked at: WebOb decodes every
//!   cookie of the header and raises (a 500) when *another* one is not UTF-8, where
//!   the ticket is still read here.
//! - **Userids of other Python types** (`True`, `1.5`, `None`) do not exist here:
//!   Pyramid stores `str(value)` as text, which is [`UserId::Text`] of that text.
//! - **Timestamps** before 1970 cannot be issued ([`RememberError::TimeOutOfRange`]);
//!   from 2106 on, as in Pyramid, the timestamp takes 9 hex digits and the ticket never
//!   verifies.
//! - [`Ticket::render`] keeps an empty tokens field when the user data holds a `!`, so
//!   that the ticket parses back to itself (Pyramid's would not); `remember` never
//!   writes such user data, so its values are Pyramid's.

mod b64;
mod config;
mod cookie;
#[cfg(feature = "json")]
pub mod cubicweb;
mod digest;
mod error;
mod helper;
mod ticket;

pub use config::{Builder, DomainStyle};
pub use cookie::{cookie_value_text, request_domain};
pub use digest::{
    calculate_digest, encode_ip_timestamp, inner_digest, DigestInput, HashAlg, HexDigest,
    MAX_DIGEST_HEX_LEN, MAX_DIGEST_LEN,
};
pub use error::{ConfigError, RememberError, RemoteAddrError, TicketError, UseridError};
pub use helper::{is_valid_token, AuthTktHelper, Identity, Reissue, RequestFlags};
pub use ticket::{Ticket, UserId, MAX_TICKET_LEN};
