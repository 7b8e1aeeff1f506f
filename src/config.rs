//! Session configuration: profiles with Pyramid's and CubicWeb's defaults, the crate's own
//! secure default, and validation when a configuration is built.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

pub use crate::codec::Serializer;
use crate::cookie::{is_cookie_name, is_plain_attribute, CookieAttributes};
use crate::error::ConfigError;
use crate::policy::{Expiry, Policy};
use crate::signer::{HashAlg, Keyring};
use crate::time::UnixTime;
use core::time::Duration;
use zeroize::Zeroizing;

/// Pyramid's default salt (also CubicWeb's).
pub const PYRAMID_SALT: &str = "pyramid.session.";

/// The `SameSite` cookie attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None` (requires `Secure`).
    None,
}

impl SameSite {
    /// Parses `strict`, `lax` or `none`, ignoring ASCII case, as WebOb validates it.
    pub fn from_name(name: &str) -> Result<SameSite, ConfigError> {
        [SameSite::Strict, SameSite::Lax, SameSite::None]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
            .ok_or(ConfigError::InvalidSameSite)
    }

    /// The attribute value as written: `Strict`, `Lax` or `None`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The cookie's name and attributes, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieSettings {
    name: String,
    path: Option<String>,
    domain: Option<String>,
    max_age: Option<i64>,
    secure: bool,
    httponly: bool,
    samesite: Option<SameSite>,
    partitioned: bool,
}

impl CookieSettings {
    /// The cookie name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The attributes, in the form [`crate::cookie::render_set_cookie`] takes.
    pub fn attributes(&self) -> CookieAttributes<'_> {
        CookieAttributes {
            comment: None,
            domain: self.domain.as_deref(),
            max_age: self.max_age,
            path: self.path.as_deref(),
            secure: self.secure,
            httponly: self.httponly,
            samesite: self.samesite.map(SameSite::as_str),
            partitioned: self.partitioned,
        }
    }
    /// The attributes with another `Max-Age` (and `expires`): `None` makes a
    /// browser-session cookie. A session with its own [`Expiry`] is rendered with
    /// [`SessionConfig::cookie_max_age`].
    pub fn attributes_with_max_age(&self, max_age: Option<i64>) -> CookieAttributes<'_> {
        CookieAttributes {
            max_age,
            ..self.attributes()
        }
    }
    /// Renders the header that deletes this cookie, with the same Path and Domain.
    pub fn removal(&self) -> String {
        crate::cookie::render_removal(
            &self.name,
            self.path.as_deref(),
            self.domain.as_deref(),
            self.secure,
            self.samesite == Some(SameSite::None),
        )
    }
}

/// A validated session configuration. Build one with [`SessionConfig::pyramid`],
/// [`SessionConfig::cubicweb`] or [`SessionConfig::secure`] and the [`Builder`] methods.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    keyring: Keyring,
    cookie: CookieSettings,
    policy: Policy,
    set_on_exception: bool,
    serializer: Serializer,
}

impl SessionConfig {
    /// Pyramid's `SignedCookieSessionFactory(secret)` defaults: cookie `session`, `Path=/`,
    /// `SameSite=Lax`, not Secure, not HttpOnly, timeout 1200 s, reissue 0 s, sha512,
    /// salt `pyramid.session.`.
    pub fn pyramid(secret: &str) -> Builder {
        Builder::new(secret)
    }

    /// Pyramid 1.x's `SignedCookieSessionFactory(secret)` (what CubicWeb runs: every
    /// release pins `pyramid<2`): the defaults of [`SessionConfig::pyramid`] with Pyramid
    /// 1's default serializer, pickle ([`Serializer::Pickle`]). CubicWeb's
    /// `cubicweb.pyramid.default_session` (the 4.2+ and 5.x template) is exactly this.
    #[cfg(feature = "pickle")]
    pub fn pyramid1(secret: &str) -> Builder {
        Builder::new(secret).serializer(Serializer::Pickle)
    }

