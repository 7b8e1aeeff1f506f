//! CubicWeb's logins on top of the session, for every integration: [`AuthConfig`]
//! (installed with the tower / axum layer's
//! [`SessionLayer::with_cubicweb_auth`](crate::integrations::tower::SessionLayer::with_cubicweb_auth)
//! or the actix middleware's
//! [`SessionMiddleware::with_cubicweb_auth`](crate::integrations::actix::SessionMiddleware::with_cubicweb_auth))
//! and the request's [`Auth`] (an extractor in axum and actix-web, a request extension
//! in a plain tower stack).
//!
//! Per request the layer builds an [`AuthRequest`] from the `Cookie` and `Host` headers,
//! the remote address and the layer's clock reading (the session's), and hands the
//! handler an [`Auth`] bound to the request's [`Session`]. Nothing is computed until the
//! handler asks, as in Pyramid: [`Auth::userid`] runs CubicWeb's policies
//! ([`CubicWebAuth::authenticated_userid`]), which may schedule a reissue of the login
//! cookie; [`Auth::login`] and [`Auth::logout`] queue their `Set-Cookie` headers. After
//! the handler the layer appends, in Pyramid's order, the login/logout headers, the
//! reissue (unless a login or logout of the request revoked it), then the session cookie;
//! a store failure that replaces the answer with a `503` drops them all.
//!
//! # The remote address
//!
//! Only a policy with `include_ip` reads it. A source configured with
//! [`AuthConfig::with_remote_addr`] decides (e.g. a header a trusted reverse proxy sets and
//! clients cannot). Without one it is the direct peer, as Pyramid's `REMOTE_ADDR` is
//! behind a WSGI server (behind a reverse proxy: the proxy's address): in the tower and
//! axum layer the request extension `axum::extract::ConnectInfo<SocketAddr>` (feature
//! `axum`; serve the app with `into_make_service_with_connect_info::<SocketAddr>()`),
//! in actix-web the connection's peer address. Without either, the address is empty and
//! an `include_ip` ticket never verifies (Pyramid raises on a missing `REMOTE_ADDR`).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;

use http::Request;
use tokio::sync::Mutex;

use super::{Session, SessionError};
use crate::authtkt::cubicweb::{
    AuthRequest, Authenticated, CubicWebAuth, Login, PolicyKind, Principals,
};
use crate::random::OsRandom;
use crate::server::BoxFuture;

/// The groups lookup: CubicWeb's `get_principals(eid)`, the user's group names, `None`
/// for an eid it does not know.
type GroupsFn = dyn Fn(i64) -> BoxFuture<'static, Option<Vec<String>>> + Send + Sync;

/// Where the remote address comes from, given the request's head.
type RemoteAddrFn = dyn Fn(&Request<()>) -> Option<String> + Send + Sync;

/// CubicWeb's login policies for the session layer or middleware: the [`CubicWebAuth`]
/// stack, the groups lookup, and where the remote address comes from.
#[derive(Clone)]
pub struct AuthConfig {
    auth: Arc<CubicWebAuth>,
    groups: Option<Arc<GroupsFn>>,
    remote_addr: Option<Arc<RemoteAddrFn>>,
}

impl core::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("auth", &self.auth)
            .field("groups", &self.groups.is_some())
            .field("remote_addr", &self.remote_addr.is_some())
            .finish()
    }
}

impl From<CubicWebAuth> for AuthConfig {
    fn from(auth: CubicWebAuth) -> AuthConfig {
        AuthConfig::new(auth)
    }
}

impl AuthConfig {
    /// The policies, without a groups lookup (every eid a valid ticket carries is taken
    /// as a user) and with the peer address as the remote address (see
    /// [the remote address](self#the-remote-address)).
    pub fn new(auth: CubicWebAuth) -> AuthConfig {
        AuthConfig {
            auth: Arc::new(auth),
            groups: None,
            remote_addr: None,
        }
    }

