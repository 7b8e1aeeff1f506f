//! Any bytes through the crate's own urlsafe base64 and the `base64` crate's engine with
//! the signer's rules: both accept or both refuse, with the same bytes; and any bytes
//! encode to the same text, which decodes back.
#![no_main]

use base64::engine::general_purpose::GeneralPurpose;
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use pyramid_session::base64url;

const REFERENCE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(false),
);

fuzz_target!(|data: &[u8]| {
    let mut ours = vec![0u8; data.len() / 4 * 3 + 3];
    let mut theirs = ours.clone();
    let a = base64url::decode_into(data, &mut ours)
        .ok()
        .map(|n| &ours[..n]);
    let b = REFERENCE
        .decode_slice(data, &mut theirs)
        .ok()
        .map(|n| &theirs[..n]);
    assert_eq!(a, b);

    let text = base64url::encode(data);
    assert_eq!(text, REFERENCE.encode(data));
    let mut back = vec![0u8; data.len()];
    assert_eq!(
        base64url::decode_into(text.as_bytes(), &mut back),
        Ok(data.len())
    );
    assert_eq!(back, data);
});