    /// CubicWeb's `CWSessionFactory(secret)` defaults: as [`SessionConfig::pyramid`] but
    /// HttpOnly and reissue 120 s; with feature `pickle`, CubicWeb 3.30+'s serializer,
    /// JSON that falls back on pickle when reading ([`Serializer::JsonWithPickleFallback`]).
    pub fn cubicweb(secret: &str) -> Builder {
        let b = Builder::new(secret)
            .httponly(true)
            .reissue_time(Some(Duration::from_secs(120)));
        #[cfg(feature = "pickle")]
        let b = b.serializer(Serializer::JsonWithPickleFallback);
        b
    }

    /// CubicWeb 3.29 and older's `CWSessionFactory(secret)` on Pyramid 1.x: as
    /// [`SessionConfig::cubicweb`], its id cookie pickled ([`Serializer::Pickle`]).
    #[cfg(feature = "pickle")]
    pub fn cubicweb_legacy(secret: &str) -> Builder {
        SessionConfig::cubicweb(secret).serializer(Serializer::Pickle)
    }

    /// pyramid_session_redis's `RedisSessionFactory(secret)` cookie: salt
    /// `pyramid_session_redis.`, HttpOnly, no SameSite attribute, no reissue on read.
    /// Use it with server mode's `IdCookieFormat::PyramidSessionRedis`.
    pub fn pyramid_session_redis(secret: &str) -> Builder {
        Builder::new(secret)
            .salt("pyramid_session_redis.")
            .httponly(true)
            .samesite(None)
            .reissue_time(None)
    }

    /// The crate's secure default: Secure, HttpOnly, `SameSite=Lax`, timeout 1200 s,
    /// reissue 120 s. Cookies stay readable by Pyramid with the same secret.
    pub fn secure(secret: &str) -> Builder {
        Builder::new(secret)
            .secure(true)
            .httponly(true)
            .reissue_time(Some(Duration::from_secs(120)))
    }

    /// The keyring that signs and verifies cookies.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }
    /// The cookie's name and attributes.
    pub fn cookie(&self) -> &CookieSettings {
        &self.cookie
    }
    /// Idle timeout in seconds; `None` never expires.
    pub fn timeout(&self) -> Option<u64> {
        self.policy.timeout
    }
    /// Reissue threshold in seconds; `None` never reissues on read.
    pub fn reissue_time(&self) -> Option<u64> {
        self.policy.reissue_time
    }
    /// Whether a cookie is still sent when the request ended in an error.
    pub fn set_on_exception(&self) -> bool {
        self.set_on_exception
    }
    /// Largest accepted distance of a cookie timestamp into the future, in seconds.
    pub fn max_future_skew(&self) -> Option<u64> {
        self.policy.max_future_skew
    }
    /// Absolute session lifetime from creation, in seconds.
    pub fn max_lifetime(&self) -> Option<u64> {
        self.policy.max_lifetime
    }
    /// Sessions created before this instant are refused.
    pub fn not_before(&self) -> Option<f64> {
        self.policy.not_before
    }
    /// How the frame is serialized inside the signature.
    pub fn serializer(&self) -> Serializer {
        self.serializer
    }
    /// Every time rule of this configuration, in one value.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
    /// The longest idle timeout a session may set for itself, in seconds
    /// ([`Builder::max_expiry`]).
    pub fn max_expiry(&self) -> Option<u64> {
        self.policy.max_expiry
    }
    /// Judges a session renewed at `renewed` and created at `created` at time `now`
    /// ([`crate::policy::Policy::judge`]), with the configuration's idle timeout.
    pub fn judge(&self, now: f64, renewed: f64, created: f64) -> crate::policy::Verdict {
        self.judge_for(now, renewed, created, None)
    }
    /// [`SessionConfig::judge`] for a session with its own `expiry` (`None`: the
    /// configuration's; [`Policy::with_expiry`]).
    pub fn judge_for(
        &self,
        now: f64,
        renewed: f64,
        created: f64,
        expiry: Option<Expiry>,
    ) -> crate::policy::Verdict {
        self.policy()
            .with_expiry(expiry)
            .judge(now, renewed, created)
    }
    /// The `Max-Age` of the cookie of a session with its own `expiry`: the configured
    /// `max_age` without one, none (a browser-session cookie) for
    /// [`Expiry::OnSessionEnd`], and the session's effective idle timeout
    /// ([`Policy::with_expiry`], so within `max_expiry`) for [`Expiry::OnInactivity`].
    pub fn cookie_max_age(&self, expiry: Option<Expiry>) -> Option<i64> {
        match expiry {
            None => self.cookie.max_age,
            Some(Expiry::OnSessionEnd) => None,
            Some(Expiry::OnInactivity(_)) => self
                .policy
                .with_expiry(expiry)
                .timeout
                .map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
        }
    }
}

