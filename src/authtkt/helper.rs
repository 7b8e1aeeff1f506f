//! `AuthTktCookieHelper`: `identify`, `remember`, `forget`, and the per-request flags
//! that let a `forget` or `remember` cancel a reissue.

use alloc::borrow::{Cow, ToOwned as _};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::config::{Builder, DomainStyle};
use super::cookie::{push_domains, push_domains_of, request_domain, ticket_cookie};
use super::digest::HashAlg;
use super::error::{RememberError, TicketError};
use super::ticket::{Ticket, UserId, MAX_TICKET_LEN};
use crate::cookie::{render_expired, render_set_cookie, CookieAttributes};
use crate::time::UnixTime;

/// The address hashed when `include_ip` is off.
const NO_IP: &str = "0.0.0.0";

/// Pyramid's `AuthTktCookieHelper`, sans-IO: the caller passes the request's `Cookie`
/// header, its remote address (`REMOTE_ADDR`, only read with `include_ip`), its `Host`
/// header and `now` (seconds since the epoch, as `time.time()`); nothing here reads a
/// clock or a random source.
///
/// `Debug` shows the settings, never the secret, which is zeroized on drop.
pub struct AuthTktHelper {
    pub(super) cfg: Builder,
}

impl fmt::Debug for AuthTktHelper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.cfg;
        f.debug_struct("AuthTktHelper")
            .field("secret", &"<redacted>")
            .field("style", &c.style)
            .field("hashalg", &c.alg)
            .field("cookie_name", &c.cookie_name)
            .field("secure", &c.secure)
            .field("include_ip", &c.include_ip)
            .field("timeout", &c.timeout)
            .field("reissue_time", &c.reissue_time)
            .field("max_age", &c.max_age)
            .field("http_only", &c.http_only)
            .field("path", &c.path)
            .field("wild_domain", &c.wild_domain)
            .field("parent_domain", &c.parent_domain)
            .field("domain", &c.domain)
            .field("samesite", &c.samesite)
            .finish()
    }
}

/// What `identify` found: Pyramid's identity dict, plus the reissue it scheduled.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    /// The verified ticket (`timestamp`, and `userdata` as [`Ticket::user_data`]).
    pub ticket: Ticket,
    /// The userid, decoded by the ticket's `userid_type:` user data.
    pub userid: UserId,
    /// The tokens as Pyramid's identity (and `REMOTE_USER_TOKENS`) holds them: the
    /// ticket's tokens split on `,` (`[""]` without tokens), with the empty entries
    /// dropped when this call reissued the ticket.
    pub tokens: Vec<String>,
    /// The reissue this call scheduled, if the ticket was older than `reissue_time` and
    /// no earlier `identify` of the request had reissued. Its headers belong in the
    /// response unless the request later forgets or remembers: see [`RequestFlags`].
    pub reissue: Option<Reissue>,
}

/// A scheduled reissue: the fresh ticket `remember` made for the identity (same userid,
/// same non-empty tokens, user data regenerated, the helper's `max_age`), to be sent
/// with [`AuthTktHelper::reissue_headers`].
#[derive(Clone, Debug, PartialEq)]
pub struct Reissue {
    value: String,
    now: f64,
}

impl Reissue {
    /// The new cookie value (unquoted).
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// The per-request state Pyramid keeps on the request object (`_authtkt_reissued`,
/// `_authtkt_reissue_revoked`), shared by every AuthTkt helper of the request.
///
/// Pyramid reissues at most once per request (the first `identify` that finds the ticket
/// old enough), and drops that reissue from the response if the request then calls
/// `forget`, or `remember` after the reissue. Use one `RequestFlags` per request with
/// [`AuthTktHelper::identify_in`], [`AuthTktHelper::remember_in`] and
/// [`AuthTktHelper::forget_in`] (or call [`RequestFlags::on_remember`] and
/// [`RequestFlags::on_forget`] yourself), and send the reissue headers only if
/// [`RequestFlags::reissue_allowed`] still says so when the response is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestFlags {
    reissued: bool,
    revoked: bool,
}

impl RequestFlags {
    /// A new request: nothing reissued, nothing revoked.
    pub fn new() -> RequestFlags {
        RequestFlags::default()
    }

