//! `MultiAuthenticationPolicy([UpdateLoginTime, CWAuthTkt(session), CWAuthTkt(persistent)],
//! callback=get_principals)` over one request.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;
use subtle::ConstantTimeEq as _;

use super::token::{new_authticket, AUTHTICKET_PREFIX};
use super::AUTHENTICATION_TICKET_KEY;
use crate::authtkt::{AuthTktHelper, Identity, Reissue, RememberError, RequestFlags, UserId};
use crate::error::RandomError;
use crate::random::RandomSource;
use crate::session::SessionData;

/// One of CubicWeb's two AuthTkt policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// `CWAuthTktAuthenticationPolicy(persistent=False)`: cookie `auth_tkt`, settings
    /// `cubicweb.auth.authtkt.session.*`.
    Session,
    /// `CWAuthTktAuthenticationPolicy(persistent=True)` ("remember me"): cookie
    /// `pauth_tkt`, settings `cubicweb.auth.authtkt.persistent.*`.
    Persistent,
}

impl PolicyKind {
    /// Both, in the order the `MultiAuthenticationPolicy` consults them.
    pub const ALL: [PolicyKind; 2] = [PolicyKind::Session, PolicyKind::Persistent];

    /// The settings prefix, `cubicweb.auth.authtkt.session.` or `….persistent.`.
    pub fn prefix(self) -> &'static str {
        match self {
            PolicyKind::Session => "cubicweb.auth.authtkt.session.",
            PolicyKind::Persistent => "cubicweb.auth.authtkt.persistent.",
        }
    }

    /// The policy's `persistent` flag.
    pub fn is_persistent(self) -> bool {
        self == PolicyKind::Persistent
    }
}

/// CubicWeb's authentication policy stack, sans-IO: built by
/// [`CubicWebSettings::build`](super::CubicWebSettings::build). Each operation takes the
/// request's [`AuthRequest`] and its session (`&mut impl SessionData`, cookie or server
/// mode); nothing here reads a clock, a random source or a database. The groups lookup
/// (CubicWeb's `get_principals`) and the `last_login_time` update are the caller's.
///
/// `Debug` shows the helpers' settings, never the secrets.
#[derive(Debug)]
pub struct CubicWebAuth {
    session: AuthTktHelper,
    persistent: AuthTktHelper,
    update_login_time: bool,
    groups_principals: bool,
}

/// The state Pyramid keeps on one request for the policies: the request's `Cookie`
/// header, `Host` header, remote address and time, the AuthTkt [`RequestFlags`] both
/// helpers share, and the reissue an `identify` scheduled. Make one per request, pass it
/// to every [`CubicWebAuth`] call of that request, and end with
/// [`CubicWebAuth::reissue_headers`].
///
/// `Debug` does not show the cookie header (it holds the tickets).
#[derive(Clone)]
pub struct AuthRequest {
    cookie_header: Option<Vec<u8>>,
    host: String,
    remote_addr: String,
    now: f64,
    flags: RequestFlags,
    reissue: Option<(PolicyKind, Reissue)>,
}

impl fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRequest")
            .field("host", &self.host)
            .field("remote_addr", &self.remote_addr)
            .field("now", &self.now)
            .field("flags", &self.flags)
            .field("reissue", &self.reissue.as_ref().map(|(kind, _)| kind))
            .finish_non_exhaustive()
    }
}

impl AuthRequest {
    /// A request: its `Cookie` header (`None` without one), its `Host` header (the
    /// cookies' domains come from it, port dropped), the remote address (`REMOTE_ADDR`:
    /// read only by a policy with `include_ip`), and `now` (Unix seconds, as
    /// `time.time()`).
    pub fn new(
        cookie_header: Option<&[u8]>,
        host: &str,
        remote_addr: &str,
        now: f64,
    ) -> AuthRequest {
        AuthRequest {
            cookie_header: cookie_header.map(<[u8]>::to_vec),
            host: host.into(),
            remote_addr: remote_addr.into(),
            now,
            flags: RequestFlags::new(),
            reissue: None,
        }
    }

    /// The request time.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// The `Host` header.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The remote address.
    pub fn remote_addr(&self) -> &str {
        &self.remote_addr
    }

    /// The AuthTkt flags of the request (reissued, revoked).
    pub fn flags(&self) -> &RequestFlags {
        &self.flags
    }

