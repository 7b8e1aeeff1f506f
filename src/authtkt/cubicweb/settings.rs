//! `cubicweb.auth.*` settings as `cubicweb/pyramid/auth.py` reads them (`includeme` and
//! `CWAuthTktAuthenticationPolicy.__init__`), and their validation.

use alloc::borrow::ToOwned as _;
use alloc::string::String;
use core::fmt;

use zeroize::Zeroizing;

use super::policy::{CubicWebAuth, PolicyKind};
use crate::authtkt::{AuthTktHelper, ConfigError, DomainStyle, HashAlg};
use crate::settings::{asbool, PyramidSettings};

/// The secret CubicWeb falls back on when `cubicweb.auth.authtkt.*.secret` is missing.
/// Anyone can forge tickets for it, so [`CubicWebSettings::build`] refuses it unless
/// [`CubicWebSettings::allow_default_secret`] is set.
pub const DEFAULT_SECRET: &str = "notsosecret";

/// One `CWAuthTktAuthenticationPolicy`'s parameters, as `__init__` resolves them from
/// the settings under its prefix and CubicWeb's defaults, before any validation (so
/// they can be compared with Python's). Strings are kept as written; booleans went
/// through `asbool`, integers through `int()` ([`python_int`]).
///
/// `Debug` does not show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PolicySettings {
    /// `secret` (read by `includeme`), `None` when the key is missing: CubicWeb then uses
    /// [`DEFAULT_SECRET`].
    pub secret: Option<Zeroizing<String>>,
    /// `cookie_name`: `auth_tkt` / `pauth_tkt`.
    pub cookie_name: String,
    /// `hashalg`: `sha512`.
    pub hashalg: String,
    /// `path`: Pyramid's `/` when unset.
    pub path: String,
    /// `domain`: none when unset. An empty one is as none, as in Pyramid.
    pub domain: Option<String>,
    /// `samesite`: Pyramid's `Lax` when unset (it cannot be turned off from settings).
    pub samesite: String,
    /// `secure`: true for both policies (the `pyramid.ini` template sets `no` for the
    /// session one).
    pub secure: bool,
    /// `include_ip`: false.
    pub include_ip: bool,
    /// `http_only`: true for both policies.
    pub http_only: bool,
    /// `wild_domain`: Pyramid's true.
    pub wild_domain: bool,
    /// `parent_domain`: false.
    pub parent_domain: bool,
    /// `debug` (Pyramid's logging of authentication decisions; no effect here).
    pub debug: bool,
    /// `timeout`: 1200 for the session policy, none for the persistent one.
    pub timeout: Option<i64>,
    /// `reissue_time`: 120 for the session policy, 86400 for the persistent one.
    pub reissue_time: Option<i64>,
    /// `max_age`: none for the session policy, 2592000 (30 days) for the persistent one.
    pub max_age: Option<i64>,
}

impl fmt::Debug for PolicySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicySettings")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("cookie_name", &self.cookie_name)
            .field("hashalg", &self.hashalg)
            .field("path", &self.path)
            .field("domain", &self.domain)
            .field("samesite", &self.samesite)
            .field("secure", &self.secure)
            .field("include_ip", &self.include_ip)
            .field("http_only", &self.http_only)
            .field("wild_domain", &self.wild_domain)
            .field("parent_domain", &self.parent_domain)
            .field("debug", &self.debug)
            .field("timeout", &self.timeout)
            .field("reissue_time", &self.reissue_time)
            .field("max_age", &self.max_age)
            .finish()
    }
}

impl PolicySettings {
    /// CubicWeb's defaults for `kind`, without a secret: the `defaults=` dict `includeme`
    /// passes, over Pyramid's own defaults.
    pub fn defaults(kind: PolicyKind) -> PolicySettings {
        let (cookie_name, timeout, reissue_time, max_age) = match kind {
            PolicyKind::Session => ("auth_tkt", Some(1200), Some(120), None),
            PolicyKind::Persistent => ("pauth_tkt", None, Some(86_400), Some(2_592_000)),
        };
        PolicySettings {
            secret: None,
            cookie_name: cookie_name.to_owned(),
            hashalg: "sha512".to_owned(),
            path: "/".to_owned(),
            domain: None,
            samesite: "Lax".to_owned(),
            secure: true,
            include_ip: false,
            http_only: true,
            wild_domain: true,
            parent_domain: false,
            debug: false,
            timeout,
            reissue_time,
            max_age,
        }
    }

