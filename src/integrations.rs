//! Framework glue (std): [`http`] for any framework on the `http` crate's types,
//! [`tower`] (a tower layer for any body types), [`axum`] (that layer and an extractor),
//! [`actix`] (an actix-web middleware and an extractor). The three share one
//! [`request::Session`] and its per-request steps ([`request`]).

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "http")]
pub mod http;
#[cfg(any(feature = "tower", feature = "actix"))]
pub mod request;
#[cfg(feature = "tower")]
pub mod tower;
