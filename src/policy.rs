//! The time decisions, as pure functions of values and `now`.
//!
//! All times are seconds since the Unix epoch as `f64`, like Python's `time.time()`;
//! durations are whole seconds. Boundaries are Pyramid's: both comparisons are strict
//! `>`, so a cookie exactly `timeout` seconds old is still valid.

/// `int(time.time())` as Pyramid computes the `accessed` slot: truncation toward zero,
/// saturating instead of failing for values outside `i64`.
#[must_use]
pub fn whole_seconds(now: f64) -> i64 {
    crate::time::UnixTime::from_secs_f64(now).whole_seconds()
}

/// `floor(now)` as whole seconds, saturating (NaN gives 0): WebOb's `utcnow()` with the
/// microseconds dropped, used to date `expires`.
#[must_use]
pub fn floor_seconds(now: f64) -> i64 {
    crate::time::UnixTime::from_secs_f64(now).floor_seconds()
}

/// Idle timeout: expired when `now - renewed > timeout` (strict). `None` never expires.
#[must_use]
pub fn is_expired(now: f64, renewed: f64, timeout: Option<u64>) -> bool {
    match timeout {
        Some(timeout) => now - renewed > timeout as f64,
        None => false,
    }
}

/// Pyramid's reissue rule on access: reissue when `int(now) - renewed > reissue_time`
/// (strict). `None` never reissues on a read.
///
/// Because `int(now)` is whole seconds while `renewed` keeps its fraction, a read in the
/// same second as the cookie was issued never reissues, even with `reissue_time = 0`.
#[must_use]
pub fn reissue_due(now: f64, renewed: f64, reissue_time: Option<u64>) -> bool {
    match reissue_time {
        Some(reissue) => whole_seconds(now) as f64 - renewed > reissue as f64,
        None => false,
    }
}

/// Clock-skew guard (a deviation from Pyramid): a timestamp more than `skew` seconds
/// ahead of `now` makes the cookie invalid. `None` accepts any future time, as Pyramid does.
#[must_use]
pub fn is_from_future(now: f64, timestamp: f64, skew: Option<u64>) -> bool {
    match skew {
        Some(skew) => timestamp - now > skew as f64,
        None => false,
    }
}

/// Absolute lifetime (a deviation from Pyramid): expired when `now - created > lifetime`,
/// however often the cookie was reissued.
#[must_use]
pub fn lifetime_exceeded(now: f64, created: f64, lifetime: Option<u64>) -> bool {
    match lifetime {
        Some(lifetime) => now - created > lifetime as f64,
        None => false,
    }
}

/// Revocation (a deviation from Pyramid): every session created before `not_before` is
/// invalid, e.g. after a password-database leak.
#[must_use]
pub fn is_revoked(created: f64, not_before: Option<f64>) -> bool {
    match not_before {
        Some(not_before) => created < not_before,
        None => false,
    }
}

/// The instant after which a session issued at `renewed` and created at `created` can no
/// longer be used, whichever of the idle timeout and the absolute lifetime comes first.
/// Stores use it as the record's expiry. `None` when neither limit is set.
#[must_use]
pub fn deadline(
    renewed: f64,
    created: f64,
    timeout: Option<u64>,
    lifetime: Option<u64>,
) -> Option<f64> {
    let idle = timeout.map(|t| renewed + t as f64);
    let absolute = lifetime.map(|l| created + l as f64);
    match (idle, absolute) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A session's own expiry, set by the application for this one session ("remember
/// me"); the configuration's settings are only the default. Persisted with the session
/// (in its state, under [`EXPIRY_KEY`](crate::session::EXPIRY_KEY)), so it holds on every
/// later request until it is changed or the state is cleared.
///
/// The effective values come from [`Policy::with_expiry`] (the idle timeout, clamped to
/// the configuration's `max_expiry`) and `SessionConfig::cookie_max_age` (the cookie's
/// `Max-Age`): the one place each rule lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expiry {
    /// A persistent cookie ("remember me"): the session ends after this long without
    /// use, and the cookie's `Max-Age` is the same duration, refreshed at every reissue.
    /// Whole seconds; clamped at use to at most the configuration's `max_expiry` and to
    /// more than its reissue time.
    OnInactivity(core::time::Duration),
    /// A browser-session cookie (no `Max-Age`, gone when the browser closes), whatever
    /// the configured `max_age`; the configured idle timeout applies.
    OnSessionEnd,
}

/// What the time rules say about a cookie or record, judged in one fixed order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum Verdict {
    /// Usable.
    Valid,
    /// A timestamp is further in the future than the allowed clock skew.
    FromFuture,
    /// Created before the configured `not_before` instant.
    Revoked,
    /// The absolute lifetime since creation is over.
    LifetimeExceeded,
    /// The idle timeout since the last renewal is over.
    Expired,
}

