//! Any bytes as a verified pickled session payload (Pyramid 1.x, and CubicWeb's JSON with
//! a pickle fallback): never panics, and a decoded frame — its state held as tagged JSON
//! — re-encodes and decodes to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyramid_session::codec::{Accessed, Serializer};

fuzz_target!(|data: &[u8]| {
    let _ = Serializer::JsonWithPickleFallback.decode(data);
    if let Ok(frame) = Serializer::Pickle.decode(data) {
        let mut out = Vec::new();
        Serializer::Pickle
            .encode(
                Accessed::Float(frame.renewed),
                frame.created,
                &frame.state,
                &mut out,
            )
            .expect("a decoded frame re-encodes");
        let again = Serializer::Pickle.decode(&out).expect("and decodes");
        assert_eq!(again.renewed.to_bits(), frame.renewed.to_bits());
        assert_eq!(again.created.to_bits(), frame.created.to_bits());
        assert_eq!(again.state, frame.state);
    }
});