    /// True once an `identify` of this request scheduled a reissue.
    pub fn reissued(&self) -> bool {
        self.reissued
    }

    /// True when the scheduled reissue, if any, must not be sent.
    pub fn revoked(&self) -> bool {
        self.revoked
    }

    /// True when a scheduled reissue is to be sent with the response.
    pub fn reissue_allowed(&self) -> bool {
        self.reissued && !self.revoked
    }

    /// Records a `remember` in this request: it revokes a reissue already scheduled
    /// (not one scheduled later).
    pub fn on_remember(&mut self) {
        if self.reissued {
            self.revoked = true;
        }
    }

    /// Records a `forget` in this request: no reissue of this request is sent, whether
    /// scheduled before or after.
    pub fn on_forget(&mut self) {
        self.revoked = true;
    }
}

impl AuthTktHelper {
    /// Starts a configuration with a text secret, hashed as its UTF-8 (not the
    /// Latin-1-first rule of the session signer: `café` gives different key bytes there).
    pub fn builder(secret: &str, style: DomainStyle) -> Builder {
        Builder::new(secret.as_bytes().to_vec(), style)
    }

    /// Starts a configuration with a secret given as bytes (Pyramid passes `bytes`
    /// secrets through unchanged).
    pub fn builder_with_secret_bytes(secret: &[u8], style: DomainStyle) -> Builder {
        Builder::new(secret.to_vec(), style)
    }

    /// The cookie name.
    pub fn cookie_name(&self) -> &str {
        &self.cfg.cookie_name
    }

    /// The hash algorithm.
    pub fn hashalg(&self) -> HashAlg {
        self.cfg.alg
    }

    /// The domain style.
    pub fn style(&self) -> DomainStyle {
        self.cfg.style
    }

