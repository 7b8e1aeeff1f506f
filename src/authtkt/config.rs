//! The helper's settings: Pyramid's `AuthTktCookieHelper(secret, cookie_name, secure,
//! include_ip, timeout, reissue_time, max_age, http_only, path, wild_domain, hashalg,
//! parent_domain, domain, samesite)`, validated once, plus the Pyramid version whose
//! cookie domains to reproduce.

use alloc::borrow::ToOwned as _;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use super::digest::HashAlg;
use super::error::ConfigError;
use crate::cookie::{is_cookie_name, is_plain_attribute};
use crate::SameSite;

/// Which Pyramid's cookie domains `remember`, reissues and `forget` reproduce: the one
/// difference between Pyramid 1.10 and 2.x in this module.
///
/// With the default `wild_domain` and no `domain`, for a request to `example.com`:
///
/// | style | `Set-Cookie` headers |
/// |---|---|
/// | [`DomainStyle::Pyramid1`] | 3: host-only (no `Domain`), `Domain=example.com`, `Domain=.example.com` |
/// | [`DomainStyle::Pyramid2`] | 1: `Domain=example.com` |
///
/// `parent_domain` (for a host with at least two dots) gives one cookie for the parent,
/// `Domain=.example.com` on 1.10 and `Domain=example.com` on 2.x; `wild_domain = false`
/// drops the `.host` variant on 1.10 (two cookies) and gives a host-only cookie on 2.x.
/// Every CubicWeb release pins `pyramid<2`, so a CubicWeb deployment is
/// [`DomainStyle::Pyramid1`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DomainStyle {
    /// Pyramid 1.x (1.10.8): the fan-out of up to three cookies.
    Pyramid1,
    /// Pyramid 2.x (2.1): one cookie.
    Pyramid2,
}

/// Builds an [`AuthTktHelper`](super::AuthTktHelper). Start from
/// [`AuthTktHelper::builder`](super::AuthTktHelper::builder); the defaults are Pyramid's:
/// cookie `auth_tkt`, not secure, no `include_ip`, no timeout, no reissue, no max age,
/// not HttpOnly, `Path=/`, `wild_domain`, no `parent_domain`, no `domain`,
/// `SameSite=Lax`, sha512 (the default of `AuthTktAuthenticationPolicy` on every
/// version; the bare 1.10 `AuthTktCookieHelper`'s md5 default is not reproduced: ask
/// for [`HashAlg::legacy_md5`] explicitly).
pub struct Builder {
    pub(super) secret: Zeroizing<Vec<u8>>,
    pub(super) style: DomainStyle,
    pub(super) alg: HashAlg,
    pub(super) cookie_name: String,
    pub(super) secure: bool,
    pub(super) include_ip: bool,
    pub(super) timeout: Option<u64>,
    pub(super) reissue_time: Option<u64>,
    pub(super) max_age: Option<i64>,
    pub(super) http_only: bool,
    pub(super) path: Option<String>,
    pub(super) wild_domain: bool,
    pub(super) parent_domain: bool,
    pub(super) domain: Option<String>,
    pub(super) samesite: Option<String>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("secret", &"<redacted>")
            .field("style", &self.style)
            .field("alg", &self.alg)
            .field("cookie_name", &self.cookie_name)
            .finish_non_exhaustive()
    }
}

impl Builder {
    pub(super) fn new(secret: Vec<u8>, style: DomainStyle) -> Builder {
        Builder {
            secret: Zeroizing::new(secret),
            style,
            alg: HashAlg::SHA512,
            cookie_name: "auth_tkt".to_owned(),
            secure: false,
            include_ip: false,
            timeout: None,
            reissue_time: None,
            max_age: None,
            http_only: false,
            path: Some("/".to_owned()),
            wild_domain: true,
            parent_domain: false,
            domain: None,
            samesite: Some("Lax".to_owned()),
        }
    }

    /// `hashalg`.
    pub fn hashalg(mut self, alg: HashAlg) -> Builder {
        self.alg = alg;
        self
    }

    /// `cookie_name` (case-sensitive when reading, as WebOb is).
    pub fn cookie_name(mut self, name: &str) -> Builder {
        name.clone_into(&mut self.cookie_name);
        self
    }