/// Builds a [`SessionConfig`]; every setting is checked in [`Builder::build`].
///
/// `Debug` shows every setting except the secrets, of which it shows only the number.
#[derive(Clone)]
#[must_use]
pub struct Builder {
    /// Wiped from memory when the builder is dropped.
    secrets: Vec<Zeroizing<String>>,
    salt: String,
    hashalg: HashAlg,
    name: String,
    path: Option<String>,
    domain: Option<String>,
    max_age: Option<Duration>,
    secure: bool,
    httponly: bool,
    samesite: Option<SameSite>,
    partitioned: bool,
    timeout: Option<Duration>,
    reissue_time: Option<Duration>,
    set_on_exception: bool,
    max_future_skew: Option<Duration>,
    max_lifetime: Option<Duration>,
    not_before: Option<UnixTime>,
    max_expiry: Option<Duration>,
    serializer: Serializer,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be left out (or leak) unnoticed.
        let Builder {
            secrets,
            salt,
            hashalg,
            name,
            path,
            domain,
            max_age,
            secure,
            httponly,
            samesite,
            partitioned,
            timeout,
            reissue_time,
            set_on_exception,
            max_future_skew,
            max_lifetime,
            not_before,
            max_expiry,
            serializer,
        } = self;
        f.debug_struct("Builder")
            .field("secrets", &format_args!("<{} redacted>", secrets.len()))
            .field("salt", salt)
            .field("hashalg", hashalg)
            .field("name", name)
            .field("path", path)
            .field("domain", domain)
            .field("max_age", max_age)
            .field("secure", secure)
            .field("httponly", httponly)
            .field("samesite", samesite)
            .field("partitioned", partitioned)
            .field("timeout", timeout)
            .field("reissue_time", reissue_time)
            .field("set_on_exception", set_on_exception)
            .field("max_future_skew", max_future_skew)
            .field("max_lifetime", max_lifetime)
            .field("not_before", not_before)
            .field("max_expiry", max_expiry)
            .field("serializer", serializer)
            .finish()
    }
}

/// Whole seconds, as Pyramid's `int()` takes them (a fraction is dropped).
fn secs(d: Option<Duration>) -> Option<u64> {
    d.map(|d| d.as_secs())
}

/// Seconds from an ini or a test's integer: refused when negative.
pub fn seconds(value: i64) -> Result<Duration, ConfigError> {
    u64::try_from(value)
        .map(Duration::from_secs)
        .map_err(|_| ConfigError::NegativeDuration)
}

impl Builder {
    fn new(secret: &str) -> Builder {
        Builder {
            secrets: alloc::vec![Zeroizing::new(secret.to_string())],
            salt: PYRAMID_SALT.to_string(),
            hashalg: HashAlg::Sha512,
            name: "session".to_string(),
            path: Some("/".to_string()),
            domain: None,
            max_age: None,
            secure: false,
            httponly: false,
            samesite: Some(SameSite::Lax),
            partitioned: false,
            timeout: Some(Duration::from_secs(1200)),
            reissue_time: Some(Duration::ZERO),
            set_on_exception: true,
            max_future_skew: Some(Duration::from_secs(60)),
            max_lifetime: None,
            not_before: None,
            max_expiry: None,
            serializer: Serializer::Json,
        }
    }

