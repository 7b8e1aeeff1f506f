//! [`ServerConfig`]: server mode's settings on top of a [`SessionConfig`].

use core::time::Duration;

use super::id::IdCookieFormat;
use crate::config::SessionConfig;
use crate::error::ConfigError;
use crate::policy;

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
    format: IdCookieFormat,
    max_retries: u32,
    retry_budget: Duration,
}

impl ServerConfig {
    /// Server mode over `session`'s cookie and timing settings. Fails when neither an
    /// idle timeout nor an absolute lifetime is set: every record must expire.
    pub fn new(
        session: SessionConfig,
        format: IdCookieFormat,
    ) -> Result<ServerConfig, ConfigError> {
        if session.timeout().is_none() && session.max_lifetime().is_none() {
            return Err(ConfigError::NoExpiry);
        }
        Ok(ServerConfig {
            session,
            format,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_budget: DEFAULT_RETRY_BUDGET,
        })
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
    /// The id cookie format.
    pub fn format(&self) -> IdCookieFormat {
        self.format
    }
    /// The retry limit.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }
    /// The retry time budget.
    pub fn retry_budget(&self) -> Duration {
        self.retry_budget
    }

    pub(crate) fn deadline(&self, renewed: f64, created: f64) -> f64 {
        let s = &self.session;
        // `new` guarantees at least one limit, so this is always Some.
        policy::deadline(renewed, created, s.timeout(), s.max_lifetime()).unwrap_or(renewed)
    }

    /// The record's renewal rule, Pyramid's reissue rule stated on the expiry: a record
    /// expiring at `expires_at` is worth extending when a renewal now would move its
    /// expiry by more than `reissue_time` (with the idle timeout binding, exactly
    /// `int(now) - renewed > reissue_time`). Once the absolute lifetime binds, no renewal
    /// can move it and this is never due.
    pub(crate) fn extension_due(&self, now: f64, expires_at: f64, created: f64) -> bool {
        match self.session.reissue_time() {
            Some(reissue) => {
                let now = policy::whole_seconds(now) as f64;
                self.deadline(now, created) - expires_at > reissue as f64
            }
            None => false,
        }
    }

    /// When a record expiring at `expires_at` was last extended, as far as the record
    /// tells: `expires_at - timeout` while the idle timeout set the expiry; `created`
    /// when the absolute lifetime set it or there is no idle timeout.
    pub(crate) fn renewed_from(&self, expires_at: f64, created: f64) -> f64 {
        let s = &self.session;
        match (s.timeout(), s.max_lifetime()) {
            (Some(timeout), Some(lifetime)) if expires_at < created + lifetime as f64 => {
                expires_at - timeout as f64
            }
            (Some(timeout), None) => expires_at - timeout as f64,
            _ => created,
        }
    }
}
