//! The crate's `tracing` events (feature `tracing`), written through one macro that is a
//! no-op without the feature. Events carry reasons, counts and error kinds — never a
//! secret, a cookie value or a session id.

/// `event!(level, fields..., "message")`: `tracing::<level>!` with the feature on.
macro_rules! event {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(feature = "tracing")]
        tracing::$level!($($arg)+);
    }};
}

pub(crate) use event;