    /// `CWAuthTktAuthenticationPolicy(secret, persistent, defaults=…,
    /// prefix="cubicweb.auth.authtkt.<kind>.", **settings)`: each key under the
    /// policy's prefix overrides the default. Fails where Python raises at startup: an
    /// integer setting `int()` refuses (`3600*24*30`, `1200.5`).
    pub fn from_settings(
        settings: &PyramidSettings,
        kind: PolicyKind,
    ) -> Result<PolicySettings, CubicWebConfigError> {
        let prefix = kind.prefix();
        let get = |name: &str| lookup(settings, prefix, name);
        let mut p = PolicySettings::defaults(kind);
        p.secret = get("secret").map(|s| Zeroizing::new(s.to_owned()));
        for (name, slot) in [
            ("cookie_name", &mut p.cookie_name),
            ("path", &mut p.path),
            ("hashalg", &mut p.hashalg),
            ("samesite", &mut p.samesite),
        ] {
            if let Some(v) = get(name) {
                v.clone_into(slot);
            }
        }
        if let Some(v) = get("domain") {
            p.domain = Some(v.to_owned());
        }
        for (name, slot) in [
            ("secure", &mut p.secure),
            ("include_ip", &mut p.include_ip),
            ("http_only", &mut p.http_only),
            ("wild_domain", &mut p.wild_domain),
            ("parent_domain", &mut p.parent_domain),
            ("debug", &mut p.debug),
        ] {
            if let Some(v) = get(name) {
                *slot = asbool(v);
            }
        }
        for (name, slot) in [
            ("timeout", &mut p.timeout),
            ("reissue_time", &mut p.reissue_time),
            ("max_age", &mut p.max_age),
        ] {
            if let Some(v) = get(name) {
                *slot = Some(
                    python_int(v).ok_or_else(|| CubicWebConfigError::InvalidInt {
                        key: alloc::format!("{prefix}{name}"),
                    })?,
                );
            }
        }
        Ok(p)
    }

    /// The helper these settings make, for `style`. See [`CubicWebSettings::build`] for
    /// what is refused.
    pub fn helper(
        &self,
        kind: PolicyKind,
        style: DomainStyle,
        allow_default_secret: bool,
        allow_legacy_hashalg: bool,
    ) -> Result<AuthTktHelper, CubicWebConfigError> {
        let secret = match &self.secret {
            Some(s) if s.as_str() != DEFAULT_SECRET => s.as_str(),
            _ if allow_default_secret => self.secret.as_deref().map_or(DEFAULT_SECRET, |s| s),
            _ => return Err(CubicWebConfigError::DefaultSecret { policy: kind }),
        };
        let alg = hash_alg(&self.hashalg, allow_legacy_hashalg)
            .ok_or(CubicWebConfigError::UnsupportedHashAlg { policy: kind })?;
        let seconds = |name: &str, v: Option<i64>| -> Result<Option<u64>, CubicWebConfigError> {
            v.map(|n| {
                u64::try_from(n).map_err(|_| CubicWebConfigError::Negative {
                    key: alloc::format!("{}{name}", kind.prefix()),
                })
            })
            .transpose()
        };
        let timeout = seconds("timeout", self.timeout)?;
        let reissue_time = seconds("reissue_time", self.reissue_time)?;
        let max_age = seconds("max_age", self.max_age)?.map(|n| n as i64);
        AuthTktHelper::builder(secret, style)
            .hashalg(alg)
            .cookie_name(&self.cookie_name)
            .secure(self.secure)
            .include_ip(self.include_ip)
            .timeout(timeout)
            .reissue_time(reissue_time)
            .max_age(max_age)
            .http_only(self.http_only)
            .path(Some(&self.path))
            .wild_domain(self.wild_domain)
            .parent_domain(self.parent_domain)
            .domain(self.domain.as_deref().filter(|d| !d.is_empty()))
            .samesite_spelled(&self.samesite)
            .build()
            .map_err(|error| CubicWebConfigError::Helper {
                policy: kind,
                error,
            })
    }
}

fn lookup<'s>(settings: &'s PyramidSettings, prefix: &str, name: &str) -> Option<&'s str> {
    let mut key = String::with_capacity(prefix.len() + name.len());
    key.push_str(prefix);
    key.push_str(name);
    settings.get(&key)
}

#[cfg(feature = "authtkt-legacy")]
fn hash_alg(name: &str, allow_legacy: bool) -> Option<HashAlg> {
    if allow_legacy {
        HashAlg::from_name_allowing_legacy(name)
    } else {
        HashAlg::from_name(name)
    }
}