    /// How the frame is serialized (Pyramid's `serializer=`; default JSON).
    pub fn serializer(mut self, serializer: Serializer) -> Builder {
        self.serializer = serializer;
        self
    }

    /// Adds an older secret that still verifies (but never signs) cookies.
    pub fn old_secret(mut self, secret: &str) -> Builder {
        self.secrets.push(Zeroizing::new(secret.to_string()));
        self
    }
    /// HMAC salt (Pyramid's `salt`).
    pub fn salt(mut self, salt: &str) -> Builder {
        self.salt = salt.to_string();
        self
    }
    /// Hash algorithm (Pyramid's `hashalg`; [`HashAlg::from_name`] reads its names).
    pub fn hashalg(mut self, alg: HashAlg) -> Builder {
        self.hashalg = alg;
        self
    }
    /// Cookie name (Pyramid's `cookie_name`).
    pub fn cookie_name(mut self, name: &str) -> Builder {
        self.name = name.to_string();
        self
    }
    /// `Path`; `None` omits the attribute.
    pub fn path(mut self, path: Option<&str>) -> Builder {
        self.path = path.map(str::to_string);
        self
    }
    /// `Domain`.
    pub fn domain(mut self, domain: Option<&str>) -> Builder {
        self.domain = domain.map(str::to_string);
        self
    }
    /// `Max-Age` (and `expires`) in seconds; `None` makes a browser-session cookie.
    pub fn max_age(mut self, max_age: Option<Duration>) -> Builder {
        self.max_age = max_age;
        self
    }
    /// `Secure`.
    pub fn secure(mut self, secure: bool) -> Builder {
        self.secure = secure;
        self
    }
    /// `HttpOnly`.
    pub fn httponly(mut self, httponly: bool) -> Builder {
        self.httponly = httponly;
        self
    }
    /// `SameSite`; `None` (the option) omits it ([`SameSite::from_name`] reads names).
    pub fn samesite(mut self, samesite: Option<SameSite>) -> Builder {
        self.samesite = samesite;
        self
    }
    /// `Partitioned` (requires `Secure`).
    pub fn partitioned(mut self, partitioned: bool) -> Builder {
        self.partitioned = partitioned;
        self
    }
    /// Idle timeout in seconds; `None` never expires.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Builder {
        self.timeout = timeout;
        self
    }
    /// Reissue threshold in seconds; `None` never reissues on read.
    pub fn reissue_time(mut self, reissue_time: Option<Duration>) -> Builder {
        self.reissue_time = reissue_time;
        self
    }
    /// Whether to send the cookie when the request ended in an error (default true).
    pub fn set_on_exception(mut self, set: bool) -> Builder {
        self.set_on_exception = set;
        self
    }
    /// Largest accepted distance of a cookie timestamp into the future (default 60 s);
    /// `None` accepts any, as Pyramid does.
    pub fn max_future_skew(mut self, skew: Option<Duration>) -> Builder {
        self.max_future_skew = skew;
        self
    }
    /// Absolute lifetime from creation, whatever the activity (default none).
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Builder {
        self.max_lifetime = lifetime;
        self
    }
    /// The longest idle timeout (and cookie `Max-Age`) a session may set for itself with
    /// [`Expiry::OnInactivity`] (default none: any, within `max_lifetime`). Longer
    /// requests are clamped when used, so lowering it applies to sessions that already
    /// asked for more.
    pub fn max_expiry(mut self, max: Option<Duration>) -> Builder {
        self.max_expiry = max;
        self
    }
    /// Refuse every session created before this Unix time (default none).
    pub fn not_before(mut self, not_before: Option<UnixTime>) -> Builder {
        self.not_before = not_before;
        self
    }

    /// Checks every setting and builds the configuration.
    pub fn build(self) -> Result<SessionConfig, ConfigError> {
        let alg = self.hashalg;
        let secrets: Vec<&str> = self.secrets.iter().map(|s| s.as_str()).collect();
        let keyring = Keyring::new(alg, &self.salt, &secrets)?;
        if !is_cookie_name(self.name.as_bytes()) {
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
        let samesite = self.samesite;
        if samesite == Some(SameSite::None) && !self.secure {
            return Err(ConfigError::SameSiteNoneWithoutSecure);
        }
        if self.partitioned && !self.secure {
            return Err(ConfigError::PartitionedWithoutSecure);
        }
        let host_ok = self.secure && self.path.as_deref() == Some("/") && self.domain.is_none();
        if (self.name.starts_with("__Secure-") && !self.secure)
            || (self.name.starts_with("__Host-") && !host_ok)
        {
            return Err(ConfigError::CookiePrefixViolated);
        }
        let max_age = match self.max_age {
            Some(d) => Some(i64::try_from(d.as_secs()).map_err(|_| ConfigError::InvalidNumber)?),
            None => None,
        };
        if self
            .not_before
            .is_some_and(|t| !t.as_secs_f64().is_finite())
        {
            return Err(ConfigError::InvalidNumber);
        }
        Ok(SessionConfig {
            keyring,
            cookie: CookieSettings {
                name: self.name,
                path: self.path,
                domain: self.domain,
                max_age,
                secure: self.secure,
                httponly: self.httponly,
                samesite,
                partitioned: self.partitioned,
            },
            policy: Policy {
                timeout: secs(self.timeout),
                reissue_time: secs(self.reissue_time),
                max_future_skew: secs(self.max_future_skew),
                max_lifetime: secs(self.max_lifetime),
                not_before: self.not_before.map(UnixTime::as_secs_f64),
                max_expiry: secs(self.max_expiry),
            },
            set_on_exception: self.set_on_exception,
            serializer: self.serializer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_have_the_factories_defaults() {
        let p = SessionConfig::pyramid("s").build().unwrap();
        assert_eq!(p.cookie().name(), "session");
        assert_eq!(p.timeout(), Some(1200));
        assert_eq!(p.reissue_time(), Some(0));
        assert_eq!(p.keyring().alg(), HashAlg::Sha512);
        let a = p.cookie().attributes();
        assert_eq!(
            (a.path, a.secure, a.httponly, a.samesite),
            (Some("/"), false, false, Some("Lax"))
        );
        let c = SessionConfig::cubicweb("s").build().unwrap();
        assert_eq!(c.reissue_time(), Some(120));
        assert!(c.cookie().attributes().httponly);
        let s = SessionConfig::secure("s").build().unwrap();
        let a = s.cookie().attributes();
        assert!(a.secure && a.httponly);
        assert_eq!(a.samesite, Some("Lax"));
    }

    #[test]
    fn own_expiry_sets_the_cookie_max_age() {
        let month = Some(Expiry::OnInactivity(Duration::from_secs(30 * 86_400)));
        let plain = SessionConfig::pyramid("s").build().unwrap();
        assert_eq!(plain.cookie_max_age(None), None);
        assert_eq!(plain.cookie_max_age(month), Some(30 * 86_400));
        assert_eq!(plain.cookie_max_age(Some(Expiry::OnSessionEnd)), None);
        let capped = SessionConfig::pyramid("s")
            .max_age(Some(Duration::from_secs(600)))
            .max_expiry(Some(Duration::from_secs(7 * 86_400)))
            .build()
            .unwrap();
        assert_eq!(capped.max_expiry(), Some(7 * 86_400));
        assert_eq!(capped.cookie_max_age(None), Some(600));
        assert_eq!(capped.cookie_max_age(month), Some(7 * 86_400));
        assert_eq!(capped.cookie_max_age(Some(Expiry::OnSessionEnd)), None);
        assert_eq!(
            capped.cookie().attributes_with_max_age(Some(5)).max_age,
            Some(5)
        );
        // The verdict follows the session's own timeout, within the cap.
        let t = 1_000_000.0;
        assert_eq!(
            capped.judge(t + 1201.0, t, t),
            crate::policy::Verdict::Expired
        );
        assert_eq!(
            capped.judge_for(t + 1201.0, t, t, month),
            crate::policy::Verdict::Valid
        );
        assert_eq!(
            capped.judge_for(t + 7.0 * 86_400.0 + 1.0, t, t, month),
            crate::policy::Verdict::Expired
        );
    }

    #[test]
    fn debug_never_prints_secrets() {
        let builder = SessionConfig::pyramid("new-SECRET-value")
            .old_secret("old-SECRET-value")
            .cookie_name("sid");
        let text = alloc::format!("{builder:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(
            text.contains("sid") && text.contains("pyramid.session."),
            "{text}"
        );
        let config = builder.build().unwrap();
        let text = alloc::format!("{config:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("sid"), "{text}");
        let text = alloc::format!("{:?}", config.keyring());
        assert!(!text.contains("SECRET"), "{text}");
        let server =
            crate::server::ServerConfig::new(config, crate::server::IdCookieFormat::CubicWeb)
                .unwrap();
        let text = alloc::format!("{server:?}");
        assert!(!text.contains("SECRET"), "{text}");
    }

    #[test]
    fn bad_settings_are_refused() {
        let err = |b: Builder| b.build().unwrap_err();
        assert_eq!(err(SessionConfig::pyramid("")), ConfigError::EmptySecret);
        assert_eq!(
            err(SessionConfig::pyramid("a").old_secret("a")),
            ConfigError::DuplicateSecret
        );
        assert_eq!(
            HashAlg::from_name("md5").unwrap_err(),
            ConfigError::UnsupportedHashAlg
        );
        for name in ["", "bad name", "$x", "Path", "max-age", "a;b", "é"] {
            assert_eq!(
                err(SessionConfig::pyramid("a").cookie_name(name)),
                ConfigError::InvalidCookieName,
                "{name}"
            );
        }
        assert_eq!(
            err(SessionConfig::pyramid("a").path(Some("/a;b"))),
            ConfigError::InvalidPath
        );
        assert_eq!(
            err(SessionConfig::pyramid("a").path(Some("/a\r\nX: y"))),
            ConfigError::InvalidPath
        );
        assert_eq!(
            err(SessionConfig::pyramid("a").domain(Some("a b"))),
            ConfigError::InvalidDomain
        );
        assert_eq!(
            SameSite::from_name("bogus").unwrap_err(),
            ConfigError::InvalidSameSite
        );
        assert_eq!(
            err(SessionConfig::pyramid("a").samesite(Some(SameSite::from_name("none").unwrap()))),
            ConfigError::SameSiteNoneWithoutSecure
        );
        assert_eq!(
            err(SessionConfig::pyramid("a").partitioned(true)),
            ConfigError::PartitionedWithoutSecure
        );
        assert_eq!(seconds(-1), Err(ConfigError::NegativeDuration));
        assert_eq!(seconds(5), Ok(Duration::from_secs(5)));
        assert_eq!(
            err(SessionConfig::pyramid("a")
                .cookie_name("__Host-s")
                .secure(true)
                .path(Some("/x"))),
            ConfigError::CookiePrefixViolated
        );
        assert_eq!(
            err(SessionConfig::pyramid("a").cookie_name("__Secure-s")),
            ConfigError::CookiePrefixViolated
        );
        assert!(SessionConfig::pyramid("a")
            .cookie_name("__Host-s")
            .secure(true)
            .build()
            .is_ok());
        assert!(SessionConfig::pyramid("a")
            .samesite(Some(SameSite::from_name("NONE").unwrap()))
            .secure(true)
            .build()
            .is_ok());
    }
}
