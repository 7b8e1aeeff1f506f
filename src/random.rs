//! Randomness comes from the caller: the core never reads a random source itself.

use crate::error::RandomError;

/// A source of random bytes, supplied by the caller.
///
/// Any `FnMut(&mut [u8]) -> Result<(), RandomError>` is one. With the `std` feature,
/// [`OsRandom`] reads the operating system's CSPRNG (and fails rather than falling back).
pub trait RandomSource {
    /// Fills `buf` with cryptographically secure random bytes.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError>;
}

impl<F: FnMut(&mut [u8]) -> Result<(), RandomError>> RandomSource for F {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        self(buf)
    }
}

/// The operating system's CSPRNG (`getrandom`). There is no fallback: a failure is an
/// error.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

#[cfg(feature = "std")]
impl RandomSource for OsRandom {
    #[expect(
        clippy::disallowed_methods,
        reason = "the std adapter that reads the OS random source; the core takes a RandomSource"
    )]
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|_| RandomError)
    }
}
