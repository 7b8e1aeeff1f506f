//! The crate's own urlsafe base64 (`base64url`) against the `base64` crate's engine with
//! the configuration the signer used before: urlsafe alphabet, no padding written,
//! padding "indifferent" and trailing bits refused on input. Same output, and the same
//! accept/refuse decision with the same bytes, for every short input over a mixed
//! alphabet and for random long ones.

use base64::engine::general_purpose::GeneralPurpose;
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine as _;
use proptest::prelude::*;
use pyramid_session::base64url;

const REFERENCE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(false),
);

fn ours(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; input.len() / 4 * 3 + 3];
    let n = base64url::decode_into(input, &mut out).ok()?;
    out.truncate(n);
    Some(out)
}

fn reference(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; input.len() / 4 * 3 + 3];
    let n = REFERENCE.decode_slice(input, &mut out).ok()?;
    out.truncate(n);
    Some(out)
}

#[test]
fn every_short_input_is_decided_alike() {
    // Letters with zero and non-zero low bits, both urlsafe extras, padding, the
    // standard alphabet's extras and junk.
    const SYMBOLS: &[u8] = b"AQgw_-=+/.";
    let mut checked = 0;
    for len in 0..=6u32 {
        for mut code in 0..(SYMBOLS.len() as u64).pow(len) {
            let mut input = Vec::new();
            for _ in 0..len {
                input.push(SYMBOLS[(code % SYMBOLS.len() as u64) as usize]);
                code /= SYMBOLS.len() as u64;
            }
            assert_eq!(
                ours(&input),
                reference(&input),
                "{:?}",
                String::from_utf8_lossy(&input)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 1_111_111);
}

#[test]
fn block_boundaries_are_decided_alike() {
    // A valid value around the 16-character block size, with one character replaced
    // or padding appended at every position.
    for len in 0..70 {
        let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        let encoded = base64url::encode(&data);
        assert_eq!(encoded, REFERENCE.encode(&data));
        for i in 0..encoded.len() {
            for junk in [b'=', b'.', b'+', b'A', b'_'] {
                let mut input = encoded.clone().into_bytes();
                input[i] = junk;
                assert_eq!(ours(&input), reference(&input), "{len} {i} {junk}");
            }
        }
        for pad in ["=", "==", "==="] {
            let input = format!("{encoded}{pad}");
            assert_eq!(
                ours(input.as_bytes()),
                reference(input.as_bytes()),
                "{input}"
            );
        }
    }
}

proptest! {
    #[test]
    fn encoding_matches(data in prop::collection::vec(any::<u8>(), 0..3000)) {
        prop_assert_eq!(base64url::encode(&data), REFERENCE.encode(&data));
    }

    #[test]
    fn decoding_of_any_bytes_matches(input in prop::collection::vec(any::<u8>(), 0..100)) {
        prop_assert_eq!(ours(&input), reference(&input));
    }

    #[test]
    fn decoding_of_near_valid_text_matches(data in prop::collection::vec(any::<u8>(), 0..600),
                                           edits in prop::collection::vec((any::<prop::sample::Index>(),
                                                                          prop::sample::select(b"=._+/A".to_vec())), 0..3),
                                           pad in 0usize..3) {
        let mut input = base64url::encode(&data).into_bytes();
        for (at, c) in edits {
            if !input.is_empty() {
                let i = at.index(input.len());
                input[i] = c;
            }
        }
        input.extend(std::iter::repeat_n(b'=', pad));
        prop_assert_eq!(ours(&input), reference(&input));
    }
}
