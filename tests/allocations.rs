//! Heap allocations, counted by a global allocator (per thread, so parallel tests do not
//! interfere): none on the verify-and-reject path, and a bounded, documented number per
//! request.
#![allow(
    unsafe_code,
    reason = "a counting GlobalAlloc that delegates to System"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use pyramid_session::server::{IdCookieFormat, Pending, ServerConfig};
use pyramid_session::signer::{HashAlg, Keyring, MAX_DECODED_LEN};
use pyramid_session::store::MemoryStore;
use pyramid_session::{driver, CookieSession, OsRandom, SessionConfig};
use serde_json::json;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

#[test]
fn verify_and_reject_allocates_nothing() {
    let ring = Keyring::new(HashAlg::Sha512, "pyramid.session.", &["seekrit", "older"]).unwrap();
    let good = ring.sign(br#"[1700000000, 1700000000.25, {"a": 1}]"#);
    let mut tampered = good.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let mut junk = good.clone().into_bytes();
    junk[7] = b'.';
    let long = vec![b'A'; 5000];
    let mut buf = [0u8; MAX_DECODED_LEN];
    for bad in [&tampered[..], &junk[..], &long[..], b"", b"AAAA"] {
        let (result, allocations) = count(|| ring.verify_in(bad, &mut buf).is_err());
        assert!(result);
        assert_eq!(
            allocations,
            0,
            "rejecting {:?}",
            String::from_utf8_lossy(&bad[..bad.len().min(20)])
        );
    }
    // Accepting allocates nothing either; decoding the frame is what allocates.
    let (ok, allocations) = count(|| ring.verify_in(good.as_bytes(), &mut buf).is_ok());
    assert!(ok);
    assert_eq!(allocations, 0);
}

#[test]
fn a_rejected_cookie_costs_no_allocation_in_session_load_beyond_the_empty_session() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let (_, without) = count(|| CookieSession::load(&config, None, 1.0));
    let (_, with_bad) =
        count(|| CookieSession::load(&config, Some(b"a=1; session=garbage-value; b=2"), 1.0));
    assert_eq!(
        with_bad, without,
        "a bad cookie must not allocate more than no cookie"
    );
}

/// Documents (and guards) the allocations of a whole request.
#[test]
fn allocations_per_request() {
    let config = SessionConfig::pyramid("seekrit").build().unwrap();
    let mut s = CookieSession::load(&config, None, 1_700_000_000.0);
    s.insert("user", json!("ada"));
    s.insert("_csrft_", json!("0b30557a9fc4e90e33587da2c7ec11365b80a5ca"));
    let header = s.finish(&config, false).unwrap().unwrap();
    let header = header.split(';').next().unwrap().to_string();
    let (_, cookie_mode) = count(|| {
        let mut s = CookieSession::load(&config, Some(header.as_bytes()), 1_700_000_010.0);
        s.get("user");
        s.insert("last_page", json!("/account"));
        s.finish(&config, false).unwrap().unwrap()
    });

    let server = ServerConfig::new(config.clone(), IdCookieFormat::PyramidSessionRedis).unwrap();
    let store = MemoryStore::new();
    let mut s = driver::open(
        &store,
        &server,
        Pending::start(&server, None, 1_700_000_000.0),
    )
    .unwrap();
    s.insert("user", json!("ada"));
    let id = driver::finish(&store, &server, &mut s, false, &mut OsRandom)
        .unwrap()
        .unwrap();
    let id = id.split(';').next().unwrap().to_string();
    let (_, server_mode) = count(|| {
        let pending = Pending::start(&server, Some(id.as_bytes()), 1_700_000_010.0);
        let mut s = driver::open(&store, &server, pending).unwrap();
        s.get("user");
        s.insert("last_page", json!("/account"));
        driver::finish(&store, &server, &mut s, false, &mut OsRandom).unwrap()
    });
    eprintln!("allocations per request: cookie mode {cookie_mode}, server mode (memory store) {server_mode}");
    assert!(cookie_mode <= 12, "cookie mode: {cookie_mode} allocations");
    assert!(server_mode <= 18, "server mode: {server_mode} allocations");
}