    fn ip<'a>(&self, remote_addr: &'a str) -> &'a str {
        if self.cfg.include_ip {
            remote_addr
        } else {
            NO_IP
        }
    }

    /// `parse_ticket` with this helper's secret, algorithm and `include_ip`: verifies a
    /// cookie value (already taken out of the `Cookie` header) and returns its ticket.
    /// See [`Ticket::verify`] for what is accepted.
    pub fn verify(&self, value: &str, remote_addr: &str) -> Result<Ticket, TicketError> {
        Ticket::verify(self.cfg.alg, &self.cfg.secret, value, self.ip(remote_addr))
    }

    /// True when `identify` would refuse `ticket` at `now` for its age: a timeout is set
    /// and `timestamp + timeout < now`.
    pub fn is_expired(&self, ticket: &Ticket, now: f64) -> bool {
        self.cfg
            .timeout
            .is_some_and(|t| (ticket.timestamp() as f64 + t as f64) < now)
    }

    /// True when `identify` at `now` would reissue `ticket` (in a request that has not
    /// reissued yet): a reissue time is set and `now - timestamp > reissue_time`.
    pub fn reissue_due(&self, ticket: &Ticket, now: f64) -> bool {
        self.cfg
            .reissue_time
            .is_some_and(|r| now - ticket.timestamp() as f64 > r as f64)
    }

    /// `identify(request)` for a request of its own (fresh [`RequestFlags`]): the identity
    /// of the last cookie named [`cookie_name`](Self::cookie_name) in `cookie_header`
    /// (WebOb keeps the last of duplicate names), or `None`.
    ///
    /// `None` where Pyramid returns `None` (no cookie, a bad ticket, an expired one) and
    /// also where Pyramid raises, which is an HTTP 500 there: a userid its
    /// `userid_type` cannot decode, a remote address `include_ip` cannot hash, a reissue
    /// `remember` refuses (tokens that are not valid tokens, a value over 4093
    /// characters), a cookie value that is not UTF-8. A cookie value WebOb would read
    /// only part of (an unquoted character outside its cookie-value set, such as `,`) is
    /// refused as a whole.
    pub fn identify(&self, cookie_header: &[u8], remote_addr: &str, now: f64) -> Option<Identity> {
        self.identify_in(&mut RequestFlags::new(), cookie_header, remote_addr, now)
    }

    /// [`identify`](Self::identify) within a request: schedules a reissue only if no
    /// earlier `identify` of the request did, and records it in `flags`.
    pub fn identify_in(
        &self,
        flags: &mut RequestFlags,
        cookie_header: &[u8],
        remote_addr: &str,
        now: f64,
    ) -> Option<Identity> {
        let value = ticket_cookie(cookie_header, &self.cfg.cookie_name)?;
        let ticket = self.verify(&value, remote_addr).ok()?;
        if self.is_expired(&ticket, now) {
            return None;
        }
        let userid = ticket.userid().ok()?;
        let mut tokens: Vec<String> = ticket.tokens().map(str::to_owned).collect();
        let mut reissue = None;
        if !flags.reissued && self.reissue_due(&ticket, now) {
            tokens.retain(|t| !t.is_empty());
            let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
            let value = self.ticket_value(remote_addr, now, &userid, &refs).ok()?;
            reissue = Some(Reissue { value, now });
            flags.reissued = true;
        }
        Some(Identity {
            ticket,
            userid,
            tokens,
            reissue,
        })
    }

    /// The `Set-Cookie` headers of a reissue, for the request's `Host` header: what
    /// Pyramid's response callback appends (same domains, attributes and `max_age` as
    /// `remember`, dated at the `now` of the `identify` that scheduled it).
    pub fn reissue_headers(&self, reissue: &Reissue, host: &str) -> Vec<String> {
        self.set_cookie_headers(host, &reissue.value, self.cfg.max_age, reissue.now)
    }

    /// The ticket value `remember` would set, unquoted: tokens checked against
    /// `^[A-Za-z][A-Za-z0-9+_-]*$`, the timestamp `int(now)`, the userid encoded by its
    /// type, the 4093-character limit.
    pub fn ticket_value(
        &self,
        remote_addr: &str,
        now: f64,
        userid: &UserId,
        tokens: &[&str],
    ) -> Result<String, RememberError> {
        if let Some(index) = tokens.iter().position(|t| !is_valid_token(t)) {
            return Err(RememberError::InvalidToken { index });
        }
        if now.is_nan() || now < 0.0 {
            return Err(RememberError::TimeOutOfRange);
        }
        let ts = UnixTime::from_secs_f64(now).whole_seconds();
        let ticket = Ticket::for_userid(ts, userid, tokens);
        let value = ticket.render(self.cfg.alg, &self.cfg.secret, self.ip(remote_addr))?;
        if value.len() > MAX_TICKET_LEN {
            return Err(RememberError::ValueTooLong { len: value.len() });
        }
        Ok(value)
    }

    /// `remember(request, userid, max_age=max_age, tokens=tokens)`: the `Set-Cookie`
    /// header values, in Pyramid's order, for the request's `Host` header (its port is
    /// dropped as WebOb's `request.domain` does). `max_age` overrides the helper's.
    /// The value is quoted as WebOb quotes it (a `,` between tokens: `"…\054…"`).
    pub fn remember(
        &self,
        host: &str,
        remote_addr: &str,
        now: f64,
        userid: &UserId,
        tokens: &[&str],
        max_age: Option<i64>,
    ) -> Result<Vec<String>, RememberError> {
        let value = self.ticket_value(remote_addr, now, userid, tokens)?;
        Ok(self.set_cookie_headers(host, &value, max_age.or(self.cfg.max_age), now))
    }

    /// [`remember`](Self::remember) within a request: also revokes the request's
    /// reissue if one was scheduled ([`RequestFlags::on_remember`]).
    #[allow(clippy::too_many_arguments)]
    pub fn remember_in(
        &self,
        flags: &mut RequestFlags,
        host: &str,
        remote_addr: &str,
        now: f64,
        userid: &UserId,
        tokens: &[&str],
        max_age: Option<i64>,
    ) -> Result<Vec<String>, RememberError> {
        let headers = self.remember(host, remote_addr, now, userid, tokens, max_age)?;
        flags.on_remember();
        Ok(headers)
    }

    /// `forget(request)`: the `Set-Cookie` headers that delete the cookie, for the
    /// request's `Host` header: the same domains as `remember`, an empty value,
    /// `Max-Age=0`, `expires=Wed, 31-Dec-97 23:59:59 GMT`, and the helper's `Path`,
    /// `secure`, `HttpOnly` and `SameSite`, as WebOb writes them.
    pub fn forget(&self, host: &str) -> Vec<String> {
        let mut domains = Vec::with_capacity(3);
        push_domains(&mut domains, &self.cfg, request_domain(host));
        domains
            .iter()
            .map(|d| render_expired(&self.cfg.cookie_name, &self.attributes(d.as_deref(), None)))
            .collect()
    }

    /// [`forget`](Self::forget) within a request: also revokes the request's reissue
    /// ([`RequestFlags::on_forget`]).
    pub fn forget_in(&self, flags: &mut RequestFlags, host: &str) -> Vec<String> {
        flags.on_forget();
        self.forget(host)
    }

    /// The deletions of [`forget`](Self::forget) for *every* domain either Pyramid may
    /// have written the cookie with: host-only, `Domain=host` and `Domain=.host` (Pyramid
    /// 1.10's fan-out), then whatever else the configuration writes under either
    /// [`DomainStyle`] (`domain`, `parent_domain` with or without its leading dot), each
    /// once, in that order. With the default domain settings on
    /// [`DomainStyle::Pyramid1`] this is exactly `forget`; on
    /// [`DomainStyle::Pyramid2`] it adds the two variants 2.x does not delete, so that a
    /// logout also clears what a Pyramid 1.10 peer (every CubicWeb) set.
    pub fn forget_all_domains(&self, host: &str) -> Vec<String> {
        let host = request_domain(host);
        let mut domains: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(5);
        domains.push(None);
        if !host.is_empty() {
            domains.push(Some(Cow::Borrowed(host)));
            domains.push(Some(Cow::Owned(alloc::format!(".{host}"))));
        }
        let mut configured = Vec::with_capacity(2);
        for style in [DomainStyle::Pyramid1, DomainStyle::Pyramid2] {
            push_domains_of(&mut configured, &self.cfg, style, host);
        }
        domains.extend(configured);
        let mut headers: Vec<String> = Vec::with_capacity(domains.len());
        for d in &domains {
            let header =
                render_expired(&self.cfg.cookie_name, &self.attributes(d.as_deref(), None));
            if !headers.contains(&header) {
                headers.push(header);
            }
        }
        headers
    }

    /// [`forget_all_domains`](Self::forget_all_domains) within a request: also revokes
    /// the request's reissue ([`RequestFlags::on_forget`]).
    pub fn forget_all_domains_in(&self, flags: &mut RequestFlags, host: &str) -> Vec<String> {
        flags.on_forget();
        self.forget_all_domains(host)
    }

    fn attributes<'a>(
        &'a self,
        domain: Option<&'a str>,
        max_age: Option<i64>,
    ) -> CookieAttributes<'a> {
        CookieAttributes {
            comment: None,
            // WebOb writes no `Domain` for an empty one.
            domain: domain.filter(|d| !d.is_empty()),
            max_age,
            path: self.cfg.path.as_deref(),
            secure: self.cfg.secure,
            httponly: self.cfg.http_only,
            samesite: self.cfg.samesite.as_deref(),
            partitioned: false,
        }
    }

    fn set_cookie_headers(
        &self,
        host: &str,
        value: &str,
        max_age: Option<i64>,
        now: f64,
    ) -> Vec<String> {
        let mut domains = Vec::with_capacity(3);
        push_domains(&mut domains, &self.cfg, request_domain(host));
        domains
            .iter()
            .map(|d| {
                render_set_cookie(
                    &self.cfg.cookie_name,
                    value,
                    &self.attributes(d.as_deref(), max_age),
                    now,
                )
            })
            .collect()
    }
}

