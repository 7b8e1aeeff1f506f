//! Reads an existing Pyramid / CubicWeb deployment's settings, so its configuration
//! carries over: the `[app:main]` (or `[main]`) section of a `pyramid.ini`, read as
//! PasteDeploy reads it with Python's `ConfigParser` ([`ini`]: interpolation, continuation
//! lines, no inline comments), or the key/value settings dict Pyramid hands to `includeme`.
//! The session factory is the one the includes select ([`PyramidSettings::backend`]).
//!
//! Recognised keys:
//!
//! | key | meaning |
//! |---|---|
//! | `pyramid.includes`, `cubicweb.includes`, `cubicweb.defaults` | select the session factory |
//! | `redis.sessions.secret` | pyramid_session_redis secret |
//! | `redis.sessions.prefix` | Redis key prefix (`<my-app>:`) |
//! | `redis.sessions.url`, `redis.sessions.redis_url`, `redis_url` | Redis URL (old and new spellings) |
//! | `redis.sessions.timeout` | idle timeout, seconds (0 means none, as in pyramid_session_redis) |
//! | `redis.sessions.python_expires`, `…set_redis_ttl`, `…timeout_trigger` | the Redis value's layout (`PyramidSettings::pyramid_session_redis_options`, feature `redis`) |
//! | `redis.sessions.cookie_name`, `…cookie_path`, `…cookie_domain`, `…cookie_max_age` | cookie |
//! | `redis.sessions.cookie_secure`, `…cookie_httponly`, `…cookie_samesite` | cookie flags |
//! | `cubicweb.session.secret` | CWSessionFactory / `default_session` secret |
//! | `cubicweb.auth.authtkt.session.secure`, `…persistent.secure` | the login cookies' Secure flag (checked here; the session cookie never follows it, as in Python: set it with [`Builder::secure`]) |
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

pub mod ini;
pub use ini::{Ini, IniError};

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

/// Which session factory the settings describe (spec §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// `pyramid_session_redis` in `pyramid.includes` (or, outside CubicWeb, a
    /// `redis.sessions.secret` without any includes): `RedisSessionFactory`.
    Redis,
    /// `pyramid_redis_sessions` in `pyramid.includes` (the CubicWeb docs' example): the
    /// legacy factory, whose id cookie is a pickled `signed_serialize`; not supported by
    /// [`PyramidSettings::builder`].
    RedisLegacy,
    /// CubicWeb's `CWSessionFactory(cubicweb.session.secret)` (sessions in the database):
    /// `cubicweb.pyramid.session` in `cubicweb.includes` (CubicWeb 4/5), or
    /// `cubicweb.defaults` true (CubicWeb 3.x; true when absent).
    CubicWeb,
    /// `cubicweb.pyramid.default_session` in `cubicweb.includes` (the CubicWeb 4.2+ and 5.x
    /// template): `SignedCookieSessionFactory(cubicweb.session.secret)`, a cookie session.
    CubicWebCookie,
    /// `session.secret` / `pyramid.session.secret` outside CubicWeb: a signed cookie session.
    Cookie,
}

/// Pyramid's `asbool`: true for `t/true/y/yes/on/1` (any case, trimmed), false for
/// anything else, with no error (`cubicweb.defaults = no # comment` is false).
pub fn asbool(value: &str) -> bool {
    let v = value.trim();
    ["t", "true", "y", "yes", "on", "1"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t))
}

