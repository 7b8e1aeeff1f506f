//! Server-mode id cookies: any bytes decode without panicking in every format (the
//! legacy `pyramid_redis_sessions` one included), and any valid id survives encode →
//! decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyramid_session::codec::Accessed;
use pyramid_session::server::{IdCookieFormat, LegacyRedisCookie, SessionId};
use pyramid_session::SessionConfig;

fuzz_target!(|data: &[u8]| {
    let cw = SessionConfig::cubicweb("fuzz").build().unwrap();
    let redis = SessionConfig::pyramid_session_redis("fuzz")
        .build()
        .unwrap();
    let _ = IdCookieFormat::CubicWeb.decode(&cw, data);
    let _ = IdCookieFormat::PyramidSessionRedis.decode(&redis, data);
    let legacy = LegacyRedisCookie::new("fuzz");
    let _ = legacy.decode(data);
    if let Some(id) = std::str::from_utf8(data).ok().and_then(SessionId::parse) {
        assert_eq!(
            legacy.decode(legacy.encode(&id).as_bytes()),
            Some(id.clone())
        );
        for (format, config) in [
            (IdCookieFormat::CubicWeb, &cw),
            (IdCookieFormat::PyramidSessionRedis, &redis),
        ] {
            let value = format
                .encode(config, &id, Accessed::Int(1_700_000_000), 1_700_000_000.5)
                .unwrap();
            let decoded = format
                .decode(config, value.as_bytes())
                .expect("our id cookie decodes");
            assert_eq!(decoded.id, id);
        }
    }
});