/// Pyramid's `VALID_TOKEN`, `^[A-Za-z][A-Za-z0-9+_-]*$` (without Python's `$` quirk,
/// which also lets a trailing newline through).
pub fn is_valid_token(token: &str) -> bool {
    let b = token.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper(style: DomainStyle) -> AuthTktHelper {
        AuthTktHelper::builder("seekrit", style)
            .reissue_time(Some(120))
            .timeout(Some(1200))
            .build()
            .unwrap()
    }

    #[test]
    fn tokens() {
        for ok in ["a", "authticket_Zeb0", "x-y_z+1"] {
            assert!(is_valid_token(ok), "{ok}");
        }
        for bad in ["", "1abc", "caf\u{e9}", "a!b", "a,b", "abc\n", "_a"] {
            assert!(!is_valid_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = alloc::format!("{:?}", helper(DomainStyle::Pyramid1));
        assert!(!shown.contains("seekrit"), "{shown}");
        assert!(shown.contains("auth_tkt"));
        let b = AuthTktHelper::builder("seekrit", DomainStyle::Pyramid2);
        assert!(!alloc::format!("{b:?}").contains("seekrit"));
    }

    #[test]
    fn reissue_is_once_per_request_and_revocable() {
        let h = helper(DomainStyle::Pyramid2);
        let value = h.ticket_value("", 1000.0, &UserId::Int(7), &["t"]).unwrap();
        let header = alloc::format!("auth_tkt={value}");
        let mut flags = RequestFlags::new();
        let first = h
            .identify_in(&mut flags, header.as_bytes(), "", 1121.0)
            .unwrap();
        assert!(first.reissue.is_some());
        assert!(flags.reissue_allowed());
        let second = h
            .identify_in(&mut flags, header.as_bytes(), "", 1121.0)
            .unwrap();
        assert!(second.reissue.is_none());
        flags.on_remember();
        assert!(!flags.reissue_allowed());
        // A remember before any reissue does not revoke a later one; a forget does.
        let mut flags = RequestFlags::new();
        flags.on_remember();
        h.identify_in(&mut flags, header.as_bytes(), "", 1121.0)
            .unwrap();
        assert!(flags.reissue_allowed());
        let mut flags = RequestFlags::new();
        h.forget_in(&mut flags, "example.com");
        h.identify_in(&mut flags, header.as_bytes(), "", 1121.0)
            .unwrap();
        assert!(!flags.reissue_allowed());
    }

    #[test]
    fn config_is_validated() {
        use super::super::error::ConfigError;
        let b = || AuthTktHelper::builder("s", DomainStyle::Pyramid1);
        assert_eq!(
            AuthTktHelper::builder("", DomainStyle::Pyramid1)
                .build()
                .unwrap_err(),
            ConfigError::EmptySecret
        );
        assert_eq!(
            b().cookie_name("a b").build().unwrap_err(),
            ConfigError::InvalidCookieName
        );
        assert_eq!(
            b().path(Some("/a;b")).build().unwrap_err(),
            ConfigError::InvalidPath
        );
        assert_eq!(
            b().domain(Some("")).build().unwrap_err(),
            ConfigError::InvalidDomain
        );
        assert_eq!(
            b().samesite_spelled("bogus").build().unwrap_err(),
            ConfigError::InvalidSameSite
        );
        assert_eq!(
            b().samesite_spelled("").build().unwrap_err(),
            ConfigError::InvalidSameSite
        );
        assert_eq!(
            b().samesite_spelled("None").build().unwrap_err(),
            ConfigError::SameSiteNoneWithoutSecure
        );
        assert!(b().samesite_spelled("none").secure(true).build().is_ok());
        assert!(b().samesite(None).path(None).build().is_ok());
    }

    #[test]
    fn remember_refuses_what_pyramid_refuses() {
        let h = helper(DomainStyle::Pyramid1);
        let id = UserId::Int(1);
        assert_eq!(
            h.remember("h", "", 0.0, &id, &["ok", "1abc"], None),
            Err(RememberError::InvalidToken { index: 1 })
        );
        assert_eq!(
            h.remember("h", "", -1.0, &id, &[], None),
            Err(RememberError::TimeOutOfRange)
        );
        assert_eq!(
            h.remember("h", "", f64::NAN, &id, &[], None),
            Err(RememberError::TimeOutOfRange)
        );
        let ip = AuthTktHelper::builder("s", DomainStyle::Pyramid1)
            .include_ip(true)
            .build()
            .unwrap();
        assert_eq!(
            ip.remember("h", "1.2.3.999", 0.0, &id, &[], None),
            Err(RememberError::BadRemoteAddr(
                super::super::error::RemoteAddrError::OctetOutOfRange
            ))
        );
    }
}