    /// The policy whose cookie an `identify` of this request scheduled for reissue, if
    /// any (sent unless a login or logout of the request revoked it).
    pub fn reissued(&self) -> Option<PolicyKind> {
        self.reissue.as_ref().map(|(kind, _)| *kind)
    }
}

/// A user the stack authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated<G> {
    /// The user's eid.
    pub userid: i64,
    /// The policy whose cookie authenticated it.
    pub policy: PolicyKind,
    /// What the groups lookup answered; `None` when `cubicweb.auth.groups_principals`
    /// is off (no lookup).
    pub groups: Option<G>,
}

/// What `effective_principals` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principals<G> {
    /// The eid each policy found (session policy first, each at most once), validated by
    /// the groups lookup or not: Python adds them all to the principals.
    pub userids: Vec<i64>,
    /// The user, as [`CubicWebAuth::authenticated_userid`] would answer: `None` when
    /// nobody is authenticated (the principals are then `Everyone` and
    /// [`userids`](Self::userids), without `Authenticated`).
    pub authenticated: Option<Authenticated<G>>,
}

/// What a login produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    /// The `Set-Cookie` header values, in Python's order (the session policy's, then the
    /// persistent one's), for the response.
    pub set_cookie: Vec<String>,
    /// `Some(eid)` when `cubicweb.auth.update_login_time` is on: CubicWeb's
    /// `UpdateLoginTimeAuthenticationPolicy.remember` runs `SET U last_login_time NOW
    /// WHERE U eid %(user)s` and commits (`UPDATE cw_CWUser SET cw_last_login_time = …,
    /// cw_modification_date = … WHERE cw_eid = …`). That store is the caller's; Python
    /// logs a failure and goes on with the login.
    pub update_login_time: Option<i64>,
}

/// Why a login failed (Python raises: an HTTP 500).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginError {
    /// The random source failed.
    Random(RandomError),
    /// A policy could not make its ticket (an `include_ip` policy and a remote address it
    /// cannot hash, a time before 1970).
    Remember {
        /// Which policy.
        policy: PolicyKind,
        /// Why.
        error: RememberError,
    },
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginError::Random(e) => e.fmt(f),
            LoginError::Remember { policy, error } => {
                write!(f, "{}*: {error}", policy.prefix())
            }
        }
    }
}

impl core::error::Error for LoginError {}

impl From<RandomError> for LoginError {
    fn from(e: RandomError) -> LoginError {
        LoginError::Random(e)
    }
}

/// Python's truth value of the userid (`if not user_id: return None`).
fn truthy(userid: &UserId) -> bool {
    match userid {
        UserId::Int(n) => *n != 0,
        UserId::Text(s) => !s.is_empty(),
        UserId::Bytes(b) => !b.is_empty(),
    }
}

