//! Reads an existing Pyramid / CubicWeb deployment's settings, so its configuration
//! carries over: the `[main]` (or `[app:main]`) section of a `pyramid.ini`, or the
//! key/value settings dict Pyramid hands to `includeme`.
//!
//! Recognised keys:
//!
//! | key | meaning |
//! |---|---|
//! | `redis.sessions.secret` | pyramid_session_redis secret: selects the Redis id-cookie format |
//! | `redis.sessions.prefix` | Redis key prefix (`<my-app>:`) |
//! | `redis.sessions.url`, `redis.sessions.redis_url`, `redis_url` | Redis URL (old and new spellings) |
//! | `redis.sessions.timeout` | idle timeout, seconds (0 means none, as in pyramid_session_redis) |
//! | `redis.sessions.cookie_name`, `…cookie_path`, `…cookie_domain`, `…cookie_max_age` | cookie |
//! | `redis.sessions.cookie_secure`, `…cookie_httponly`, `…cookie_samesite` | cookie flags |
//! | `cubicweb.session.secret` | CWSessionFactory secret: selects the CubicWeb id-cookie format |
//! | `cubicweb.auth.authtkt.session.secure`, `…persistent.secure` | Secure flag; the session cookie follows `…session.secure` unless set explicitly |
//! | `cubicweb.auth.authtkt.*.secret`, `pyramid.session.secret`, `session.secret` | other secrets, checked for reuse |
//! | `session.timeout`, `session.reissue_time` | cookie-mode timing |
//!
//! Booleans accept `yes/no/true/false/on/off/1/0` (any case), as Pyramid's `asbool`.
//! Numbers are integers, as Pyramid's `int()`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::config::{seconds, Builder, SameSite, SessionConfig};
use crate::error::ConfigError;

/// Settings read from a Pyramid ini `[main]` section or settings dict.
///
/// `Debug` shows every key but not the values of secrets (keys containing `secret` or
/// `password`), nor the user and password of a URL (`redis://user:pass@host`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PyramidSettings {
    pairs: Vec<(String, String)>,
}

impl fmt::Debug for PyramidSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Pairs<'a>(&'a [(String, String)]);
        impl fmt::Debug for Pairs<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.iter().map(|(k, v)| (k, Shown(k, v))))
                    .finish()
            }
        }
        struct Shown<'a>(&'a str, &'a str);
        impl fmt::Debug for Shown<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let Shown(key, value) = *self;
                let key = key.to_ascii_lowercase();
                if key.contains("secret") || key.contains("password") {
                    return f.write_str("<redacted>");
                }
                match url_credentials(value) {
                    Some((start, end)) => {
                        let mut shown = String::with_capacity(value.len());
                        shown.push_str(&value[..start]);
                        shown.push_str("<redacted>");
                        shown.push_str(&value[end..]);
                        fmt::Debug::fmt(&shown, f)
                    }
                    None => fmt::Debug::fmt(value, f),
                }
            }
        }
        f.debug_struct("PyramidSettings")
            .field("pairs", &Pairs(&self.pairs))
            .finish()
    }
}

/// Where the `user:password` of a URL (`scheme://user:password@host…`) is, if it has one.
fn url_credentials(value: &str) -> Option<(usize, usize)> {
    let start = value.find("://")? + 3;
    let authority = &value[start..];
    let authority = &authority[..authority.find(['/', '?', '#']).unwrap_or(authority.len())];
    authority.rfind('@').map(|at| (start, start + at))
}

/// Which session factory the settings describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// `redis.sessions.*`: pyramid_session_redis / pyramid_redis_sessions.
    Redis,
    /// `cubicweb.session.secret`: CubicWeb's `CWSessionFactory` (sessions in the database).
    CubicWeb,
    /// `session.secret` / `pyramid.session.secret`: a signed cookie session.
    Cookie,
}

/// Parses Pyramid's `asbool` spellings.
pub fn parse_bool(value: &str) -> Result<bool, ConfigError> {
    let v = value.trim();
    for t in ["true", "yes", "on", "y", "t", "1"] {
        if v.eq_ignore_ascii_case(t) {
            return Ok(true);
        }
    }
    for f in ["false", "no", "off", "n", "f", "0"] {
        if v.eq_ignore_ascii_case(f) {
            return Ok(false);
        }
    }
    Err(ConfigError::InvalidBool)
}

