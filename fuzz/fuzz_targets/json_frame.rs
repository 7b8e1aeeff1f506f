//! Any bytes as a verified JSON payload (the MAC step is skipped by calling the frame
//! decoder directly): never panics, reads exactly what a full `serde_json::Value` parse
//! reads (the decoder takes a direct path for common frames), and a decoded frame
//! re-encodes and decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyramid_session::codec::json::{decode_frame, encode_frame};
use pyramid_session::codec::Accessed;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = decode_frame(data) {
        // The reference: the whole payload as one Value, then its shape.
        let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(data) else {
            panic!("decoded a frame the full parse refuses");
        };
        let [Value::Number(renewed), Value::Number(created), Value::Object(state)] = &items[..]
        else {
            panic!("decoded a frame of another shape");
        };
        assert_eq!(
            renewed.as_f64().map(f64::to_bits),
            Some(frame.renewed.to_bits())
        );
        assert_eq!(
            created.as_f64().map(f64::to_bits),
            Some(frame.created.to_bits())
        );
        assert_eq!(state, &frame.state);

        let mut out = Vec::new();
        encode_frame(
            Accessed::Float(frame.renewed),
            frame.created,
            &frame.state,
            &mut out,
        )
        .unwrap();
        assert!(out.is_ascii());
        let again = decode_frame(&out).unwrap();
        assert_eq!(again.renewed.to_bits(), frame.renewed.to_bits());
        assert_eq!(again.created.to_bits(), frame.created.to_bits());
        let mut out2 = Vec::new();
        encode_frame(
            Accessed::Float(again.renewed),
            again.created,
            &again.state,
            &mut out2,
        )
        .unwrap();
        assert_eq!(out, out2, "encoding is stable");
    }
});