#[cfg(not(feature = "authtkt-legacy"))]
fn hash_alg(name: &str, _allow_legacy: bool) -> Option<HashAlg> {
    HashAlg::from_name(name)
}

/// The whole `cubicweb.auth.*` configuration `cubicweb.pyramid.auth.includeme` reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CubicWebSettings {
    /// `cubicweb.auth.update_login_time` (default true): a login asks the caller to set
    /// the user's `last_login_time` ([`Login::update_login_time`](super::Login)).
    pub update_login_time: bool,
    /// `cubicweb.auth.authtkt` (default true): the two AuthTkt policies. Without them
    /// nothing logs a user in, and [`CubicWebSettings::build`] refuses.
    pub authtkt: bool,
    /// `cubicweb.auth.groups_principals` (default true): a userid counts only when the
    /// caller's groups lookup (CubicWeb's `get_principals`) knows it.
    pub groups_principals: bool,
    /// The session policy (`cubicweb.auth.authtkt.session.*`, cookie `auth_tkt`).
    pub session: PolicySettings,
    /// The persistent policy (`cubicweb.auth.authtkt.persistent.*`, cookie `pauth_tkt`).
    pub persistent: PolicySettings,
    /// Accept a missing secret (CubicWeb's public fallback [`DEFAULT_SECRET`]) or that
    /// very value. Not a setting; false unless the caller opts in (a deliberate
    /// deviation: CubicWeb 5 uses it silently).
    pub allow_default_secret: bool,
    /// Accept `hashalg = md5` or `sha1` (with the cargo feature `authtkt-legacy`; without
    /// it they are always refused). Not a setting; false unless the caller opts in.
    pub allow_legacy_hashalg: bool,
}

impl Default for CubicWebSettings {
    /// CubicWeb's defaults, without secrets.
    fn default() -> CubicWebSettings {
        CubicWebSettings {
            update_login_time: true,
            authtkt: true,
            groups_principals: true,
            session: PolicySettings::defaults(PolicyKind::Session),
            persistent: PolicySettings::defaults(PolicyKind::Persistent),
            allow_default_secret: false,
            allow_legacy_hashalg: false,
        }
    }
}

impl CubicWebSettings {
    /// Reads the settings as `includeme` does: the three switches through `asbool`, and,
    /// when `cubicweb.auth.authtkt` is on, both policies
    /// ([`PolicySettings::from_settings`]). Fails where Python raises at startup.
    pub fn from_settings(
        settings: &PyramidSettings,
    ) -> Result<CubicWebSettings, CubicWebConfigError> {
        let switch = |key: &str| settings.get(key).is_none_or(asbool);
        let mut cw = CubicWebSettings {
            update_login_time: switch("cubicweb.auth.update_login_time"),
            authtkt: switch("cubicweb.auth.authtkt"),
            groups_principals: switch("cubicweb.auth.groups_principals"),
            ..CubicWebSettings::default()
        };
        if cw.authtkt {
            cw.session = PolicySettings::from_settings(settings, PolicyKind::Session)?;
            cw.persistent = PolicySettings::from_settings(settings, PolicyKind::Persistent)?;
        }
        Ok(cw)
    }

    /// One policy's settings.
    pub fn policy(&self, kind: PolicyKind) -> &PolicySettings {
        match kind {
            PolicyKind::Session => &self.session,
            PolicyKind::Persistent => &self.persistent,
        }
    }

    /// The policy composition, its cookies as the Pyramid of `style` writes them
    /// (CubicWeb runs Pyramid 1: [`DomainStyle::Pyramid1`]).
    ///
    /// Refused, each a deviation from CubicWeb (which accepts them and fails later, or
    /// never): a missing secret or [`DEFAULT_SECRET`] unless
    /// [`allow_default_secret`](Self::allow_default_secret); a `hashalg` other than
    /// sha224/256/384/512 (Python accepts any name at startup and raises at the first
    /// request that carries the cookie; md5/sha1 see
    /// [`allow_legacy_hashalg`](Self::allow_legacy_hashalg)); a negative `timeout`,
    /// `reissue_time` or `max_age`; what [`AuthTktHelper`]'s builder refuses (an empty
    /// secret, cookie name or path, a `samesite` other than strict/lax/none or `none`
    /// without `secure`, where WebOb raises at the first login); `cubicweb.auth.authtkt`
    /// off.
    pub fn build(&self, style: DomainStyle) -> Result<CubicWebAuth, CubicWebConfigError> {
        if !self.authtkt {
            return Err(CubicWebConfigError::AuthTktDisabled);
        }
        let helper = |kind: PolicyKind| {
            self.policy(kind).helper(
                kind,
                style,
                self.allow_default_secret,
                self.allow_legacy_hashalg,
            )
        };
        Ok(CubicWebAuth::from_parts(
            helper(PolicyKind::Session)?,
            helper(PolicyKind::Persistent)?,
            self.update_login_time,
            self.groups_principals,
        ))
    }
}

