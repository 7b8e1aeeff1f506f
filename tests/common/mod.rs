//! Shared helpers for the tests that replay `tests/data/vectors.json`.
#![allow(dead_code)]

use serde_json::Value;

/// The whole vectors file (made by the real pyramid 2.1 / WebOb 1.8.11).
pub fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/vectors.json"
    ))
    .expect("tests/data/vectors.json");
    serde_json::from_str(&text).expect("vectors.json is JSON")
}

/// Decodes lowercase hex.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// An `enc_text` object's text, for `type: str`.
pub fn text(v: &Value) -> Option<&str> {
    (v["type"] == "str").then(|| v["value"].as_str().unwrap())
}

/// The HMAC key WebOb builds from an `enc_text` salt and secret: text parts go through
/// the crate's Latin-1-else-UTF-8 rule, a bytes part is used as is.
pub fn webob_key(salt: &Value, secret: &Value) -> Vec<u8> {
    let as_text = |v: &Value| -> Option<String> {
        match v["type"].as_str().unwrap() {
            "str" => Some(v["value"].as_str().unwrap().to_string()),
            "none" => Some(String::new()),
            _ => None,
        }
    };
    match (as_text(salt), as_text(secret)) {
        (Some(salt), Some(secret)) => pyramid_session::signer::salted_secret(&salt, &secret),
        (Some(salt), None) => {
            let mut key = pyramid_session::signer::salted_secret(&salt, "");
            key.extend(hex(secret["hex"].as_str().unwrap()));
            key
        }
        _ => panic!("vectors only use bytes secrets with text salts"),
    }
}

/// A deterministic random source for tests (splitmix64): repeatable, never repeating.
pub fn counter_rng(
    seed: u64,
) -> impl FnMut(&mut [u8]) -> Result<(), pyramid_session::RandomError> + Send {
    let mut state = seed;
    move |buf: &mut [u8]| {
        for chunk in buf.chunks_mut(8) {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

/// Runs an async store through the blocking interface: each operation is `block_on` on
/// a Tokio runtime, so the async stores meet exactly the same suites (and get the
/// typed calls of `StoreExt`).
pub struct BlockOn<S> {
    pub store: S,
    pub rt: tokio::runtime::Handle,
}

impl<S: pyramid_session::server::AsyncStore> pyramid_session::server::Store for BlockOn<S> {
    fn execute(
        &self,
        op: pyramid_session::server::StoreOp<'_>,
    ) -> Result<pyramid_session::server::OpResult, pyramid_session::server::StoreError> {
        self.rt.block_on(self.store.execute(op))
    }
}
