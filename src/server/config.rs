//! [`ServerConfig`]: server mode's settings on top of a [`SessionConfig`].

use core::time::Duration;

use super::id::{IdCookieFormat, IdScheme};
use crate::config::SessionConfig;
use crate::error::ConfigError;
use crate::policy::{Expiry, Policy};

/// How many times a lost compare-and-set or an id collision is retried.
pub const DEFAULT_MAX_RETRIES: u32 = 64;

/// How long, in all, one request may wait between retries after lost compare-and-sets.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(3);

/// The first retry waits up to this long; each further one up to twice as long...
pub const BACKOFF_BASE: Duration = Duration::from_millis(2);

/// ...but never more than this (before jitter).
pub const BACKOFF_CAP: Duration = Duration::from_millis(64);

/// How many of a request's id cookies (of the session's name, authentic and in time) are
/// tried against the store before the session starts fresh.
pub const MAX_ID_CANDIDATES: usize = 4;

/// A validated server-mode configuration: cookie settings, keyring and timeouts from a
/// [`SessionConfig`], the id cookie format and the retry limits.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    session: SessionConfig,
    policy: Policy,
    format: IdCookieFormat,
    id_scheme: IdScheme,
    #[cfg(feature = "pickle")]
    legacy_cookie: Option<super::LegacyRedisCookie>,
    max_retries: u32,
    retry_budget: Duration,
}

impl ServerConfig {
    /// Server mode over `session`'s cookie and timing settings. Fails when neither an
    /// idle timeout nor an absolute lifetime is set (every record must expire), or when
    /// the reissue time is not below the timeout (active users would be logged out).
    ///
    /// Without a reissue time (pyramid_session_redis's default), every access renews, as
    /// `reissue_time = 0` does: pyramid_session_redis refreshes its TTL on every access,
    /// and a session that is only read must not expire under an active user.
    pub fn new(
        session: SessionConfig,
        format: IdCookieFormat,
    ) -> Result<ServerConfig, ConfigError> {
        if session.timeout().is_none() && session.max_lifetime().is_none() {
            return Err(ConfigError::NoExpiry);
        }
        let mut policy = *session.policy();
        policy.reissue_time = Some(policy.reissue_time.unwrap_or(0));
        if let (Some(reissue), Some(timeout)) = (policy.reissue_time, policy.timeout) {
            if reissue >= timeout {
                return Err(ConfigError::ReissueNotBelowTimeout);
            }
        }
        Ok(ServerConfig {
            session,
            policy,
            format,
            id_scheme: IdScheme::Hashed,
            #[cfg(feature = "pickle")]
            legacy_cookie: None,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_budget: DEFAULT_RETRY_BUDGET,
        })
    }

    /// Sets how new ids are made and which key each record is stored under (default
    /// [`IdScheme::Hashed`]); a store that shares its records with Python needs Python's
    /// scheme (`PyramidSessionRedisStore` needs [`IdScheme::Raw`], `CubicWebStore`,
    /// whose ids are CubicWeb's eids, [`IdScheme::Allocated`]: the store makes them).
    #[must_use]
    pub fn with_id_scheme(mut self, scheme: IdScheme) -> ServerConfig {
        self.id_scheme = scheme;
        self
    }

    /// Also reads the legacy `pyramid_redis_sessions` id cookie (for a migration): a
    /// request carrying one is served the session under its id, tried after the cookies
    /// in the configured format, and the response re-sends the cookie in that format.
    #[cfg(feature = "pickle")]
    #[must_use]
    pub fn with_legacy_cookie(mut self, legacy: super::LegacyRedisCookie) -> ServerConfig {
        self.legacy_cookie = Some(legacy);
        self
    }

    /// The legacy cookie also read, if any.
    #[cfg(feature = "pickle")]
    pub fn legacy_cookie(&self) -> Option<&super::LegacyRedisCookie> {
        self.legacy_cookie.as_ref()
    }

    /// Sets how often a lost compare-and-set or an id collision is retried.
    #[must_use]
    pub fn with_max_retries(mut self, retries: u32) -> ServerConfig {
        self.max_retries = retries;
        self
    }

    /// Sets how long, in all, one request may wait between retries (the backoff after a
    /// lost compare-and-set is exponential with full jitter, from [`BACKOFF_BASE`] up to
    /// [`BACKOFF_CAP`]). Time spent in store calls is not counted.
    #[must_use]
    pub fn with_retry_budget(mut self, budget: Duration) -> ServerConfig {
        self.retry_budget = budget;
        self
    }

    /// The cookie and timing settings.
    pub fn session(&self) -> &SessionConfig {
        &self.session
    }
    /// The time rules server mode applies: the session's, with a missing reissue time
    /// read as 0 (see [`ServerConfig::new`]).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
    /// The id cookie format.
    pub fn format(&self) -> IdCookieFormat {
        self.format
    }
    /// How ids are made and keyed.
    pub fn id_scheme(&self) -> &IdScheme {
        &self.id_scheme
    }
    /// The retry limit.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }
    /// The retry time budget.
    pub fn retry_budget(&self) -> Duration {
        self.retry_budget
    }

    /// The time rules of one session with its own `expiry` (`None`: the
    /// configuration's): [`ServerConfig::policy`] through [`Policy::with_expiry`]. The
    /// record's expiry, its renewal and the reissue of the id cookie all follow it.
    pub fn policy_for(&self, expiry: Option<Expiry>) -> Policy {
        self.policy.with_expiry(expiry)
    }

    pub(crate) fn deadline(&self, renewed: f64, created: f64) -> f64 {
        self.deadline_for(renewed, created, None)
    }

    /// The record's expiry for a session renewed at `renewed` with its own `expiry`.
    pub(crate) fn deadline_for(&self, renewed: f64, created: f64, expiry: Option<Expiry>) -> f64 {
        // `new` guarantees at least one limit, so this is always Some.
        self.policy_for(expiry)
            .deadline(renewed, created)
            .unwrap_or(renewed)
    }
}