impl Verdict {
    /// A short description: `valid`, `from the future`, `revoked`, `lifetime exceeded`,
    /// `idle timeout exceeded`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::FromFuture => "from the future",
            Verdict::Revoked => "revoked",
            Verdict::LifetimeExceeded => "lifetime exceeded",
            Verdict::Expired => "idle timeout exceeded",
        }
    }
}

/// Every time rule of a configuration in one value: the one home of the verdict, the
/// reissue rule and the expiry arithmetic. All limits are optional; seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Policy {
    /// Idle timeout.
    pub timeout: Option<u64>,
    /// Reissue threshold (Pyramid's `reissue_time`).
    pub reissue_time: Option<u64>,
    /// Largest accepted distance of a timestamp into the future.
    pub max_future_skew: Option<u64>,
    /// Absolute lifetime from creation.
    pub max_lifetime: Option<u64>,
    /// Sessions created before this instant are refused.
    pub not_before: Option<f64>,
    /// The longest idle timeout a session may set for itself ([`Expiry::OnInactivity`]);
    /// `None` allows any (the absolute lifetime, `max_lifetime`, still bounds every
    /// session).
    pub max_expiry: Option<u64>,
}

impl Policy {
    /// Is a session renewed at `renewed` and created at `created` still good at `now`?
    /// The checks run in one order — skew, revocation, lifetime, idle timeout — and the
    /// first that fails names the verdict.
    pub fn judge(&self, now: f64, renewed: f64, created: f64) -> Verdict {
        // A clock that is not a number proves nothing: fail closed (the comparisons
        // below are all false for NaN, which would otherwise accept anything).
        if !now.is_finite() {
            return Verdict::Expired;
        }
        if is_from_future(now, renewed, self.max_future_skew)
            || is_from_future(now, created, self.max_future_skew)
        {
            Verdict::FromFuture
        } else if is_revoked(created, self.not_before) {
            Verdict::Revoked
        } else if lifetime_exceeded(now, created, self.max_lifetime) {
            Verdict::LifetimeExceeded
        } else if is_expired(now, renewed, self.timeout) {
            Verdict::Expired
        } else {
            Verdict::Valid
        }
    }

    /// The rules for one session with its own `expiry` (`None`: the configuration's):
    /// [`Expiry::OnInactivity`] replaces the idle timeout, clamped to at most
    /// `max_expiry` and to more than `reissue_time` (a session that expires before it
    /// can be renewed would log an active user out). Every other rule stays. Judge,
    /// reissue and deadlines of a session with its own expiry all go through this.
    pub fn with_expiry(&self, expiry: Option<Expiry>) -> Policy {
        match expiry {
            Some(Expiry::OnInactivity(own)) => {
                let mut timeout = own.as_secs();
                if let Some(cap) = self.max_expiry {
                    timeout = timeout.min(cap);
                }
                if let Some(reissue) = self.reissue_time {
                    timeout = timeout.max(reissue.saturating_add(1));
                }
                Policy {
                    timeout: Some(timeout.max(1)),
                    ..*self
                }
            }
            None | Some(Expiry::OnSessionEnd) => *self,
        }
    }

    /// The widest rules any session of this configuration can have: the idle timeout of
    /// the longest [`Expiry`] a session may set (the longer of `timeout` and
    /// `max_expiry`; none without a `max_expiry`). For checks made before the session's
    /// own expiry is known (an id cookie's times, before its record is loaded).
    pub fn widest(&self) -> Policy {
        Policy {
            timeout: match (self.timeout, self.max_expiry) {
                (Some(timeout), Some(cap)) => Some(timeout.max(cap)),
                _ => None,
            },
            ..*self
        }
    }

    /// Pyramid's reissue rule ([`reissue_due`]) with this policy's `reissue_time`.
    #[must_use]
    pub fn reissue_due(&self, now: f64, renewed: f64) -> bool {
        reissue_due(now, renewed, self.reissue_time)
    }

    /// When a session renewed at `renewed` and created at `created` stops being usable
    /// ([`deadline`]); `None` when neither limit is set.
    #[must_use]
    pub fn deadline(&self, renewed: f64, created: f64) -> Option<f64> {
        deadline(renewed, created, self.timeout, self.max_lifetime)
    }