    /// The groups lookup (CubicWeb's `get_principals`): the user's groups, or `None`
    /// when the eid is unknown, which makes its ticket count as nobody (CubicWeb answers
    /// a 500 there). Consulted when `cubicweb.auth.groups_principals` is on (the
    /// default). A lookup that fails should answer `None` (anonymous) or be retried by
    /// the caller; it cannot fail the request from here.
    #[must_use]
    pub fn with_groups<F, Fut>(mut self, groups: F) -> AuthConfig
    where
        F: Fn(i64) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<Vec<String>>> + Send + 'static,
    {
        self.groups = Some(Arc::new(move |eid| Box::pin(groups(eid))));
        self
    }

    /// Where the remote address (`REMOTE_ADDR`) comes from, instead of the peer address:
    /// e.g. a header a trusted reverse proxy sets. `None`: no address. The function sees
    /// the request's head as a body-less `http::Request<()>`: its method, URI, version,
    /// headers and, in the tower and axum layer, its extensions (in actix-web, whose
    /// requests have other types, a copy of the head whose extensions hold the peer
    /// `SocketAddr` when known).
    #[must_use]
    pub fn with_remote_addr(
        mut self,
        remote_addr: impl Fn(&Request<()>) -> Option<String> + Send + Sync + 'static,
    ) -> AuthConfig {
        self.remote_addr = Some(Arc::new(remote_addr));
        self
    }

    /// The policies.
    pub fn auth(&self) -> &CubicWebAuth {
        &self.auth
    }

    /// The configured remote address source, if any.
    pub(crate) fn remote_addr_source(&self) -> Option<&RemoteAddrFn> {
        self.remote_addr.as_deref()
    }
}

/// Where a request comes from, as the login policies read it.
#[derive(Debug, Default)]
pub(crate) struct Origin {
    /// The `Host` header (else the URI's authority).
    pub(crate) host: String,
    /// The remote address (empty when unknown).
    pub(crate) remote_addr: String,
}

struct State {
    req: AuthRequest,
    /// The `Set-Cookie` headers of the request's logins and logouts, in call order.
    set_cookie: Vec<String>,
    used: bool,
}

/// The request's CubicWeb login state, for handlers: an extractor in axum and
/// actix-web, a request extension in a plain tower stack. It needs the layer's (or
/// middleware's) `with_cubicweb_auth`; without it the extractors answer
/// [`SessionError::AuthMissing`]. Cheap to clone; all clones are the same request's.
#[derive(Clone)]
pub struct Auth {
    config: Arc<AuthConfig>,
    session: Session,
    state: Arc<Mutex<State>>,
}

impl core::fmt::Debug for Auth {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

impl Auth {
    pub(super) fn start(
        config: Arc<AuthConfig>,
        origin: &Origin,
        cookie_header: Option<&[u8]>,
        now: f64,
        session: Session,
    ) -> Auth {
        let req = AuthRequest::new(cookie_header, &origin.host, &origin.remote_addr, now);
        Auth {
            config,
            session,
            state: Arc::new(Mutex::new(State {
                req,
                set_cookie: Vec::new(),
                used: false,
            })),
        }
    }

    /// The `Set-Cookie` headers for the response (logins and logouts, then the reissue
    /// unless revoked), and whether the login state was consulted.
    pub(super) async fn finish(&self) -> (Vec<String>, bool) {
        let mut state = self.state.lock().await;
        let mut headers = core::mem::take(&mut state.set_cookie);
        headers.extend(self.config.auth.reissue_headers(&state.req));
        (headers, state.used)
    }

    /// The request's session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The authenticated user's eid, or `None` (`request.authenticated_userid`). See
    /// [`Auth::authenticated`].
    pub async fn userid(&self) -> Result<Option<i64>, SessionError> {
        Ok(self.authenticated().await?.map(|a| a.userid))
    }

    /// The authenticated user: the session policy (`auth_tkt`), then the persistent one
    /// (`pauth_tkt`); a policy counts when its cookie verifies and has not timed out,
    /// its `authticket_` token is the session's `authentication_ticket`, and the groups
    /// lookup knows the eid ([`CubicWebAuth::authenticated_userid`]). `groups` is the
    /// lookup's answer, `None` without a lookup or with
    /// `cubicweb.auth.groups_principals` off.
    ///
    /// May schedule a reissue of the login cookie, and reads the session (which may
    /// load it from the store, or re-send a cookie session). Each call computes the
    /// answer again, as Pyramid does.
    pub async fn authenticated(&self) -> Result<Option<Authenticated<Vec<String>>>, SessionError> {
        let mut state = self.state.lock().await;
        state.used = true;
        for policy in PolicyKind::ALL {
            let Some(userid) = self.policy_eid(&mut state, policy).await? else {
                continue;
            };
            match self.groups(userid).await {
                Some(groups) => {
                    return Ok(Some(Authenticated {
                        userid,
                        policy,
                        groups,
                    }))
                }
                None => continue,
            }
        }
        Ok(None)
    }

