//! Any bytes as a signed value with a fixed keyring: never panics; whatever verifies
//! re-signs to a value that verifies to the same payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyramid_session::signer::{HashAlg, Keyring};

fuzz_target!(|data: &[u8]| {
    let ring = Keyring::new(HashAlg::Sha512, "pyramid.session.", &["seekrit", "older"]).unwrap();
    if let Ok((payload, _)) = ring.verify(data) {
        let again = ring.sign(&payload);
        assert_eq!(ring.verify(again.as_bytes()).unwrap(), (payload, 0));
    }
});