    /// The reissue rule stated on a stored expiry: a record expiring at `expires_at` is
    /// worth extending when a renewal now would move its expiry by more than
    /// `reissue_time` (with the idle timeout binding, exactly `int(now) - renewed >
    /// reissue_time`). Once the absolute lifetime binds, no renewal can move it and this
    /// is never due.
    #[must_use]
    pub fn extension_due(&self, now: f64, expires_at: f64, created: f64) -> bool {
        match (
            self.reissue_time,
            self.deadline(whole_seconds(now) as f64, created),
        ) {
            (Some(reissue), Some(extended)) => extended - expires_at > reissue as f64,
            _ => false,
        }
    }

    /// When a record expiring at `expires_at` was last extended, as far as the expiry
    /// tells: `expires_at - timeout` while the idle timeout set it; `created` when the
    /// absolute lifetime set it or there is no idle timeout.
    #[must_use]
    pub fn renewed_from(&self, expires_at: f64, created: f64) -> f64 {
        match (self.timeout, self.max_lifetime) {
            (Some(timeout), Some(lifetime)) if expires_at < created + lifetime as f64 => {
                expires_at - timeout as f64
            }
            (Some(timeout), None) => expires_at - timeout as f64,
            _ => created,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_boundary_is_strict() {
        let renewed = 1_700_000_000.0;
        assert!(!is_expired(renewed + 1199.0, renewed, Some(1200)));
        assert!(!is_expired(renewed + 1200.0, renewed, Some(1200)));
        assert!(is_expired(renewed + 1200.5, renewed, Some(1200)));
        assert!(is_expired(renewed + 1201.0, renewed, Some(1200)));
        assert!(!is_expired(f64::MAX, renewed, None));
    }

    #[test]
    fn reissue_uses_whole_seconds() {
        let renewed = 1_700_000_000.25;
        assert!(!reissue_due(1_700_000_000.75, renewed, Some(0)));
        assert!(reissue_due(1_700_000_001.0, renewed, Some(0)));
        let renewed = 1_700_000_000.0;
        assert!(!reissue_due(renewed + 120.0, renewed, Some(120)));
        assert!(!reissue_due(renewed + 120.9, renewed, Some(120)));
        assert!(reissue_due(renewed + 121.0, renewed, Some(120)));
        assert!(!reissue_due(renewed + 1e6, renewed, None));
    }

    #[test]
    fn extra_guards() {
        assert!(!is_from_future(100.0, 160.0, Some(60)));
        assert!(is_from_future(100.0, 160.5, Some(60)));
        assert!(!is_from_future(100.0, 1e12, None));
        assert!(lifetime_exceeded(1000.0, 0.0, Some(999)));
        assert!(!lifetime_exceeded(1000.0, 0.0, Some(1000)));
        assert!(is_revoked(10.0, Some(11.0)));
        assert!(!is_revoked(11.0, Some(11.0)));
        assert_eq!(deadline(100.0, 0.0, Some(50), Some(120)), Some(120.0));
        assert_eq!(deadline(100.0, 0.0, Some(10), None), Some(110.0));
        assert_eq!(deadline(100.0, 0.0, None, None), None);
    }

    #[test]
    fn judge_checks_in_one_order() {
        let policy = Policy {
            timeout: Some(10),
            reissue_time: None,
            max_future_skew: Some(5),
            max_lifetime: Some(100),
            not_before: Some(50.0),
            max_expiry: None,
        };
        assert_eq!(policy.judge(60.0, 55.0, 55.0), Verdict::Valid);
        assert_eq!(policy.judge(60.0, 66.0, 55.0), Verdict::FromFuture);
        assert_eq!(policy.judge(60.0, 55.0, 40.0), Verdict::Revoked);
        assert_eq!(policy.judge(200.0, 195.0, 60.0), Verdict::LifetimeExceeded);
        assert_eq!(policy.judge(80.0, 60.0, 60.0), Verdict::Expired);
        // Skew wins over every other verdict, revocation over lifetime and idleness.
        assert_eq!(policy.judge(500.0, 506.0, 0.0), Verdict::FromFuture);
        assert_eq!(policy.judge(500.0, 0.0, 0.0), Verdict::Revoked);
        // A clock that is not a number accepts nothing.
        assert_eq!(policy.judge(f64::NAN, 55.0, 55.0), Verdict::Expired);
        assert_eq!(policy.judge(f64::INFINITY, 55.0, 55.0), Verdict::Expired);
        // Boundaries are strict, as Pyramid's.
        assert_eq!(policy.judge(65.0, 55.0, 55.0), Verdict::Valid);
        assert_eq!(policy.judge(55.0, 60.0, 55.0), Verdict::Valid);
        assert_eq!(policy.judge(150.0, 145.0, 50.0), Verdict::Valid);
        assert_eq!(policy.judge(60.0, 55.0, 50.0), Verdict::Valid);
    }

    #[test]
    fn renewal_when_the_lifetime_binds() {
        let policy = Policy {
            timeout: Some(1200),
            reissue_time: Some(120),
            max_lifetime: Some(3600),
            ..Policy::default()
        };
        // Idle timeout binding: the expiry tells the renewal exactly.
        assert_eq!(policy.deadline(1000.0, 0.0), Some(2200.0));
        assert_eq!(policy.renewed_from(2200.0, 0.0), 1000.0);
        assert!(!policy.extension_due(1120.0, 2200.0, 0.0));
        assert!(policy.extension_due(1121.0, 2200.0, 0.0));
        // Lifetime binding: nothing can extend it, and renewal is never due.
        assert_eq!(policy.deadline(3000.0, 0.0), Some(3600.0));
        assert_eq!(policy.renewed_from(3600.0, 0.0), 0.0);
        assert!(!policy.extension_due(3500.0, 3600.0, 0.0));
        // No idle timeout: only the lifetime.
        let lifetime_only = Policy {
            max_lifetime: Some(3600),
            reissue_time: Some(0),
            ..Policy::default()
        };
        assert_eq!(lifetime_only.renewed_from(3600.0, 0.0), 0.0);
        assert!(!lifetime_only.extension_due(10.0, 3600.0, 0.0));
    }

    #[test]
    fn own_expiry_replaces_the_idle_timeout_within_the_caps() {
        use core::time::Duration;
        let policy = Policy {
            timeout: Some(1200),
            reissue_time: Some(120),
            max_expiry: Some(86_400),
            ..Policy::default()
        };
        let month = Some(Expiry::OnInactivity(Duration::from_secs(30 * 86_400)));
        let week = Some(Expiry::OnInactivity(Duration::from_secs(7 * 86_400)));
        let hour = Some(Expiry::OnInactivity(Duration::from_secs(3600)));
        assert_eq!(policy.with_expiry(None), policy);
        assert_eq!(policy.with_expiry(Some(Expiry::OnSessionEnd)), policy);
        assert_eq!(policy.with_expiry(hour).timeout, Some(3600));
        // The configured maximum caps it; the reissue time floors it.
        assert_eq!(policy.with_expiry(month).timeout, Some(86_400));
        assert_eq!(policy.with_expiry(week).timeout, Some(86_400));
        let tiny = Some(Expiry::OnInactivity(Duration::from_secs(5)));
        assert_eq!(policy.with_expiry(tiny).timeout, Some(121));
        let zero = Some(Expiry::OnInactivity(Duration::ZERO));
        assert_eq!(Policy::default().with_expiry(zero).timeout, Some(1));
        // The verdict and the deadline follow it.
        let renewed = 1_000_000.0;
        assert_eq!(
            policy.judge(renewed + 1201.0, renewed, renewed),
            Verdict::Expired
        );
        assert_eq!(
            policy
                .with_expiry(hour)
                .judge(renewed + 1201.0, renewed, renewed),
            Verdict::Valid
        );
        assert_eq!(
            policy
                .with_expiry(hour)
                .judge(renewed + 3601.0, renewed, renewed),
            Verdict::Expired
        );
        assert_eq!(
            policy.with_expiry(hour).deadline(renewed, renewed),
            Some(renewed + 3600.0)
        );
        // The absolute lifetime still binds a remembered session.
        let capped = Policy {
            max_lifetime: Some(2000),
            ..policy
        };
        assert_eq!(
            capped.with_expiry(hour).deadline(renewed, renewed),
            Some(renewed + 2000.0)
        );
        assert_eq!(
            capped
                .with_expiry(hour)
                .judge(renewed + 2001.0, renewed + 2000.0, renewed),
            Verdict::LifetimeExceeded
        );
        // The widest rules: the longer of the default and the cap, none without a cap.
        assert_eq!(policy.widest().timeout, Some(86_400));
        let uncapped = Policy {
            max_expiry: None,
            ..policy
        };
        assert_eq!(uncapped.widest().timeout, None);
        let long_default = Policy {
            timeout: Some(100_000),
            ..policy
        };
        assert_eq!(long_default.widest().timeout, Some(100_000));
    }

    #[test]
    fn whole_seconds_never_panics() {
        assert_eq!(whole_seconds(1.9), 1);
        assert_eq!(whole_seconds(-1.9), -1);
        assert_eq!(whole_seconds(f64::NAN), 0);
        assert_eq!(whole_seconds(f64::INFINITY), i64::MAX);
        assert_eq!(floor_seconds(-1.5), -2);
        assert_eq!(floor_seconds(1.5), 1);
        assert_eq!(floor_seconds(f64::NEG_INFINITY), i64::MIN);
    }
}
