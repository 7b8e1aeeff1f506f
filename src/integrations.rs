//! Framework glue (std): [`http`] for any framework on the `http` crate's types, and
//! [`axum`] (a tower layer and an extractor).

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "http")]
pub mod http;