/// Python's `int(text)` for the integers this crate reads: surrounding whitespace, an
/// optional sign, ASCII digits with single `_` between them (`" 1200 "`, `"+5"`,
/// `"1_200"`, `"007"`). `None` where Python raises (`"3600*24*30"`, `"1200.5"`, `""`)
/// and, unlike Python, for other Unicode digits and values outside `i64`.
pub fn python_int(text: &str) -> Option<i64> {
    let s = text.trim_matches(char::is_whitespace);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let bytes = digits.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_digit) || !bytes[bytes.len() - 1].is_ascii_digit() {
        return None;
    }
    let mut value: i64 = 0;
    let mut previous_underscore = false;
    for &b in bytes {
        if b == b'_' {
            if previous_underscore {
                return None;
            }
            previous_underscore = true;
            continue;
        }
        previous_underscore = false;
        if !b.is_ascii_digit() {
            return None;
        }
        let d = i64::from(b - b'0');
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(d)?
        } else {
            value.checked_add(d)?
        };
    }
    Some(value)
}

/// A CubicWeb authentication configuration that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CubicWebConfigError {
    /// An integer setting Python's `int()` refuses (CubicWeb fails at startup too), or
    /// one this crate does not read (other Unicode digits, beyond `i64`).
    InvalidInt {
        /// The full setting name.
        key: String,
    },
    /// A negative `timeout`, `reissue_time` or `max_age` (Python accepts them: a
    /// negative timeout expires every ticket, a negative reissue time reissues on every
    /// request).
    Negative {
        /// The full setting name.
        key: String,
    },
    /// The policy's secret is missing (CubicWeb would use the public
    /// [`DEFAULT_SECRET`]) or is that value, and
    /// [`CubicWebSettings::allow_default_secret`] is off.
    DefaultSecret {
        /// Which policy.
        policy: PolicyKind,
    },
    /// `hashalg` is not sha224, sha256, sha384 or sha512 (nor an allowed legacy one).
    UnsupportedHashAlg {
        /// Which policy.
        policy: PolicyKind,
    },
    /// `cubicweb.auth.authtkt` is off: no policy would ever log a user in.
    AuthTktDisabled,
    /// The AuthTkt helper refuses the policy's cookie settings.
    Helper {
        /// Which policy.
        policy: PolicyKind,
        /// What the helper refused.
        error: ConfigError,
    },
}

impl fmt::Display for CubicWebConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CubicWebConfigError::InvalidInt { key } => write!(f, "{key} is not an integer"),
            CubicWebConfigError::Negative { key } => write!(f, "{key} is negative"),
            CubicWebConfigError::DefaultSecret { policy } => write!(
                f,
                "{}secret is missing or CubicWeb's public default",
                policy.prefix()
            ),
            CubicWebConfigError::UnsupportedHashAlg { policy } => {
                write!(f, "{}hashalg is not a supported algorithm", policy.prefix())
            }
            CubicWebConfigError::AuthTktDisabled => {
                f.write_str("cubicweb.auth.authtkt is off: no login cookie policy")
            }
            CubicWebConfigError::Helper { policy, error } => {
                write!(f, "{}*: {error}", policy.prefix())
            }
        }
    }
}

impl core::error::Error for CubicWebConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_is_int() {
        for (text, want) in [
            (" 1200 ", Some(1200)),
            ("+5", Some(5)),
            ("-5", Some(-5)),
            ("1_200", Some(1200)),
            ("007", Some(7)),
            ("\t42\n", Some(42)),
            ("0", Some(0)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("3600*24*30", None),
            ("1200.5", None),
            ("", None),
            (" ", None),
            ("+", None),
            ("_1", None),
            ("1_", None),
            ("1__2", None),
            ("0x10", None),
            ("None", None),
            ("\u{661}\u{662}", None),
        ] {
            assert_eq!(python_int(text), want, "{text:?}");
        }
    }

    #[test]
    fn secrets_are_not_shown() {
        let mut p = PolicySettings::defaults(PolicyKind::Session);
        p.secret = Some(Zeroizing::new("hunter2".to_owned()));
        let shown = alloc::format!("{p:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("auth_tkt"));
    }
}