fn parse_int(value: &str) -> Result<i64, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::InvalidNumber)
}

const SECRET_KEYS: [&str; 6] = [
    "redis.sessions.secret",
    "cubicweb.session.secret",
    "cubicweb.auth.authtkt.session.secret",
    "cubicweb.auth.authtkt.persistent.secret",
    "pyramid.session.secret",
    "session.secret",
];

impl PyramidSettings {
    /// From key/value pairs (later duplicates win, as in a dict).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> PyramidSettings {
        let mut settings = PyramidSettings::default();
        for (k, v) in pairs {
            settings.set(k.trim(), v.trim());
        }
        settings
    }

    fn set(&mut self, key: &str, value: &str) {
        match self.pairs.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value.to_string(),
            None => self.pairs.push((key.to_string(), value.to_string())),
        }
    }

    /// Parses ini text and keeps the `[main]` section (`[app:main]` also works; a file
    /// without sections is read whole). Comments are whole lines starting with `#` or `;`
    /// (after any indentation); a `#` or `;` after a value is part of the value, as with
    /// the `ConfigParser` PasteDeploy reads Pyramid's ini files with
    /// (`inline_comment_prefixes=None`): `secret = abc #def` is `abc #def`. Indented lines
    /// continue the previous value.
    pub fn parse_ini(text: &str) -> PyramidSettings {
        let mut settings = PyramidSettings::default();
        let has_sections = text.lines().any(|l| l.trim_start().starts_with('['));
        let mut in_main = !has_sections;
        let mut last: Option<String> = None;
        for raw in text.lines() {
            let line = raw.trim_end();
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if let Some(section) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                let section = section.trim();
                in_main = section == "main" || section == "app:main";
                last = None;
                continue;
            }
            if !in_main {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some(key) = &last {
                    if let Some(pair) = settings.pairs.iter_mut().find(|(k, _)| k == key) {
                        if !pair.1.is_empty() {
                            pair.1.push('\n');
                        }
                        pair.1.push_str(trimmed);
                    }
                }
                continue;
            }
            let split = trimmed.find(['=', ':']);
            if let Some(i) = split {
                let key = trimmed[..i].trim();
                settings.set(key, trimmed[i + 1..].trim());
                last = Some(key.to_string());
            }
        }
        settings
    }

    /// A raw setting.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn get_nonempty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// Which factory the settings configure: Redis if `redis.sessions.secret` is set,
    /// else CubicWeb if `cubicweb.session.secret` is, else a cookie session.
    pub fn backend(&self) -> Option<Backend> {
        if self.get_nonempty("redis.sessions.secret").is_some() {
            Some(Backend::Redis)
        } else if self.get_nonempty("cubicweb.session.secret").is_some() {
            Some(Backend::CubicWeb)
        } else if self
            .get_nonempty("pyramid.session.secret")
            .or(self.get_nonempty("session.secret"))
            .is_some()
        {
            Some(Backend::Cookie)
        } else {
            None
        }
    }

    /// The Redis URL, under any of its spellings (the newest wins).
    pub fn redis_url(&self) -> Option<&str> {
        [
            "redis_url",
            "redis.sessions.redis_url",
            "redis.sessions.url",
        ]
        .into_iter()
        .find_map(|k| self.get_nonempty(k))
    }

    /// The Redis key prefix (empty when not set).
    pub fn redis_prefix(&self) -> &str {
        self.get("redis.sessions.prefix").unwrap_or("")
    }

    /// Pairs of setting names that hold the same secret (each should be different).
    pub fn reused_secrets(&self) -> Vec<(&'static str, &'static str)> {
        let mut reused = Vec::new();
        for (i, a) in SECRET_KEYS.iter().enumerate() {
            for b in &SECRET_KEYS[i + 1..] {
                if let (Some(x), Some(y)) = (self.get_nonempty(a), self.get_nonempty(b)) {
                    if x == y {
                        reused.push((*a, *b));
                    }
                }
            }
        }
        reused
    }

    /// The session configuration these settings describe, as a [`Builder`] to adjust
    /// further. Fails when no session secret is set or a value does not parse.
    pub fn builder(&self) -> Result<Builder, ConfigError> {
        let opt_bool = |k: &str| self.get_nonempty(k).map(parse_bool).transpose();
        let opt_int = |k: &str| self.get_nonempty(k).map(parse_int).transpose();
        let authtkt_secure = opt_bool("cubicweb.auth.authtkt.session.secure")?;
        let _ = opt_bool("cubicweb.auth.authtkt.persistent.secure")?;
        let mut b = match self.backend().ok_or(ConfigError::NoSecret)? {
            Backend::Redis => {
                let secret = self
                    .get_nonempty("redis.sessions.secret")
                    .ok_or(ConfigError::NoSecret)?;
                let mut b = SessionConfig::pyramid_session_redis(secret);
                if let Some(t) = opt_int("redis.sessions.timeout")? {
                    b = b.timeout(if t == 0 { None } else { Some(seconds(t)?) });
                }
                b
            }
            Backend::CubicWeb => SessionConfig::cubicweb(
                self.get_nonempty("cubicweb.session.secret")
                    .ok_or(ConfigError::NoSecret)?,
            ),
            Backend::Cookie => {
                let secret = self
                    .get_nonempty("pyramid.session.secret")
                    .or(self.get_nonempty("session.secret"))
                    .ok_or(ConfigError::NoSecret)?;
                SessionConfig::pyramid(secret)
            }
        };
        if let Some(t) = opt_int("session.timeout")? {
            b = b.timeout(Some(seconds(t)?));
        }
        if let Some(t) = opt_int("session.reissue_time")? {
            b = b.reissue_time(Some(seconds(t)?));
        }
        if let Some(secure) = authtkt_secure {
            b = b.secure(secure);
        }
        if let Some(name) = self.get_nonempty("redis.sessions.cookie_name") {
            b = b.cookie_name(name);
        }
        if let Some(path) = self.get_nonempty("redis.sessions.cookie_path") {
            b = b.path(Some(path));
        }
        if let Some(domain) = self.get_nonempty("redis.sessions.cookie_domain") {
            b = b.domain(Some(domain));
        }
        if let Some(max_age) = opt_int("redis.sessions.cookie_max_age")? {
            b = b.max_age(Some(seconds(max_age)?));
        }
        if let Some(secure) = opt_bool("redis.sessions.cookie_secure")? {
            b = b.secure(secure);
        }
        if let Some(httponly) = opt_bool("redis.sessions.cookie_httponly")? {
            b = b.httponly(httponly);
        }
        if let Some(samesite) = self.get_nonempty("redis.sessions.cookie_samesite") {
            b = b.samesite(Some(SameSite::from_name(samesite)?));
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "[main]
cubicweb.defaults = no # we do not want to load the default cw session handling

cubicweb.auth.authtkt.session.secret = <secret1>
cubicweb.auth.authtkt.persistent.secret = <secret2>
cubicweb.auth.authtkt.session.secure = yes
cubicweb.auth.authtkt.persistent.secure = yes

redis.sessions.secret = <secret3>
redis.sessions.prefix = <my-app>:

redis.sessions.url = redis://localhost:6379/0

pyramid.includes =
        pyramid_redis_sessions
        cubicweb.pyramid.auth
        cubicweb.pyramid.login
";

    #[test]
    fn reads_the_seed_example() {
        let s = PyramidSettings::parse_ini(SEED);
        // ConfigParser keeps the text after ` #` (Pyramid's `asbool` reads it as false).
        assert_eq!(
            s.get("cubicweb.defaults"),
            Some("no # we do not want to load the default cw session handling")
        );
        assert_eq!(s.backend(), Some(Backend::Redis));
        assert_eq!(s.redis_url(), Some("redis://localhost:6379/0"));
        assert_eq!(s.redis_prefix(), "<my-app>:");
        assert_eq!(
            s.get("pyramid.includes"),
            Some("pyramid_redis_sessions\ncubicweb.pyramid.auth\ncubicweb.pyramid.login")
        );
        assert!(s.reused_secrets().is_empty());
        let config = s.builder().unwrap().build().unwrap();
        let attrs = config.cookie().attributes();
        assert!(attrs.secure && attrs.httponly);
        assert_eq!(attrs.samesite, None);
        assert_eq!(config.timeout(), Some(1200));
    }

    #[test]
    fn reused_secrets_are_reported() {
        let s = PyramidSettings::from_pairs([
            ("cubicweb.session.secret", "same"),
            ("cubicweb.auth.authtkt.session.secret", "same"),
            ("cubicweb.auth.authtkt.persistent.secret", "other"),
        ]);
        assert_eq!(
            s.reused_secrets(),
            [(
                "cubicweb.session.secret",
                "cubicweb.auth.authtkt.session.secret"
            )]
        );
        assert_eq!(s.backend(), Some(Backend::CubicWeb));
        let c = s.builder().unwrap().build().unwrap();
        assert_eq!(c.reissue_time(), Some(120));
    }

    #[test]
    fn values_are_parsed_like_pyramid() {
        for (v, b) in [
            ("yes", true),
            ("No", false),
            ("TRUE", true),
            ("0", false),
            ("on", true),
            ("off", false),
        ] {
            assert_eq!(parse_bool(v), Ok(b), "{v}");
        }
        assert_eq!(parse_bool("maybe"), Err(ConfigError::InvalidBool));
        let s = PyramidSettings::from_pairs([
            ("redis.sessions.secret", "x"),
            ("redis.sessions.timeout", "0"),
            ("redis_url", "redis://new"),
            ("redis.sessions.url", "redis://old"),
        ]);
        assert_eq!(s.redis_url(), Some("redis://new"));
        assert_eq!(s.builder().unwrap().build().unwrap().timeout(), None);
        let bad = PyramidSettings::from_pairs([
            ("redis.sessions.secret", "x"),
            ("redis.sessions.timeout", "soon"),
        ]);
        assert_eq!(bad.builder().unwrap_err(), ConfigError::InvalidNumber);
        let bad = PyramidSettings::from_pairs([
            ("redis.sessions.secret", "x"),
            ("redis.sessions.cookie_secure", "si"),
        ]);
        assert_eq!(bad.builder().unwrap_err(), ConfigError::InvalidBool);
        assert_eq!(
            PyramidSettings::from_pairs([]).builder().unwrap_err(),
            ConfigError::NoSecret
        );
    }

    #[test]
    fn inline_hashes_are_part_of_the_value_as_in_configparser() {
        // ConfigParser as PasteDeploy uses it (`inline_comment_prefixes=None`), checked
        // with Python 3: only whole lines starting with `#` or `;` are comments.
        let s = PyramidSettings::parse_ini(
            "[main]\nsession.secret = abc #def\nsemi = a ; b\nhash = #x\nk = v\n  # indented comment\n  more # tail\n",
        );
        assert_eq!(s.get("session.secret"), Some("abc #def"));
        assert_eq!(s.get("semi"), Some("a ; b"));
        assert_eq!(s.get("hash"), Some("#x"));
        assert_eq!(s.get("k"), Some("v\nmore # tail"));
        let config = s.builder().unwrap().build().unwrap();
        let ring = crate::signer::Keyring::new(
            crate::signer::HashAlg::Sha512,
            crate::config::PYRAMID_SALT,
            &["abc #def"],
        )
        .unwrap();
        assert_eq!(config.keyring().sign(b"{}"), ring.sign(b"{}"));
    }

    #[test]
    fn debug_never_prints_secrets() {
        let s = PyramidSettings::parse_ini(
            "[main]\nredis.sessions.secret = r-SECRET\ncubicweb.session.secret = c-SECRET\n\
             cubicweb.auth.authtkt.session.secret = a-SECRET\nsession.secret = s-SECRET\n\
             my.other.secret = o-SECRET\nredis.sessions.url = redis://user:p-SECRET@db:6379/0\n\
             redis.sessions.prefix = my-app:\n",
        );
        let text = alloc::format!("{s:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("redis.sessions.secret"), "{text}");
        assert!(
            text.contains("my-app:") && text.contains("db:6379/0"),
            "{text}"
        );
        assert_eq!(url_credentials("redis://db:6379/0"), None);
        assert_eq!(url_credentials("redis://h/a@b"), None);
        assert_eq!(url_credentials("redis://:p@h"), Some((8, 10)));
        assert_eq!(url_credentials("redis://u:p@ss@h/0"), Some((8, 14)));
        assert_eq!(url_credentials("not a url"), None);
    }

    #[test]
    fn sections_and_comments() {
        let s = PyramidSettings::parse_ini(
            "[app:main]\n# c\n; c\nsession.secret: abc\n[server:main]\nport = 1\n",
        );
        assert_eq!(s.get("session.secret"), Some("abc"));
        assert_eq!(s.get("port"), None);
        assert_eq!(s.backend(), Some(Backend::Cookie));
    }
}