/// Pyramid's `aslist`: the words of a whitespace- or newline-separated list.
pub fn aslist(value: &str) -> impl Iterator<Item = &str> {
    value.split_whitespace()
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

    /// Reads a Pyramid ini file's text as `pserve` does (PasteDeploy on Python's
    /// `ConfigParser`, see [`ini`]) and keeps the settings Pyramid hands the app: the
    /// options of `[app:main]` (or `[application:main]`, or a plain `[main]`), interpolated,
    /// without those that are also `[DEFAULT]` options (PasteDeploy passes those as
    /// `global_conf`); `set name = v` options go to the globals and `get name = global`
    /// options copy a global. Names keep their case, as PasteDeploy keeps them. Comments
    /// are whole lines starting with `#` or `;`: `secret = abc #def` is `abc #def`.
    ///
    /// `%(here)s` and `%(__file__)s` are unknown here; use
    /// [`PyramidSettings::parse_ini_at`] for them. Without such a section the settings are
    /// empty.
    pub fn parse_ini(text: &str) -> Result<PyramidSettings, IniError> {
        PyramidSettings::from_ini(&Ini::paste_deploy(text, None, None)?, "main")
    }

    /// As [`PyramidSettings::parse_ini`], with PasteDeploy's defaults `here` (the ini
    /// file's directory) and `__file__` (its path).
    pub fn parse_ini_at(text: &str, here: &str, file: &str) -> Result<PyramidSettings, IniError> {
        PyramidSettings::from_ini(&Ini::paste_deploy(text, Some(here), Some(file))?, "main")
    }

    /// The app settings PasteDeploy's `ConfigLoader.get_context` builds for the app
    /// `name` (`main` for `pserve development.ini`).
    pub fn from_ini(ini: &Ini, name: &str) -> Result<PyramidSettings, IniError> {
        let is_section = |section: &str| match section.split_once(':') {
            Some((prefix, rest)) => {
                matches!(prefix.trim(), "app" | "application") && rest.trim() == name
            }
            None => section == name,
        };
        let section = ini
            .sections()
            .find(|s| s.contains(':') && is_section(s))
            .or_else(|| ini.sections().find(|s| is_section(s)));
        let mut settings = PyramidSettings::default();
        let Some(section) = section else {
            return Ok(settings);
        };
        let mut globals: Vec<(String, String)> = Vec::new();
        for (k, _) in ini.raw_defaults() {
            // NicerConfigParser.defaults(): the defaults, interpolated.
            let v = ini.get("DEFAULT", k)?.unwrap_or_default();
            globals.push((k.clone(), v));
        }
        let is_default = |k: &str| ini.raw_defaults().iter().any(|(d, _)| d == k);
        let mut from_globals: Vec<(String, String)> = Vec::new();
        for option in ini.options(section) {
            let plain = !option.starts_with("set ") && !option.starts_with("get ");
            if plain && is_default(option) {
                // A global: PasteDeploy skips it before reading (interpolating) it.
                continue;
            }
            let value = ini.get(section, option)?.unwrap_or_default();
            if let Some(name) = option.strip_prefix("set ") {
                let name = name.trim();
                match globals.iter_mut().find(|(k, _)| k == name) {
                    Some(pair) => pair.1 = value,
                    None => globals.push((name.to_string(), value)),
                }
            } else if let Some(name) = option.strip_prefix("get ") {
                from_globals.push((name.trim().to_string(), value));
            } else {
                settings.set(option, &value);
            }
        }
        for (local, global) in from_globals {
            let value = globals
                .iter()
                .find(|(k, _)| *k == global)
                .map(|(_, v)| v.clone())
                .ok_or(IniError::MissingGlobal { name: global })?;
            settings.set(&local, &value);
        }
        Ok(settings)
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

    /// Which factory the settings configure, as Pyramid and CubicWeb decide it (spec
    /// §6.1), not from which secrets happen to be set (`cubicweb.session.secret` is in
    /// every CubicWeb template):
    ///
    /// 1. `pyramid.includes` (or `cubicweb.includes`) names `pyramid_session_redis` →
    ///    [`Backend::Redis`]; `pyramid_redis_sessions` → [`Backend::RedisLegacy`];
    /// 2. `cubicweb.includes` names `cubicweb.pyramid.default_session` →
    ///    [`Backend::CubicWebCookie`]; `cubicweb.pyramid.session` (or
    ///    `cubicweb.pyramid.defaults`) → [`Backend::CubicWeb`];
    /// 3. a CubicWeb deployment (any `cubicweb.*` setting) whose `cubicweb.defaults` is
    ///    true by `asbool` → [`Backend::CubicWeb`] (CubicWeb 3.x includes
    ///    `cubicweb.pyramid.defaults`). An absent `cubicweb.defaults` counts as true unless
    ///    `cubicweb.includes` is set (the CubicWeb 4/5 layout, where the includes decide);
    /// 4. no includes at all, outside CubicWeb: a bare settings dict, read by its secrets
    ///    (`redis.sessions.secret` → Redis, `pyramid.session.secret` / `session.secret` →
    ///    Cookie);
    /// 5. otherwise `None` (e.g. CubicWeb 4.0/4.1's `cubicweb.includes =
    ///    cubicweb.pyramid.auth`: no session factory).
    ///
    /// An explicit include wins over `cubicweb.defaults`; a Redis include over a CubicWeb
    /// one.
    pub fn backend(&self) -> Option<Backend> {
        let pyramid = self.get("pyramid.includes");
        let cubicweb = self.get("cubicweb.includes");
        let includes = || {
            aslist(pyramid.unwrap_or(""))
                .chain(aslist(cubicweb.unwrap_or("")))
                .map(|i| i.trim_end_matches(".includeme"))
        };
        if includes().any(|i| i == "pyramid_session_redis") {
            return Some(Backend::Redis);
        }
        if includes().any(|i| i == "pyramid_redis_sessions") {
            return Some(Backend::RedisLegacy);
        }
        if includes().any(|i| i == "cubicweb.pyramid.default_session") {
            return Some(Backend::CubicWebCookie);
        }
        if includes().any(|i| i == "cubicweb.pyramid.session" || i == "cubicweb.pyramid.defaults") {
            return Some(Backend::CubicWeb);
        }
        let is_cubicweb = self.pairs.iter().any(|(k, _)| k.starts_with("cubicweb."));
        if is_cubicweb {
            let defaults = match self.get("cubicweb.defaults") {
                Some(v) => asbool(v),
                None => cubicweb.is_none(),
            };
            return defaults.then_some(Backend::CubicWeb);
        }
        if pyramid.is_some() {
            return None;
        }
        if self.get_nonempty("redis.sessions.secret").is_some() {
            Some(Backend::Redis)
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

    /// The options of a [`PyramidSessionRedisStore`](crate::store::PyramidSessionRedisStore)
    /// sharing the Redis of the app these settings configure, read as pyramid_session_redis
    /// 1.8.1's `_parse_settings` and `RedisSessionFactory` read them:
    ///
    /// * `redis.sessions.timeout` (default 1200; `0` or `None` means no timeout);
    /// * `redis.sessions.python_expires`, `redis.sessions.set_redis_ttl` (default true);
    /// * `redis.sessions.timeout_trigger`: when set (not `0`/`None`), `python_expires`
    ///   is forced on, as Python does.
    ///
    /// Fails on a value that does not parse, a negative timeout, and a configuration
    /// under which sessions never expire (no timeout, or neither `python_expires` nor
    /// `set_redis_ttl`): [`ConfigError::NoExpiry`]. The key prefix is the id scheme's:
    /// `IdScheme::pyramid_session_redis(settings.redis_prefix())`.
    #[cfg(feature = "redis")]
    pub fn pyramid_session_redis_options(
        &self,
    ) -> Result<crate::store::PyramidSessionRedisOptions, ConfigError> {
        use crate::store::pyramid_session_redis::{
            PyramidSessionRedisOptions, DEFAULT_SESSION_TIMEOUT,
        };
        // `configs_int_none`: `None`, or an int where 0 means `None`.
        let int_none = |k: &str| -> Result<Option<Option<u64>>, ConfigError> {
            let Some(v) = self.get_nonempty(k) else {
                return Ok(None);
            };
            if v.trim() == "None" {
                return Ok(Some(None));
            }
            let secs = seconds(parse_int(v)?)?.as_secs();
            Ok(Some((secs != 0).then_some(secs)))
        };
        let opt_bool = |k: &str| self.get_nonempty(k).map(parse_bool).transpose();
        let timeout = int_none("redis.sessions.timeout")?.unwrap_or(Some(DEFAULT_SESSION_TIMEOUT));
        let trigger = int_none("redis.sessions.timeout_trigger")?.flatten();
        let python_expires =
            opt_bool("redis.sessions.python_expires")?.unwrap_or(true) || trigger.is_some();
        let set_redis_ttl = opt_bool("redis.sessions.set_redis_ttl")?.unwrap_or(true);
        let options = PyramidSessionRedisOptions::new(timeout.unwrap_or(0))
            .with_python_expires(python_expires)
            .with_set_redis_ttl(set_redis_ttl);
        options.validate()?;
        Ok(options)
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

    /// The Pyramid major version these settings are for, as far as they tell: 1 when
    /// any `cubicweb.*` key is set (every CubicWeb release pins `pyramid<2`), else 2.
    /// It decides the cookie serializer of a cookie session ([`PyramidSettings::builder`]).
    pub fn pyramid_major(&self) -> u8 {
        if self.pairs.iter().any(|(k, _)| k.starts_with("cubicweb.")) {
            1
        } else {
            2
        }
    }

    /// The session configuration these settings describe, as a [`Builder`] to adjust
    /// further, for the Pyramid version [`PyramidSettings::pyramid_major`] infers. Fails
    /// when no session secret is set or a value does not parse.
    pub fn builder(&self) -> Result<Builder, ConfigError> {
        self.builder_for_pyramid(self.pyramid_major())
    }

    /// As [`PyramidSettings::builder`], for an app running Pyramid `major` (1 or 2): a
    /// cookie session is pickled on Pyramid 1 ([`SessionConfig::pyramid1`], feature
    /// `pickle`; without it, [`ConfigError::UnsupportedSessionFactory`]) and JSON on 2.
    pub fn builder_for_pyramid(&self, major: u8) -> Result<Builder, ConfigError> {
        let cookie_session = |secret: &str| -> Result<Builder, ConfigError> {
            if major >= 2 {
                return Ok(SessionConfig::pyramid(secret));
            }
            #[cfg(feature = "pickle")]
            return Ok(SessionConfig::pyramid1(secret));
            #[cfg(not(feature = "pickle"))]
            Err(ConfigError::UnsupportedSessionFactory)
        };
        let opt_bool = |k: &str| self.get_nonempty(k).map(parse_bool).transpose();
        let opt_int = |k: &str| self.get_nonempty(k).map(parse_int).transpose();
        // The login cookies' flags (`cubicweb.auth.authtkt.*.secure`, read by
        // `authtkt::cubicweb` with Python's `asbool`) are not the session cookie's.
        // CubicWeb's session cookies are never Secure (`CWSessionFactory(secret)`,
        // `secure=False`; `default_session`: Pyramid's default), so a Secure one would
        // not reach an instance Python serves over plain HTTP. `Builder::secure` opts in.
        let backend = match self.backend() {
            Some(backend) => backend,
            None if SECRET_KEYS.iter().any(|k| self.get_nonempty(k).is_some()) => {
                return Err(ConfigError::NoSessionFactory)
            }
            None => return Err(ConfigError::NoSecret),
        };
        let mut b = match backend {
            Backend::RedisLegacy => return Err(ConfigError::UnsupportedSessionFactory),
            Backend::Redis => {
                let secret = self
                    .get_nonempty("redis.sessions.secret")
                    .ok_or(ConfigError::NoSecret)?;
                let mut b = SessionConfig::pyramid_session_redis(secret);
                // `configs_int_none`: `None`, or an int where 0 means none.
                if let Some(v) = self.get_nonempty("redis.sessions.timeout") {
                    let t = if v.trim() == "None" { 0 } else { parse_int(v)? };
                    b = b.timeout(if t == 0 { None } else { Some(seconds(t)?) });
                }
                b
            }
            Backend::CubicWeb => SessionConfig::cubicweb(
                self.get_nonempty("cubicweb.session.secret")
                    .ok_or(ConfigError::NoSecret)?,
            ),
            // `cubicweb.pyramid.default_session`: `SignedCookieSessionFactory(secret)`
            // with Pyramid's defaults.
            Backend::CubicWebCookie => cookie_session(
                self.get_nonempty("cubicweb.session.secret")
                    .ok_or(ConfigError::NoSecret)?,
            )?,
            Backend::Cookie => cookie_session(
                self.get_nonempty("pyramid.session.secret")
                    .or(self.get_nonempty("session.secret"))
                    .ok_or(ConfigError::NoSecret)?,
            )?,
        };
        if let Some(t) = opt_int("session.timeout")? {
            b = b.timeout(Some(seconds(t)?));
        }
        if let Some(t) = opt_int("session.reissue_time")? {
            b = b.reissue_time(Some(seconds(t)?));
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
        let s = PyramidSettings::parse_ini(SEED).unwrap();
        // ConfigParser keeps the text after ` #` (Pyramid's `asbool` reads it as false).
        assert_eq!(
            s.get("cubicweb.defaults"),
            Some("no # we do not want to load the default cw session handling")
        );
        // `pyramid_redis_sessions` is the legacy factory (pickled `signed_serialize` id
        // cookie), which this crate does not speak.
        assert_eq!(s.backend(), Some(Backend::RedisLegacy));
        assert_eq!(s.redis_url(), Some("redis://localhost:6379/0"));
        assert_eq!(s.redis_prefix(), "<my-app>:");
        assert_eq!(
            s.get("pyramid.includes"),
            // As Python: the empty text after `=` is the first line.
            Some("\npyramid_redis_sessions\ncubicweb.pyramid.auth\ncubicweb.pyramid.login")
        );
        assert!(s.reused_secrets().is_empty());
        assert_eq!(
            s.builder().unwrap_err(),
            ConfigError::UnsupportedSessionFactory
        );
        // The same deployment on pyramid_session_redis.
        let s = PyramidSettings::parse_ini(
            &SEED.replace("pyramid_redis_sessions", "pyramid_session_redis"),
        )
        .unwrap();
        assert_eq!(s.backend(), Some(Backend::Redis));
        let config = s.builder().unwrap().build().unwrap();
        let attrs = config.cookie().attributes();
        // pyramid_session_redis's defaults: HttpOnly, not Secure (the AuthTkt cookies'
        // `secure = yes` is theirs, not the session cookie's), no SameSite.
        assert!(!attrs.secure && attrs.httponly);
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

    #[cfg(feature = "redis")]
    #[test]
    fn pyramid_session_redis_options_are_read_as_python_reads_them() {
        let options = |pairs: &[(&str, &str)]| {
            let mut all = alloc::vec![("redis.sessions.secret", "x")];
            all.extend_from_slice(pairs);
            PyramidSettings::from_pairs(all).pyramid_session_redis_options()
        };
        let o = options(&[]).unwrap();
        assert_eq!(
            (o.timeout(), o.python_expires(), o.set_redis_ttl()),
            (1200, true, true)
        );
        let o = options(&[
            ("redis.sessions.timeout", " 3600 "),
            ("redis.sessions.python_expires", "false"),
            ("redis.sessions.set_redis_ttl", "yes"),
        ])
        .unwrap();
        assert_eq!(
            (o.timeout(), o.python_expires(), o.set_redis_ttl()),
            (3600, false, true)
        );
        // Redis as an LRU cache: `x` alone expires sessions.
        let o = options(&[("redis.sessions.set_redis_ttl", "off")]).unwrap();
        assert!(o.python_expires() && !o.set_redis_ttl());
        // `timeout_trigger` turns `python_expires` on, as in `RedisSessionFactory`.
        let o = options(&[
            ("redis.sessions.python_expires", "no"),
            ("redis.sessions.timeout_trigger", "600"),
        ])
        .unwrap();
        assert!(o.python_expires());
        let o = options(&[
            ("redis.sessions.python_expires", "no"),
            ("redis.sessions.timeout_trigger", "None"),
        ])
        .unwrap();
        assert!(!o.python_expires());
        // Sessions that would never expire are refused.
        for never in [
            &[("redis.sessions.timeout", "0")][..],
            &[("redis.sessions.timeout", "None")],
            &[
                ("redis.sessions.python_expires", "false"),
                ("redis.sessions.set_redis_ttl", "false"),
            ],
        ] {
            assert_eq!(
                options(never).unwrap_err(),
                ConfigError::NoExpiry,
                "{never:?}"
            );
        }
        assert_eq!(
            options(&[("redis.sessions.timeout", "soon")]).unwrap_err(),
            ConfigError::InvalidNumber
        );
        assert_eq!(
            options(&[("redis.sessions.timeout", "-5")]).unwrap_err(),
            ConfigError::NegativeDuration
        );
        assert_eq!(
            options(&[("redis.sessions.set_redis_ttl", "si")]).unwrap_err(),
            ConfigError::InvalidBool
        );
    }

    #[test]
    fn inline_hashes_are_part_of_the_value_as_in_configparser() {
        // ConfigParser as PasteDeploy uses it (`inline_comment_prefixes=None`), checked
        // with Python 3: only whole lines starting with `#` or `;` are comments.
        let s = PyramidSettings::parse_ini(
            "[main]\nsession.secret = abc #def\nsemi = a ; b\nhash = #x\nk = v\n  # indented comment\n  more # tail\n",
        )
        .unwrap();
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
        )
        .unwrap();
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
        )
        .unwrap();
        assert_eq!(s.get("session.secret"), Some("abc"));
        assert_eq!(s.get("port"), None);
        assert_eq!(s.backend(), Some(Backend::Cookie));
    }

    fn ini_get(ini: &Ini, section: &str, option: &str) -> Option<String> {
        ini.get(section, option).unwrap()
    }

    #[test]
    fn ini_interpolation_as_configparser() {
        let ini = Ini::parse(
            "[DEFAULT]\nroot = /srv\nName = app\n[a]\npath = %(root)s/%(NAME)s/x\n\
             pct = 100%%\nroot = /opt\nchain = %(path)s!\n[b]\nv = %(root)s\n",
        )
        .unwrap();
        // Same section first, then [DEFAULT]; names are case-insensitive.
        assert_eq!(ini_get(&ini, "a", "path").as_deref(), Some("/opt/app/x"));
        assert_eq!(ini_get(&ini, "a", "PATH").as_deref(), Some("/opt/app/x"));
        assert_eq!(ini_get(&ini, "a", "pct").as_deref(), Some("100%"));
        assert_eq!(ini_get(&ini, "a", "chain").as_deref(), Some("/opt/app/x!"));
        assert_eq!(ini_get(&ini, "b", "v").as_deref(), Some("/srv"));
        assert_eq!(ini_get(&ini, "b", "name").as_deref(), Some("app"));
        assert_eq!(ini_get(&ini, "b", "nope"), None);
        assert_eq!(ini_get(&ini, "c", "root"), None);
        assert_eq!(ini.sections().collect::<Vec<_>>(), ["a", "b"]);
        let items = ini.items("b").unwrap().unwrap();
        assert_eq!(
            items,
            [
                ("root".to_string(), "/srv".to_string()),
                ("name".to_string(), "app".to_string()),
                ("v".to_string(), "/srv".to_string()),
            ]
        );
    }

    #[test]
    fn ini_interpolation_errors_are_typed() {
        let ini = Ini::parse(
            "[s]\nmissing = %(nope)s\nbad = 5%\nbad2 = %(x)d\nbad3 = %()s\nloop = %(loop)s\n\
             a = %(b)s\nb = %(a)s\nok = %%(nope)s\n",
        )
        .unwrap();
        assert_eq!(
            ini.get("s", "missing"),
            Err(IniError::InterpolationMissingOption {
                section: "s".into(),
                option: "missing".into(),
                reference: "nope".into()
            })
        );
        for bad in ["bad", "bad2", "bad3"] {
            assert_eq!(
                ini.get("s", bad),
                Err(IniError::InterpolationSyntax {
                    section: "s".into(),
                    option: bad.into()
                }),
                "{bad}"
            );
        }
        for looped in ["loop", "a"] {
            let err = ini.get("s", looped).unwrap_err();
            assert_eq!(
                err,
                IniError::InterpolationDepth {
                    section: "s".into(),
                    option: looped.into()
                }
            );
            assert!(err.to_string().contains("deeper than 10"), "{err}");
        }
        assert_eq!(ini_get(&ini, "s", "ok").as_deref(), Some("%(nope)s"));
        // Exactly MAX_INTERPOLATION_DEPTH levels work.
        let mut text = String::from("[s]\nv0 = end\n");
        for i in 1..=11 {
            text.push_str(&alloc::format!("v{i} = %(v{})s%%\n", i - 1));
        }
        let ini = Ini::parse(&text).unwrap();
        assert_eq!(ini_get(&ini, "s", "v9").as_deref(), Some("end%%%%%%%%%"));
        // (checked with Python 3.11: v10 reads, v11 is an InterpolationDepthError)
        assert_eq!(ini_get(&ini, "s", "v10").as_deref(), Some("end%%%%%%%%%%"));
        assert!(matches!(
            ini.get("s", "v11"),
            Err(IniError::InterpolationDepth { .. })
        ));
        // Exponential growth is cut off.
        let mut text = String::from("[s]\nl0 = xxxxxxxxxxxxxxxx%%\n");
        for i in 1..=9 {
            let r = alloc::format!("%(l{})s", i - 1);
            text.push_str(&alloc::format!("l{i} = {}\n", r.repeat(8)));
        }
        let ini = Ini::parse(&text).unwrap();
        assert!(matches!(
            ini.get("s", "l9"),
            Err(IniError::InterpolationTooLong { .. })
        ));
    }

    #[test]
    fn ini_syntax_as_configparser() {
        let ini = Ini::parse(
            "; top comment\n[Main]\nKey: a = b\n  # comment inside\n  more\n\n  after blank\n\n\
             Other = x # not a comment ; nor this\nempty =\n  [not a section]\n[ spaced ]\nk=v\r\n",
        )
        .unwrap();
        assert_eq!(ini.sections().collect::<Vec<_>>(), ["Main", " spaced "]);
        assert_eq!(
            ini_get(&ini, "Main", "key").as_deref(),
            Some("a = b\nmore\n\nafter blank")
        );
        assert_eq!(
            ini_get(&ini, "Main", "other").as_deref(),
            Some("x # not a comment ; nor this")
        );
        assert_eq!(
            ini_get(&ini, "Main", "empty").as_deref(),
            Some("\n[not a section]")
        );
        assert_eq!(ini_get(&ini, " spaced ", "k").as_deref(), Some("v"));
        assert_eq!(
            Ini::parse("k = v\n[s]\n"),
            Err(IniError::MissingSectionHeader { line: 1 })
        );
        assert_eq!(
            Ini::parse("[s]\nk = v\nnovalue\n= x\n"),
            Err(IniError::Parsing { line: 3 })
        );
        assert_eq!(
            Ini::parse("[s]\n[t]\n[s]\n"),
            Err(IniError::DuplicateSection {
                section: "s".into(),
                line: 3
            })
        );
        assert_eq!(
            Ini::parse("[s]\nKey = 1\nkey = 2\n"),
            Err(IniError::DuplicateOption {
                section: "s".into(),
                option: "key".into(),
                line: 3
            })
        );
        // PasteDeploy keeps the case, so these are two options.
        let paste = Ini::paste_deploy("[s]\nKey = 1\nkey = 2\n", None, None).unwrap();
        assert_eq!(paste.get("s", "Key").unwrap().as_deref(), Some("1"));
        assert_eq!(paste.get("s", "key").unwrap().as_deref(), Some("2"));
    }

    #[test]
    fn paste_deploy_app_settings() {
        let text = "[DEFAULT]\ndebug = true\nshared = %(here)s/data\n\
                    [app:main]\nuse = egg:myapp\ndebug = false\nCubicWeb.Path = %(shared)s/cw\n\
                    file = %(__file__)s\nset extra = 1\nget copied = extra\n\
                    session.secret = s3cr3t%%\n[server:main]\nport = 8080\n";
        let s = PyramidSettings::parse_ini_at(text, "/srv/app", "/srv/app/prod.ini").unwrap();
        assert_eq!(s.get("CubicWeb.Path"), Some("/srv/app/data/cw"));
        assert_eq!(s.get("cubicweb.path"), None);
        assert_eq!(s.get("file"), Some("/srv/app/prod.ini"));
        assert_eq!(s.get("session.secret"), Some("s3cr3t%"));
        assert_eq!(s.get("copied"), Some("1"));
        assert_eq!(s.get("use"), Some("egg:myapp"));
        // `[DEFAULT]` names are globals, not settings (even when the section overrides).
        assert_eq!(s.get("debug"), None);
        assert_eq!(s.get("shared"), None);
        assert_eq!(s.get("port"), None);
        // Without `here`, `%(here)s` is a typed error.
        assert!(matches!(
            PyramidSettings::parse_ini(text),
            Err(IniError::InterpolationMissingOption { reference, .. }) if reference == "here"
        ));
        // A global overridden in the section is skipped before it is interpolated.
        assert_eq!(
            PyramidSettings::parse_ini("[DEFAULT]\nd = 1\n[app:main]\nd = %(nope)s\nk = v\n")
                .unwrap()
                .get("k"),
            Some("v")
        );
        assert_eq!(
            PyramidSettings::parse_ini("[app:main]\nget x = nope\n"),
            Err(IniError::MissingGlobal {
                name: "nope".into()
            })
        );
        assert_eq!(
            PyramidSettings::parse_ini("[app:other]\nk = v\n").unwrap(),
            PyramidSettings::default()
        );
    }

    #[test]
    fn backend_from_includes_as_in_the_spec() {
        let backend =
            |pairs: &[(&str, &str)]| PyramidSettings::from_pairs(pairs.iter().copied()).backend();
        // CubicWeb 3.x: `cubicweb.defaults` true by default → CWSessionFactory.
        assert_eq!(
            backend(&[("cubicweb.session.secret", "s")]),
            Some(Backend::CubicWeb)
        );
        assert_eq!(
            backend(&[
                ("cubicweb.session.secret", "s"),
                ("cubicweb.defaults", "YES")
            ]),
            Some(Backend::CubicWeb)
        );
        // `cubicweb.defaults = no # comment` is false (asbool), so no factory.
        assert_eq!(
            backend(&[
                ("cubicweb.session.secret", "s"),
                ("cubicweb.defaults", "no # we do not want it")
            ]),
            None
        );
        assert_eq!(
            backend(&[
                ("cubicweb.session.secret", "s"),
                ("cubicweb.defaults", "maybe")
            ]),
            None
        );
        // CubicWeb 4/5: `cubicweb.includes` decides.
        assert_eq!(
            backend(&[
                ("cubicweb.session.secret", "s"),
                (
                    "cubicweb.includes",
                    "cubicweb.pyramid.auth\ncubicweb.pyramid.session"
                )
            ]),
            Some(Backend::CubicWeb)
        );
        assert_eq!(
            backend(&[
                ("cubicweb.session.secret", "s"),
                (
                    "cubicweb.includes",
                    "\n  cubicweb.pyramid.auth\n  cubicweb.pyramid.default_session"
                )
            ]),
            Some(Backend::CubicWebCookie)
        );
        // 4.0/4.1 template: auth only, no session factory.
        let auth_only = PyramidSettings::from_pairs([
            ("cubicweb.session.secret", "s"),
            ("cubicweb.includes", "cubicweb.pyramid.auth"),
        ]);
        assert_eq!(auth_only.backend(), None);
        assert_eq!(
            auth_only.builder().unwrap_err(),
            ConfigError::NoSessionFactory
        );
        // Redis includes, with or without CubicWeb, win over `cubicweb.defaults`.
        for (include, expected) in [
            ("pyramid_session_redis", Backend::Redis),
            ("pyramid_redis_sessions", Backend::RedisLegacy),
        ] {
            assert_eq!(
                backend(&[
                    ("cubicweb.session.secret", "s"),
                    ("redis.sessions.secret", "r"),
                    ("pyramid.includes", include)
                ]),
                Some(expected),
                "{include}"
            );
            assert_eq!(
                backend(&[
                    ("redis.sessions.secret", "r"),
                    ("pyramid.includes", include)
                ]),
                Some(expected),
                "{include}"
            );
        }
        // A Redis secret without the include inside CubicWeb does not select Redis.
        assert_eq!(
            backend(&[
                ("cubicweb.session.secret", "s"),
                ("redis.sessions.secret", "r")
            ]),
            Some(Backend::CubicWeb)
        );
        // Plain Pyramid dicts keep being read by their secrets.
        assert_eq!(
            backend(&[("redis.sessions.secret", "r")]),
            Some(Backend::Redis)
        );
        assert_eq!(backend(&[("session.secret", "c")]), Some(Backend::Cookie));
        assert_eq!(
            backend(&[("session.secret", "c"), ("pyramid.includes", "pyramid_tm")]),
            None
        );
        // The default_session cookie: Pyramid's defaults, signed with cubicweb.session.secret.
        let s = PyramidSettings::parse_ini(
            "[app:main]\ncubicweb.session.secret = sess\ncubicweb.includes =\n    cubicweb.pyramid.auth\n    cubicweb.pyramid.default_session\n",
        )
        .unwrap();
        assert_eq!(s.backend(), Some(Backend::CubicWebCookie));
        let c = s.builder().unwrap().build().unwrap();
        let ring = crate::signer::Keyring::new(
            crate::signer::HashAlg::Sha512,
            crate::config::PYRAMID_SALT,
            &["sess"],
        )
        .unwrap();
        assert_eq!(c.keyring().sign(b"{}"), ring.sign(b"{}"));
        assert_eq!(c.reissue_time(), Some(0));
        assert!(!c.cookie().attributes().httponly);
        assert!(asbool(" On ") && !asbool("off") && !asbool(""));
        assert_eq!(aslist(" a\n b  c\n").collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[test]
    fn a_redis_timeout_of_none_is_no_timeout() {
        for none in ["None", "0", " None "] {
            let s = PyramidSettings::from_pairs([
                ("pyramid.includes", "pyramid_session_redis"),
                ("redis.sessions.secret", "s"),
                ("redis.sessions.timeout", none),
            ]);
            assert_eq!(
                s.builder().unwrap().build().unwrap().timeout(),
                None,
                "{none}"
            );
        }
    }

    #[test]
    fn cookie_sessions_are_pickled_on_pyramid_1() {
        use crate::codec::Serializer;
        let serializer = |s: &PyramidSettings, major: Option<u8>| {
            let b = match major {
                Some(m) => s.builder_for_pyramid(m),
                None => s.builder(),
            };
            b.unwrap().build().unwrap().serializer()
        };
        let template = PyramidSettings::from_pairs([
            ("cubicweb.session.secret", "s"),
            ("cubicweb.includes", "cubicweb.pyramid.default_session"),
        ]);
        assert_eq!(template.pyramid_major(), 1);
        assert_eq!(serializer(&template, None), Serializer::Pickle);
        let db = PyramidSettings::from_pairs([
            ("cubicweb.session.secret", "s"),
            ("cubicweb.includes", "cubicweb.pyramid.session"),
        ]);
        assert_eq!(serializer(&db, None), Serializer::JsonWithPickleFallback);
        let plain = PyramidSettings::from_pairs([("session.secret", "s")]);
        assert_eq!(plain.pyramid_major(), 2);
        assert_eq!(serializer(&plain, None), Serializer::Json);
        assert_eq!(serializer(&plain, Some(1)), Serializer::Pickle);
    }
}
