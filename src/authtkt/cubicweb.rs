//! CubicWeb's login policies (`cubicweb.pyramid.auth`, CubicWeb 4.6.1 to 5.x), sans-IO
//! and `no_std` + `alloc` (feature `json`, for the session values).
//!
//! CubicWeb authenticates with a `MultiAuthenticationPolicy` of three policies:
//! `UpdateLoginTime` (a login updates the user's `last_login_time`), then two
//! `CWAuthTktAuthenticationPolicy`, the *session* one (cookie `auth_tkt`, 20-minute
//! timeout, reissued after 2 minutes) and the *persistent* one (cookie `pauth_tkt`,
//! "remember me": 30-day `Max-Age`, reissued daily). Since CubicWeb 4.6.1 a ticket counts
//! only while its random `authticket_…` token is also in the session
//! (`session["authentication_ticket"]`): logging out, or losing the session, logs the
//! user out even if the cookie is replayed (with server-side sessions; a cookie session
//! replayed with the ticket's cookie logs back in, as in Python).
//!
//! - [`CubicWebSettings::from_settings`] reads `cubicweb.auth.*` from a
//!   [`PyramidSettings`](crate::settings::PyramidSettings) with CubicWeb's defaults (table
//!   below), as Python reads them: booleans by `asbool`, integers by `int()`
//!   ([`python_int`]); [`CubicWebSettings::build`] checks them and gives the
//!   [`CubicWebAuth`] stack, its cookies written as the Pyramid of the given
//!   [`DomainStyle`](crate::authtkt::DomainStyle) writes them (CubicWeb pins Pyramid 1).
//! - Per request, an [`AuthRequest`] (cookie header, host, remote address, time) and the
//!   request's session (`&mut impl SessionData`, either session mode):
//!   [`CubicWebAuth::authenticated_userid`] and
//!   [`CubicWebAuth::effective_principals`] with the caller's groups lookup (CubicWeb's
//!   `get_principals`), [`CubicWebAuth::remember`] (login, drawing the tickets from the
//!   caller's [`RandomSource`](crate::RandomSource) with [`new_authticket`]),
//!   [`CubicWebAuth::forget`] / [`CubicWebAuth::logout`], and at the end
//!   [`CubicWebAuth::reissue_headers`].
//!
//! ```
//! use pyramid_session::authtkt::cubicweb::{AuthRequest, CubicWebSettings};
//! use pyramid_session::authtkt::DomainStyle;
//! use pyramid_session::settings::PyramidSettings;
//! use pyramid_session::{CookieSession, SessionConfig};
//!
//! let settings = PyramidSettings::parse_ini(
//!     "[main]\n\
//!      cubicweb.session.secret = sess-secret\n\
//!      cubicweb.auth.authtkt.session.secret = authtkt-session-secret\n\
//!      cubicweb.auth.authtkt.persistent.secret = authtkt-persistent-secret\n\
//!      cubicweb.auth.authtkt.session.secure = no\n",
//! )?;
//! let auth = CubicWebSettings::from_settings(&settings)?.build(DomainStyle::Pyramid1)?;
//! let session_config = SessionConfig::pyramid1("sess-secret").build()?;
//! let users = |eid: i64| (eid == 5).then_some(["managers", "users"]);
//! let mut rng = pyramid_session::OsRandom;
//! let now = 1_700_000_000.25;
//!
//! // POST /login: the user (eid 5) logs in without "remember me".
//! let mut session = CookieSession::load(&session_config, None, now);
//! let mut req = AuthRequest::new(None, "example.com", "192.0.2.10", now);
//! let login = auth.remember(&mut req, &mut session, 5, Some(false), &mut rng)?;
//! assert_eq!(login.set_cookie.len(), 3); // auth_tkt, three domains (Pyramid 1)
//! assert_eq!(login.update_login_time, Some(5)); // the caller's UPDATE cw_CWUser
//! let session_cookie = session.finish(&session_config, false)?.unwrap();
//!
//! // The next request sends both cookies back.
//! let pair = |h: &str| h.split(';').next().unwrap().to_owned();
//! let cookies = format!("{}; {}", pair(&login.set_cookie[0]), pair(&session_cookie));
//! let now = now + 60.0;
//! let mut session = CookieSession::load(&session_config, Some(cookies.as_bytes()), now);
//! let mut req = AuthRequest::new(Some(cookies.as_bytes()), "example.com", "192.0.2.10", now);
//! let user = auth.authenticated_userid(&mut req, &mut session, users).unwrap();
//! assert_eq!(user.userid, 5);
//! assert!(auth.reissue_headers(&req).is_empty()); // reissued after 120 s only
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Settings
//!
//! Each key is under `cubicweb.auth.authtkt.session.` or
//! `cubicweb.auth.authtkt.persistent.` ([`PolicySettings`]):
//!
//! | key | session | persistent |
//! |---|---|---|
//! | `secret` | required (CubicWeb: `notsosecret`) | required (same) |
//! | `cookie_name` | `auth_tkt` | `pauth_tkt` |
//! | `hashalg` | `sha512` | `sha512` |
//! | `timeout` | 1200 | none |
//! | `reissue_time` | 120 | 86400 |
//! | `max_age` | none | 2592000 |
//! | `http_only`, `secure` | true | true |
//! | `path`, `domain`, `samesite` | `/`, none, `Lax` | `/`, none, `Lax` |
//! | `include_ip`, `wild_domain`, `parent_domain`, `debug` | false, true, false, false | same |
//!
//! and the switches `cubicweb.auth.update_login_time`, `cubicweb.auth.authtkt` and
//! `cubicweb.auth.groups_principals` (all true) ([`CubicWebSettings`]).
//!
//! # Where this differs from CubicWeb
//!
//! Checked against the real `cubicweb/pyramid/auth.py` of CubicWeb 5.0.1 on Pyramid
//! 1.10.8 and 2.1 in `tests/cubicweb_auth_vectors.rs`:
//!
//! - **Refused configurations** ([`CubicWebSettings::build`]): a missing secret (CubicWeb
//!   silently uses the public `notsosecret`) unless
//!   [`CubicWebSettings::allow_default_secret`]; a `hashalg` this crate does not
//!   implement (Python raises at the first request with a cookie); negative integers;
//!   integers in other Unicode digits or beyond `i64`; what WebOb only refuses at the
//!   first login (a bad `samesite`, an empty `path`).
//! - **Where Python raises** (an HTTP 500), the answer is "not authenticated": a ticket
//!   the helper cannot decode (see [`crate::authtkt`]), an eid the groups lookup does not
//!   know (CubicWeb's `get_principals` raises; the lookup answers `None` here), a userid
//!   that is not an integer.
//! - **Logout deletes every domain variant** of both cookies (host-only, `Domain=host`,
//!   `Domain=.host`): Pyramid 2.x deletes one per cookie.
//! - **Header order**: Pyramid sends the view's headers (login, logout), then its
//!   response callbacks in the order they were registered: the reissue (registered by
//!   the `identify` that schedules it) and the session cookie (registered when the
//!   session first changes). Sending `remember`/`forget`'s headers, then
//!   [`CubicWebAuth::reissue_headers`], then the session cookie gives Python's order in
//!   every flow of the vectors; where the session changed before the reissue was
//!   scheduled (`effective_principals` reissuing `pauth_tkt` after the session policy
//!   read the session in a new second), Python puts the session cookie first. Browsers
//!   do not depend on the order of cookies with different names.

mod policy;
mod settings;
mod token;

pub use policy::{
    AuthRequest, Authenticated, CubicWebAuth, Login, LoginError, PolicyKind, Principals,
};
pub use settings::{
    python_int, CubicWebConfigError, CubicWebSettings, PolicySettings, DEFAULT_SECRET,
};
pub use token::{is_authticket, new_authticket, AUTHTICKET_PREFIX, AUTHTICKET_RANDOM_LEN};

/// The session key holding the ticket token of the current login.
pub const AUTHENTICATION_TICKET_KEY: &str = "authentication_ticket";