    /// `secure`: the cookies carry `secure` (the forget cookies too).
    pub fn secure(mut self, secure: bool) -> Builder {
        self.secure = secure;
        self
    }

    /// `include_ip`: the remote address is hashed into the ticket (see
    /// [`encode_ip_timestamp`](super::encode_ip_timestamp)); the address is used as given,
    /// without normalisation (`2001:db8::1` and `2001:0db8::1` differ).
    pub fn include_ip(mut self, include_ip: bool) -> Builder {
        self.include_ip = include_ip;
        self
    }

    /// `timeout` in seconds: a ticket is refused once `timestamp + timeout < now`
    /// (strictly). `None` or `Some(0)` means never, as in Pyramid.
    pub fn timeout(mut self, timeout: Option<u64>) -> Builder {
        self.timeout = timeout.filter(|&t| t != 0);
        self
    }

    /// `reissue_time` in seconds: `identify` reissues the ticket when
    /// `now - timestamp > reissue_time` (strictly, against the whole-second timestamp;
    /// `Some(0)` reissues on every request after the ticket's second). `None`: never.
    pub fn reissue_time(mut self, reissue_time: Option<u64>) -> Builder {
        self.reissue_time = reissue_time;
        self
    }

    /// `max_age` in seconds: the cookie's `Max-Age` and `expires`, also carried by
    /// reissues. `None`: a browser-session cookie.
    pub fn max_age(mut self, max_age: Option<i64>) -> Builder {
        self.max_age = max_age;
        self
    }

    /// `http_only`.
    pub fn http_only(mut self, http_only: bool) -> Builder {
        self.http_only = http_only;
        self
    }

    /// `path`; `None` omits the attribute.
    pub fn path(mut self, path: Option<&str>) -> Builder {
        self.path = path.map(str::to_owned);
        self
    }

    /// `wild_domain` (default true); see [`DomainStyle`].
    pub fn wild_domain(mut self, wild_domain: bool) -> Builder {
        self.wild_domain = wild_domain;
        self
    }

    /// `parent_domain`; see [`DomainStyle`].
    pub fn parent_domain(mut self, parent_domain: bool) -> Builder {
        self.parent_domain = parent_domain;
        self
    }

    /// `domain`: one cookie for exactly this domain, whatever the request's host.
    pub fn domain(mut self, domain: Option<&str>) -> Builder {
        self.domain = domain.map(str::to_owned);
        self
    }

    /// `samesite` with the canonical spelling (`Strict`, `Lax`, `None`); `None` omits the
    /// attribute.
    pub fn samesite(mut self, samesite: Option<SameSite>) -> Builder {
        self.samesite = samesite.map(|s| s.as_str().to_owned());
        self
    }

    /// `samesite` as a Pyramid setting spells it: any case of `strict`, `lax` or `none`,
    /// written as given (`lax` gives `SameSite=lax`, as WebOb does); anything else is
    /// refused by [`Builder::build`] (WebOb raises at the first `remember`).
    pub fn samesite_spelled(mut self, samesite: &str) -> Builder {
        self.samesite = Some(samesite.to_owned());
        self
    }

    /// Validates the settings.
    pub fn build(self) -> Result<super::AuthTktHelper, ConfigError> {
        if self.secret.is_empty() {
            return Err(ConfigError::EmptySecret);
        }
        if !is_cookie_name(self.cookie_name.as_bytes()) {
            return Err(ConfigError::InvalidCookieName);
        }
        if let Some(path) = &self.path {
            if path.is_empty() || !is_plain_attribute(path) {
                return Err(ConfigError::InvalidPath);
            }
        }
        if let Some(domain) = &self.domain {
            if domain.is_empty() || !is_plain_attribute(domain) {
                return Err(ConfigError::InvalidDomain);
            }
        }
        if let Some(samesite) = &self.samesite {
            let known = SameSite::from_name(samesite).map_err(|_| ConfigError::InvalidSameSite)?;
            if known == SameSite::None && !self.secure {
                return Err(ConfigError::SameSiteNoneWithoutSecure);
            }
        }
        Ok(super::AuthTktHelper { cfg: self })
    }
}