/// The eid of a userid: CubicWeb only writes `int` userids.
fn eid(userid: &UserId) -> Option<i64> {
    match userid {
        UserId::Int(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

impl CubicWebAuth {
    pub(super) fn from_parts(
        session: AuthTktHelper,
        persistent: AuthTktHelper,
        update_login_time: bool,
        groups_principals: bool,
    ) -> CubicWebAuth {
        CubicWebAuth {
            session,
            persistent,
            update_login_time,
            groups_principals,
        }
    }

    /// One policy's AuthTkt helper.
    pub fn helper(&self, kind: PolicyKind) -> &AuthTktHelper {
        match kind {
            PolicyKind::Session => &self.session,
            PolicyKind::Persistent => &self.persistent,
        }
    }

    /// `cubicweb.auth.update_login_time`.
    pub fn update_login_time(&self) -> bool {
        self.update_login_time
    }

    /// `cubicweb.auth.groups_principals`: the groups lookup decides.
    pub fn groups_principals(&self) -> bool {
        self.groups_principals
    }

    /// The helper's `identify` of `kind`'s cookie within the request, keeping the
    /// reissue it schedules.
    fn identify(&self, req: &mut AuthRequest, kind: PolicyKind) -> Option<Identity> {
        let header = req.cookie_header.as_deref()?;
        let identity =
            self.helper(kind)
                .identify_in(&mut req.flags, header, &req.remote_addr, req.now)?;
        if let Some(reissue) = &identity.reissue {
            req.reissue = Some((kind, reissue.clone()));
        }
        Some(identity)
    }

    /// `CWAuthTktAuthenticationPolicy.unauthenticated_userid` (CubicWeb ≥ 4.6.1): the
    /// userid of `kind`'s cookie if it verifies and has not timed out, its userid is
    /// truthy, and its first `authticket_…` token equals the session's
    /// `authentication_ticket` (compared in constant time).
    ///
    /// As in Python, the `identify` may schedule a reissue of the cookie whatever the
    /// outcome (an anonymous request with an old cookie gets a fresh one), and the
    /// session is read (an access: a cookie session may be re-sent) only once the
    /// cookie has a token and a truthy userid. `None` where Python raises.
    pub fn unauthenticated_userid(
        &self,
        req: &mut AuthRequest,
        kind: PolicyKind,
        session: &mut impl SessionData,
    ) -> Option<UserId> {
        let identity = self.identify(req, kind)?;
        let token = identity
            .tokens
            .iter()
            .find(|t| t.starts_with(AUTHTICKET_PREFIX))?;
        // Python identifies a second time here (`super().unauthenticated_userid`): same
        // answer, and no second reissue in one request.
        if !truthy(&identity.userid) {
            return None;
        }
        let matches = match session.get(AUTHENTICATION_TICKET_KEY) {
            Some(Value::String(ticket)) => bool::from(ticket.as_bytes().ct_eq(token.as_bytes())),
            _ => false,
        };
        matches.then_some(identity.userid)
    }

    /// [`unauthenticated_userid`](Self::unauthenticated_userid) as an eid: `None` also
    /// for a userid that is not an integer fitting `i64` (CubicWeb never writes one;
    /// making it takes the secret), which Python would hand to `get_principals`.
    pub fn unauthenticated_eid(
        &self,
        req: &mut AuthRequest,
        kind: PolicyKind,
        session: &mut impl SessionData,
    ) -> Option<i64> {
        self.unauthenticated_userid(req, kind, session)
            .as_ref()
            .and_then(eid)
    }

    /// `request.authenticated_userid` with the `MultiAuthenticationPolicy`: the session
    /// policy, then the persistent one; the first eid the groups lookup knows wins
    /// (`groups(eid)` is CubicWeb's `get_principals`: `None` for an unknown user). When
    /// `cubicweb.auth.groups_principals` is off, `groups` is not called and the first
    /// eid wins. The persistent policy is consulted (its cookie identified, maybe
    /// reissued) only when the session policy gave nobody.
    ///
    /// A ticket whose userid is not an eid counts as nobody
    /// ([`unauthenticated_eid`](Self::unauthenticated_eid)).
    pub fn authenticated_userid<G>(
        &self,
        req: &mut AuthRequest,
        session: &mut impl SessionData,
        mut groups: impl FnMut(i64) -> Option<G>,
    ) -> Option<Authenticated<G>> {
        for policy in PolicyKind::ALL {
            let Some(userid) = self.unauthenticated_eid(req, policy, session) else {
                continue;
            };
            if !self.groups_principals {
                return Some(Authenticated {
                    userid,
                    policy,
                    groups: None,
                });
            }
            if let Some(groups) = groups(userid) {
                return Some(Authenticated {
                    userid,
                    policy,
                    groups: Some(groups),
                });
            }
        }
        None
    }

    /// `request.effective_principals` with the `MultiAuthenticationPolicy`: first every
    /// policy's own `effective_principals` (so *both* cookies are identified, and a
    /// `pauth_tkt` may be reissued even when `auth_tkt` authenticated), then the user as
    /// [`authenticated_userid`](Self::authenticated_userid) finds it.
    pub fn effective_principals<G>(
        &self,
        req: &mut AuthRequest,
        session: &mut impl SessionData,
        mut groups: impl FnMut(i64) -> Option<G>,
    ) -> Principals<G> {
        let mut found: [Option<i64>; 2] = [None, None];
        for (slot, policy) in found.iter_mut().zip(PolicyKind::ALL) {
            *slot = self.unauthenticated_eid(req, policy, session);
        }
        let mut userids = Vec::with_capacity(2);
        for userid in found.iter().flatten() {
            if !userids.contains(userid) {
                userids.push(*userid);
            }
        }
        // The second walk re-reads what the first found (same cookies, same session).
        let mut authenticated = None;
        for (userid, policy) in found.iter().zip(PolicyKind::ALL) {
            let Some(userid) = *userid else { continue };
            if !self.groups_principals {
                authenticated = Some(Authenticated {
                    userid,
                    policy,
                    groups: None,
                });
                break;
            }
            if let Some(groups) = groups(userid) {
                authenticated = Some(Authenticated {
                    userid,
                    policy,
                    groups: Some(groups),
                });
                break;
            }
        }
        Principals {
            userids,
            authenticated,
        }
    }

    /// Login: `security.remember(request, eid, persistent=…)`. With `Some(true)` only the
    /// persistent policy runs, with `Some(false)` only the session one; with `None` (no
    /// `persistent` keyword) both do, each drawing a ticket and writing it to
    /// `session["authentication_ticket"]`, the persistent one last: the session then
    /// holds the persistent ticket and `auth_tkt` is unusable on its own, as in Python.
    ///
    /// Each ticket is [`new_authticket`] from `rng`, the cookie's only token. A reissue
    /// this request had scheduled is revoked. On an error the request should fail (as
    /// Python's does); a ticket written by the first of two policies stays in the
    /// session then, harmless without its cookie.
    pub fn remember(
        &self,
        req: &mut AuthRequest,
        session: &mut impl SessionData,
        eid: i64,
        persistent: Option<bool>,
        rng: &mut impl RandomSource,
    ) -> Result<Login, LoginError> {
        let userid = UserId::Int(i128::from(eid));
        let mut set_cookie = Vec::new();
        for policy in PolicyKind::ALL {
            if persistent.is_some_and(|p| p != policy.is_persistent()) {
                continue;
            }
            let token = new_authticket(rng)?;
            let headers = self
                .helper(policy)
                .remember_in(
                    &mut req.flags,
                    &req.host,
                    &req.remote_addr,
                    req.now,
                    &userid,
                    &[&token],
                    None,
                )
                .map_err(|error| LoginError::Remember { policy, error })?;
            session.insert(AUTHENTICATION_TICKET_KEY, Value::String(token));
            set_cookie.extend(headers);
        }
        Ok(Login {
            set_cookie,
            update_login_time: self.update_login_time.then_some(eid),
        })
    }

    /// `security.forget(request)`: each policy removes `authentication_ticket` from the
    /// session if it is there (the persistent one finds it gone) and deletes its cookie.
    /// Unlike Pyramid 2.x, the deletions cover every domain variant
    /// ([`AuthTktHelper::forget_all_domains`]): 3 per cookie, 6 in all, whatever the
    /// [`DomainStyle`](crate::authtkt::DomainStyle), so a Pyramid 1.10 peer's cookies go
    /// too. A reissue this request had scheduled is revoked.
    ///
    /// This is CubicWeb's `forget` only; [`logout`](Self::logout) also rotates the CSRF
    /// token, as CubicWeb's logout view does.
    pub fn forget(&self, req: &mut AuthRequest, session: &mut impl SessionData) -> Vec<String> {
        let mut set_cookie = Vec::with_capacity(6);
        for policy in PolicyKind::ALL {
            if session.get(AUTHENTICATION_TICKET_KEY).is_some() {
                session.modify(AUTHENTICATION_TICKET_KEY, Box::new(|_| None));
            }
            set_cookie.extend(
                self.helper(policy)
                    .forget_all_domains_in(&mut req.flags, &req.host),
            );
        }
        set_cookie
    }

    /// Logout as CubicWeb's logout view does it: [`forget`](Self::forget), then a new
    /// CSRF token ([`SessionData::new_csrf_token`], the session's `_csrft_`), so a token
    /// seen before the logout is refused after it. The token is drawn first: when `rng`
    /// fails nothing has changed.
    ///
    /// CubicWeb itself keeps its CSRF token in a `csrf_token` cookie
    /// (`CookieCSRFStoragePolicy`), not in the session; this rotates the session's
    /// token, the one this crate's CSRF helpers check.
    pub fn logout<S: SessionData>(
        &self,
        req: &mut AuthRequest,
        session: &mut S,
        rng: &mut impl RandomSource,
    ) -> Result<Vec<String>, RandomError> {
        session.new_csrf_token(rng)?;
        Ok(self.forget(req, session))
    }

    /// The reissue headers for the response (Pyramid's response callback): the cookie an
    /// `identify` of this request scheduled, unless a login or logout of the request
    /// revoked it. At most one per request, for both policies together.
    pub fn reissue_headers(&self, req: &AuthRequest) -> Vec<String> {
        match &req.reissue {
            Some((kind, reissue)) if req.flags.reissue_allowed() => {
                self.helper(*kind).reissue_headers(reissue, &req.host)
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::ToString;

    use super::*;
    use crate::authtkt::cubicweb::CubicWebSettings;
    use crate::authtkt::DomainStyle;
    use crate::settings::PyramidSettings;
    use crate::{CookieSession, SessionConfig};

    const T0: f64 = 1_700_000_000.25;

    fn auth(style: DomainStyle, extra: &[(&str, &str)]) -> CubicWebAuth {
        let mut pairs = alloc::vec![
            ("cubicweb.auth.authtkt.session.secret", "s1"),
            ("cubicweb.auth.authtkt.persistent.secret", "s2"),
        ];
        pairs.extend_from_slice(extra);
        CubicWebSettings::from_settings(&PyramidSettings::from_pairs(pairs))
            .unwrap()
            .build(style)
            .unwrap()
    }

    fn config() -> SessionConfig {
        SessionConfig::pyramid("sess")
            .timeout(None)
            .build()
            .unwrap()
    }

    fn counter_rng() -> impl FnMut(&mut [u8]) -> Result<(), RandomError> {
        let mut n = 0u8;
        move |buf: &mut [u8]| {
            for b in buf {
                *b = n;
                n = n.wrapping_add(4);
            }
            Ok(())
        }
    }

    /// The cookie pairs a response sets, as the next request's `Cookie` header.
    fn cookies(set_cookie: &[String]) -> String {
        let mut jar: Vec<(String, String)> = Vec::new();
        for h in set_cookie {
            let (name, value) = h.split(';').next().unwrap().split_once('=').unwrap();
            jar.retain(|(n, _)| n != name);
            if !value.is_empty() {
                jar.push((name.to_string(), value.to_string()));
            }
        }
        jar.iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Logs `eid` in at `T0` with both policies; the browser's cookies.
    fn login_both(auth: &CubicWebAuth, eid: i64) -> String {
        let config = config();
        let mut session = CookieSession::load(&config, None, T0);
        let mut req = AuthRequest::new(None, "example.com", "", T0);
        let mut rng = counter_rng();
        let mut set_cookie = auth
            .remember(&mut req, &mut session, eid, None, &mut rng)
            .unwrap()
            .set_cookie;
        set_cookie.extend(session.finish(&config, false).unwrap());
        cookies(&set_cookie)
    }

    fn request(header: &str, now: f64) -> (CookieSession, AuthRequest) {
        let session = CookieSession::load(&config(), Some(header.as_bytes()), now);
        (
            session,
            AuthRequest::new(Some(header.as_bytes()), "example.com", "", now),
        )
    }

    #[test]
    fn effective_principals_identifies_both_cookies() {
        let auth = auth(DomainStyle::Pyramid2, &[]);
        let header = login_both(&auth, 5);
        // After a day auth_tkt has timed out (no reissue for it) and pauth_tkt is due;
        // the session holds the persistent ticket, so pauth_tkt authenticates.
        let now = T0 + 86_401.0;
        let users = |eid: i64| (eid == 5).then_some("users");
        let (mut session, mut req) = request(&header, now);
        let user = auth
            .authenticated_userid(&mut req, &mut session, users)
            .unwrap();
        assert_eq!(user.policy, PolicyKind::Persistent);
        assert_eq!(req.reissued(), Some(PolicyKind::Persistent));
        let p = auth.effective_principals(&mut req, &mut session, users);
        assert_eq!(p.userids, [5]);
        assert_eq!(p.authenticated, Some(user));
        assert_eq!(auth.reissue_headers(&req).len(), 1);
        assert!(auth.reissue_headers(&req)[0].starts_with("pauth_tkt="));

        // Two minutes in, both are valid and auth_tkt is due: the session policy's
        // identify comes first and takes the request's one reissue, though only
        // pauth_tkt authenticates.
        let (mut session, mut req) = request(&header, T0 + 121.0);
        let user = auth.authenticated_userid(&mut req, &mut session, users);
        assert_eq!(user.map(|u| u.policy), Some(PolicyKind::Persistent));
        assert_eq!(req.reissued(), Some(PolicyKind::Session));
    }

    #[test]
    fn effective_principals_reissues_pauth_tkt_when_auth_tkt_matched() {
        let auth = auth(DomainStyle::Pyramid2, &[]);
        let config = config();
        // A persistent login at T0 (an earlier "remember me"), a session-policy one at
        // T0 + 86 350: the session holds the auth_tkt ticket.
        let mut rng = counter_rng();
        let mut session = CookieSession::load(&config, None, T0);
        let mut req = AuthRequest::new(None, "example.com", "", T0);
        let mut headers = auth
            .remember(&mut req, &mut session, 5, Some(true), &mut rng)
            .unwrap()
            .set_cookie;
        let later = T0 + 86_350.0;
        let mut req = AuthRequest::new(None, "example.com", "", later);
        headers.extend(
            auth.remember(&mut req, &mut session, 5, Some(false), &mut rng)
                .unwrap()
                .set_cookie,
        );
        headers.extend(session.finish(&config, false).unwrap());
        let header = cookies(&headers);
        let now = T0 + 86_401.0;
        let users = |_: i64| Some(());
        // authenticated_userid stops at auth_tkt: pauth_tkt is not even identified.
        let (mut session, mut req) = request(&header, now);
        let user = auth.authenticated_userid(&mut req, &mut session, users);
        assert_eq!(user.map(|u| u.policy), Some(PolicyKind::Session));
        assert_eq!(req.reissued(), None);
        // effective_principals identifies pauth_tkt too, and reissues it.
        let p = auth.effective_principals(&mut req, &mut session, users);
        assert_eq!(p.userids, [5]);
        assert_eq!(p.authenticated.map(|u| u.policy), Some(PolicyKind::Session));
        assert_eq!(req.reissued(), Some(PolicyKind::Persistent));
        let reissued = auth.reissue_headers(&req);
        assert_eq!(reissued.len(), 1);
        assert!(reissued[0].starts_with("pauth_tkt="), "{reissued:?}");
        assert!(reissued[0].contains("Max-Age=2592000"), "{reissued:?}");
    }

    #[test]
    fn groups_decide_unless_switched_off() {
        let header = login_both(&auth(DomainStyle::Pyramid1, &[]), 77);
        let nobody = |_: i64| None::<()>;
        for (extra, want) in [
            (&[][..], None),
            (&[("cubicweb.auth.groups_principals", "no")][..], Some(77)),
        ] {
            let auth = auth(DomainStyle::Pyramid1, extra);
            let (mut session, mut req) = request(&header, T0 + 1.0);
            let got = auth
                .authenticated_userid(&mut req, &mut session, nobody)
                .map(|u| u.userid);
            assert_eq!(got, want, "{extra:?}");
            let p = auth.effective_principals(&mut req, &mut session, nobody);
            assert_eq!(p.userids, [77], "unvalidated eids are principals too");
            assert_eq!(p.authenticated.map(|u| u.userid), want);
        }
    }

    #[test]
    fn login_and_logout_revoke_the_reissue() {
        let auth = auth(DomainStyle::Pyramid1, &[]);
        let header = login_both(&auth, 5);
        let now = T0 + 121.0;
        let (mut session, mut req) = request(&header, now);
        // The session holds the persistent ticket: pauth_tkt authenticates, and the
        // (useless) auth_tkt, identified first, is the one reissued.
        let user = auth.authenticated_userid(&mut req, &mut session, |_| Some(()));
        assert_eq!(user.map(|u| u.policy), Some(PolicyKind::Persistent));
        assert_eq!(req.reissued(), Some(PolicyKind::Session));
        assert_eq!(auth.reissue_headers(&req).len(), 3);
        let mut rng = counter_rng();
        let login = auth
            .remember(&mut req, &mut session, 6, Some(false), &mut rng)
            .unwrap();
        assert_eq!(login.set_cookie.len(), 3);
        assert!(auth.reissue_headers(&req).is_empty());

        let (mut session, mut req) = request(&header, now);
        auth.authenticated_userid(&mut req, &mut session, |_| Some(()));
        assert!(!auth.reissue_headers(&req).is_empty());
        let mut rng = counter_rng();
        let gone = auth.logout(&mut req, &mut session, &mut rng).unwrap();
        assert!(auth.reissue_headers(&req).is_empty());
        assert_eq!(gone.len(), 6);
        assert!(session
            .peek_state()
            .get(AUTHENTICATION_TICKET_KEY)
            .is_none());
        let csrf = session.peek_state()[crate::session::CSRF_KEY]
            .as_str()
            .unwrap();
        assert_eq!(csrf.len(), 40);
    }

    #[test]
    fn logout_deletes_every_domain_variant_on_both_pyramids() {
        for style in [DomainStyle::Pyramid1, DomainStyle::Pyramid2] {
            let auth = auth(
                style,
                &[
                    ("cubicweb.auth.authtkt.session.secure", "no"),
                    ("cubicweb.auth.authtkt.persistent.secure", "no"),
                ],
            );
            let config = config();
            let mut session = CookieSession::load(&config, None, T0);
            let mut req = AuthRequest::new(None, "example.com:8080", "", T0);
            let gone = auth.forget(&mut req, &mut session);
            let domains: Vec<&str> = gone
                .iter()
                .map(|h| {
                    h.split("; ")
                        .find_map(|a| a.strip_prefix("Domain="))
                        .unwrap_or("-")
                })
                .collect();
            assert_eq!(
                domains,
                [
                    "-",
                    "example.com",
                    ".example.com",
                    "-",
                    "example.com",
                    ".example.com"
                ],
                "{style:?}"
            );
            assert!(gone[0].starts_with("auth_tkt=; Max-Age=0; Path=/; expires="));
            assert!(gone[3].starts_with("pauth_tkt=; Max-Age=0; Path=/; expires="));
            // No ticket in the session: nothing removed, the session not changed.
            assert!(!session.is_dirty());
        }
        // A configured domain and parent_domain are deleted too, in both spellings.
        let auth = auth(
            DomainStyle::Pyramid2,
            &[("cubicweb.auth.authtkt.session.parent_domain", "yes")],
        );
        let mut req = AuthRequest::new(None, "www.example.com", "", T0);
        let mut session = CookieSession::load(&config(), None, T0);
        let gone = auth.forget(&mut req, &mut session);
        let session_cookies: Vec<&String> =
            gone.iter().filter(|h| h.starts_with("auth_tkt=")).collect();
        assert_eq!(session_cookies.len(), 5, "{session_cookies:?}");
        assert!(session_cookies[3].contains("Domain=.example.com;"));
        assert!(session_cookies[4].contains("Domain=example.com;"));
    }

    #[test]
    fn a_ticket_needs_a_truthy_integer_userid_and_the_session_ticket() {
        let auth = auth(DomainStyle::Pyramid2, &[]);
        let helper = auth.helper(PolicyKind::Session);
        let token = "authticket_Zeb0BVCPa4iJlxf7LvZJUOzKlO2uiKAea4TCYLzogPq2NLHZcS";
        let config = config();
        let mut session = CookieSession::load(&config, None, T0);
        session.insert(AUTHENTICATION_TICKET_KEY, Value::String(token.to_string()));
        let state = session.finish(&config, false).unwrap().unwrap();
        let state = state.split(';').next().unwrap();
        for (userid, tokens, want) in [
            (UserId::Int(5), &["admin", token][..], Some(UserId::Int(5))),
            (UserId::Int(0), &[token][..], None),
            (UserId::Text("".into()), &[token][..], None),
            (UserId::Int(5), &["admin"][..], None),
            (UserId::Int(5), &["authticket_other"][..], None),
            (
                UserId::Text("bob".into()),
                &[token][..],
                Some(UserId::Text("bob".into())),
            ),
        ] {
            let value = helper.ticket_value("", T0, &userid, tokens).unwrap();
            let header = format!("auth_tkt=\"{}\"; {state}", value.replace(',', "\\054"));
            let (mut session, mut req) = request(&header, T0 + 1.0);
            let got = auth.unauthenticated_userid(&mut req, PolicyKind::Session, &mut session);
            assert_eq!(got, want, "{userid:?} {tokens:?}");
            // Only integers are eids.
            let user = auth.authenticated_userid(&mut req, &mut session, |_| Some(()));
            assert_eq!(
                user.map(|u| u.userid),
                want.and_then(|u| match u {
                    UserId::Int(n) => Some(n as i64),
                    _ => None,
                })
            );
        }
    }
}
