//! Any bytes as a pickle: the reader never panics (with opaque objects allowed, the
//! widest path), and whatever it accepts re-encodes at protocol 4 and decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyramid_session::pickle::{decode, encode, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::with_opaque();
    if let Ok(value) = decode(data, &limits) {
        let again = encode(&value, 4).expect("a decoded value re-encodes");
        assert_eq!(decode(&again, &limits), Ok(value));
    }
});