    /// `request.effective_principals`' walk ([`CubicWebAuth::effective_principals`]):
    /// both cookies are identified (a `pauth_tkt` may be reissued even when `auth_tkt`
    /// authenticated), then the user as [`Auth::authenticated`] finds it.
    pub async fn principals(&self) -> Result<Principals<Vec<String>>, SessionError> {
        let mut state = self.state.lock().await;
        state.used = true;
        let mut found = [None, None];
        for (slot, policy) in found.iter_mut().zip(PolicyKind::ALL) {
            *slot = self.policy_eid(&mut state, policy).await?;
        }
        let mut userids = Vec::with_capacity(2);
        for userid in found.iter().flatten() {
            if !userids.contains(userid) {
                userids.push(*userid);
            }
        }
        let mut authenticated = None;
        for (userid, policy) in found.iter().zip(PolicyKind::ALL) {
            let Some(userid) = *userid else { continue };
            if let Some(groups) = self.groups(userid).await {
                authenticated = Some(Authenticated {
                    userid,
                    policy,
                    groups,
                });
                break;
            }
        }
        Ok(Principals {
            userids,
            authenticated,
        })
    }

    /// Logs the user with eid `userid` in ([`CubicWebAuth::remember`]): `persistent`
    /// `Some(true)` sets `pauth_tkt` ("remember me"), `Some(false)` `auth_tkt`, `None`
    /// both (as CubicWeb without the keyword: only `pauth_tkt` is then usable). The
    /// tickets go to the session and their cookies to the response; a reissue of this
    /// request is revoked. Check the credentials first; CubicWeb also rotates nothing
    /// else at login. Returns what the login produced, with the `last_login_time`
    /// update for the caller's store.
    pub async fn login(
        &self,
        userid: i64,
        persistent: Option<bool>,
    ) -> Result<Login, SessionError> {
        let mut state = self.state.lock().await;
        state.used = true;
        let auth = &self.config.auth;
        let login = self
            .session
            .with(|d| auth.remember(&mut state.req, d, userid, persistent, &mut OsRandom))
            .await?
            .map_err(SessionError::Login)?;
        state.set_cookie.extend(login.set_cookie.iter().cloned());
        Ok(login)
    }

    /// Logs out as CubicWeb's logout view does ([`CubicWebAuth::logout`]): the ticket
    /// leaves the session, both cookies are deleted for every domain variant, the
    /// session's CSRF token is replaced, and a reissue of this request is revoked. With
    /// a server-side session, old cookies replayed afterwards are anonymous; with a
    /// cookie session they are not (the old session cookie still holds the ticket), as
    /// in Python.
    pub async fn logout(&self) -> Result<(), SessionError> {
        let mut state = self.state.lock().await;
        state.used = true;
        let auth = &self.config.auth;
        let headers = self
            .session
            .with(|d| auth.logout(&mut state.req, d, &mut OsRandom))
            .await??;
        state.set_cookie.extend(headers);
        Ok(())
    }

    async fn policy_eid(
        &self,
        state: &mut State,
        policy: PolicyKind,
    ) -> Result<Option<i64>, SessionError> {
        let auth = &self.config.auth;
        self.session
            .with(|d| auth.unauthenticated_eid(&mut state.req, policy, d))
            .await
    }

    /// `Some(groups)` when the user counts: always without a lookup or with
    /// `groups_principals` off (`groups` then `None`).
    async fn groups(&self, userid: i64) -> Option<Option<Vec<String>>> {
        match &self.config.groups {
            Some(lookup) if self.config.auth.groups_principals() => lookup(userid).await.map(Some),
            _ => Some(None),
        }
    }
}
