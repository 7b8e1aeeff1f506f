//! Time as the caller supplies it: [`UnixTime`], a Pyramid-shaped instant, and the
//! [`Clock`] trait the integrations read once per request.
//!
//! The core never reads a clock. Every decision takes `now` as a value; only the std
//! edges ([`SystemClock`], the CLI, the demo) ask the operating system.

use core::ops::{Add, Sub};
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

/// An instant: seconds since the Unix epoch as a float, exactly what Python's
/// `time.time()` returns and what Pyramid stores in its cookie frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
#[repr(transparent)]
pub struct UnixTime(f64);

impl UnixTime {
    /// The epoch itself.
    pub const EPOCH: UnixTime = UnixTime(0.0);

    /// The instant `secs` seconds after the epoch.
    #[must_use]
    pub const fn from_secs_f64(secs: f64) -> UnixTime {
        UnixTime(secs)
    }

    /// Seconds since the epoch.
    #[must_use]
    pub const fn as_secs_f64(self) -> f64 {
        self.0
    }

    /// `int(time.time())` as Pyramid computes the `accessed` slot: truncation toward
    /// zero, saturating instead of failing for values outside `i64` (NaN gives 0).
    #[must_use]
    pub fn whole_seconds(self) -> i64 {
        // `as` truncates toward zero, saturates, and maps NaN to 0; it never panics.
        self.0 as i64
    }

    /// `floor(now)` as whole seconds, saturating (NaN gives 0): WebOb's `utcnow()` with
    /// the microseconds dropped, used to date `expires`.
    #[must_use]
    pub fn floor_seconds(self) -> i64 {
        let truncated = self.0 as i64;
        if (truncated as f64) > self.0 {
            truncated.saturating_sub(1)
        } else {
            truncated
        }
    }
}

impl From<f64> for UnixTime {
    fn from(secs: f64) -> UnixTime {
        UnixTime(secs)
    }
}

impl From<UnixTime> for f64 {
    fn from(t: UnixTime) -> f64 {
        t.0
    }
}

impl Add<Duration> for UnixTime {
    type Output = UnixTime;
    fn add(self, d: Duration) -> UnixTime {
        UnixTime(self.0 + d.as_secs_f64())
    }
}

impl Sub<Duration> for UnixTime {
    type Output = UnixTime;
    fn sub(self, d: Duration) -> UnixTime {
        UnixTime(self.0 - d.as_secs_f64())
    }
}

/// Where an integration gets `now` from, once per request.
///
/// Any `Fn() -> f64` (seconds since the epoch) is a clock, so a test can pass a plain
/// function; [`SystemClock`] reads the operating system, [`ManualClock`] is set by hand.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> UnixTime;
}

impl<F: Fn() -> f64 + Send + Sync> Clock for F {
    fn now(&self) -> UnixTime {
        UnixTime(self())
    }
}

/// The operating system's clock (`std`): what `time.time()` reads in Python.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

#[cfg(feature = "std")]
impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one std edge that reads the system clock; the core takes `now`"
    )]
    fn now(&self) -> UnixTime {
        extern crate std;
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        UnixTime(since.map(|d| d.as_secs_f64()).unwrap_or(0.0))
    }
}

/// A clock that only moves when told to: for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock stopped at `now`.
    #[must_use]
    pub fn new(now: UnixTime) -> ManualClock {
        ManualClock(AtomicU64::new(now.0.to_bits()))
    }

    /// Sets the time.
    pub fn set(&self, now: UnixTime) {
        self.0.store(now.0.to_bits(), Ordering::SeqCst);
    }

    /// Moves the time forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.set(self.now() + d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime(f64::from_bits(self.0.load(Ordering::SeqCst)))
    }
}

impl<C: Clock + ?Sized> Clock for alloc::sync::Arc<C> {
    fn now(&self) -> UnixTime {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_never_panics() {
        assert_eq!(UnixTime(1.9).whole_seconds(), 1);
        assert_eq!(UnixTime(-1.9).whole_seconds(), -1);
        assert_eq!(UnixTime(f64::NAN).whole_seconds(), 0);
        assert_eq!(UnixTime(f64::INFINITY).whole_seconds(), i64::MAX);
        assert_eq!(UnixTime(-1.5).floor_seconds(), -2);
        assert_eq!(UnixTime(1.5).floor_seconds(), 1);
        assert_eq!(UnixTime(f64::NEG_INFINITY).floor_seconds(), i64::MIN);
    }

    #[test]
    fn manual_clock_moves_when_told() {
        let clock = ManualClock::new(UnixTime::from_secs_f64(100.25));
        assert_eq!(clock.now().as_secs_f64(), 100.25);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now().as_secs_f64(), 101.75);
        let f = || 7.5;
        assert_eq!(Clock::now(&f), UnixTime::from_secs_f64(7.5));
        assert!(UnixTime::from_secs_f64(1.0) + Duration::from_secs(1) > UnixTime::EPOCH);
    }
}
