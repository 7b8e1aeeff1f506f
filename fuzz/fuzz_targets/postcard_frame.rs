//! Any bytes as a verified postcard payload: never panics, and a decoded frame
//! round-trips.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use pyramid_session::codec::postcard::{decode, encode};
use pyramid_session::codec::Accessed;

type State = (String, Vec<u8>, Option<u64>, BTreeMap<String, i64>);

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = decode::<State>(data) {
        let bytes = encode(Accessed::Float(frame.renewed), frame.created, &frame.state).unwrap();
        let again = decode::<State>(&bytes).unwrap();
        assert_eq!(again.state, frame.state);
        assert_eq!(again.created.to_bits(), frame.created.to_bits());
    }
});
