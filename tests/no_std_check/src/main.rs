//! A freestanding binary that uses the core; `cargo check` must succeed.
#![no_std]
#![no_main]

use core::alloc::{GlobalAlloc, Layout};
use core::panic::PanicInfo;

use pyramid_session::{HashAlg, Keyring, CookieSession, SessionConfig};

/// An allocator that never allocates: enough to type-check and link-check the graph.
struct NoAlloc;

unsafe impl GlobalAlloc for NoAlloc {
    unsafe fn alloc(&self, _layout: Layout) -> *mut u8 {
        core::ptr::null_mut()
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: NoAlloc = NoAlloc;

#[panic_handler]
fn panic(_info: &PanicInfo) -> ! {
    loop {}
}

#[no_mangle]
pub extern "C" fn check() -> usize {
    let ring = Keyring::new(HashAlg::Sha512, "pyramid.session.", &["seekrit"]).ok();
    let value = ring.as_ref().map(|r| r.sign(b"[1, 2, {}]"));
    let config = SessionConfig::pyramid("seekrit").build().ok();
    let session = config.as_ref().map(|c| CookieSession::load(c, value.as_deref().map(str::as_bytes), 3.0));
    let frame = pyramid_session::codec::postcard::encode(pyramid_session::codec::Accessed::Int(1), 2.0, &7u8);
    let helper = pyramid_session::authtkt::AuthTktHelper::builder("seekrit", pyramid_session::authtkt::DomainStyle::Pyramid1)
        .hashalg(pyramid_session::authtkt::HashAlg::legacy_md5())
        .build()
        .ok();
    let identity = helper.as_ref().and_then(|h| h.identify(b"auth_tkt=x", "0.0.0.0", 3.0));
    usize::from(session.is_some()) + frame.map(|f| f.len()).unwrap_or(0) + usize::from(identity.is_some())
}
