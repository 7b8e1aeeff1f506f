//! The ticket value: layout, userid encodings, rendering and parsing
//! (`AuthTicket.cookie_value` and `parse_ticket`).
//!
//! ```text
//! digest_hex ‖ "%08x" % int(time) ‖ quote(userid) ‖ "!" ‖ [tokens joined by "," ‖ "!"] ‖ user_data
//! ```

use alloc::borrow::ToOwned as _;
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use super::b64;
use super::digest::{self, DigestInput, HashAlg, HexDigest};
use super::error::{RemoteAddrError, TicketError, UseridError};

/// The longest ticket accepted, in characters, once surrounding quotes are stripped:
/// WebOb's `CookieProfile` refuses to set a longer value, so no Pyramid issues one.
pub const MAX_TICKET_LEN: usize = 4093;

/// The prefix of the user data datum that names the userid's encoding.
const USERID_TYPE: &str = "userid_type:";

/// A userid as `remember` takes it and `identify` gives it back: the three types
/// Pyramid's `userid_type` user data can name.
///
/// Pyramid also takes other Python values (`True`, `1.5`, `None`): it warns and stores
/// `str(value)` as text, which reads back as text; pass that text as
/// [`UserId::Text`] to get the same ticket.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum UserId {
    /// A Python `int` (CubicWeb passes the user's eid): written in decimal,
    /// `userid_type:int`. Python ints are unbounded; this crate handles `i128`.
    Int(i128),
    /// A Python `str`: written as the padded standard base64 of its UTF-8, percent-quoted
    /// (`=` as `%3D`, `+` as `%2B`), `userid_type:b64unicode`.
    Text(String),
    /// Python `bytes`: written as padded standard base64, percent-quoted,
    /// `userid_type:b64str`.
    Bytes(Vec<u8>),
}

impl UserId {
    /// The userid field before quoting, and the `userid_type` name `remember` writes.
    pub fn encode(&self) -> (String, &'static str) {
        match self {
            UserId::Int(n) => (n.to_string(), "int"),
            UserId::Text(s) => (b64::encode(s.as_bytes()), "b64unicode"),
            UserId::Bytes(b) => (b64::encode(b), "b64str"),
        }
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserId::Int(n) => write!(f, "Int({n})"),
            UserId::Text(s) => write!(f, "Text({s:?})"),
            UserId::Bytes(b) => {
                f.write_str("Bytes(")?;
                for byte in b {
                    write!(f, "{byte:02x}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl From<i128> for UserId {
    fn from(n: i128) -> UserId {
        UserId::Int(n)
    }
}

impl From<i64> for UserId {
    fn from(n: i64) -> UserId {
        UserId::Int(n.into())
    }
}

impl From<&str> for UserId {
    fn from(s: &str) -> UserId {
        UserId::Text(s.to_owned())
    }
}

impl From<String> for UserId {
    fn from(s: String) -> UserId {
        UserId::Text(s)
    }
}

/// A ticket whose digest verified: its fields exactly as they were signed.
///
/// The userid is kept as signed (the percent-decoded field); [`Ticket::userid`] applies
/// the `userid_type:` user data, as `identify` does.
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket {
    timestamp: i64,
    userid_field: String,
    tokens: String,
    user_data: String,
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("timestamp", &self.timestamp)
            .field("userid_field", &self.userid_field)
            .field("tokens", &self.tokens)
            .field("user_data", &self.user_data)
            .finish()
    }
}

impl Ticket {
    /// A ticket from its fields: `timestamp` (`int(time)`), the userid field as signed
    /// (unquoted), the tokens joined by `,`, and the user data.
    pub fn from_fields(
        timestamp: i64,
        userid_field: &str,
        tokens: &str,
        user_data: &str,
    ) -> Ticket {
        Ticket {
            timestamp,
            userid_field: userid_field.to_owned(),
            tokens: tokens.to_owned(),
            user_data: user_data.to_owned(),
        }
    }

    /// The ticket `remember` makes for `userid`: its encoded field, the tokens joined by
    /// `,`, `userid_type:<type>` as user data. Tokens are not checked here.
    pub fn for_userid(timestamp: i64, userid: &UserId, tokens: &[&str]) -> Ticket {
        let (userid_field, kind) = userid.encode();
        let mut user_data = String::with_capacity(USERID_TYPE.len() + kind.len());
        user_data.push_str(USERID_TYPE);
        user_data.push_str(kind);
        Ticket {
            timestamp,
            userid_field,
            tokens: tokens.join(","),
            user_data,
        }
    }

    /// The timestamp (`int(time)` when it was issued).
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The userid field as signed: the percent-decoded text, before any `userid_type`
    /// decoding.
    pub fn userid_field(&self) -> &str {
        &self.userid_field
    }

    /// The tokens field as signed (the tokens joined by `,`; empty without tokens).
    pub fn tokens_field(&self) -> &str {
        &self.tokens
    }

    /// The tokens as Pyramid's `parse_ticket` gives them: the field split on `,`, so a
    /// ticket without tokens gives `[""]`.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.tokens.split(',')
    }

    /// The user data (`userid_type:int`, ...).
    pub fn user_data(&self) -> &str {
        &self.user_data
    }

    /// The userid as `identify` decodes it: starting from the field as text, every
    /// `userid_type:<type>` datum of the `|`-separated user data is applied in order
    /// (`int`, `b64unicode`, `b64str`, the legacy `unicode`); unknown types and other
    /// data are ignored, so a ticket without one gives the field as text.
    pub fn userid(&self) -> Result<UserId, UseridError> {
        let mut value = UserId::Text(self.userid_field.clone());
        for datum in self.user_data.split('|') {
            if let Some(kind) = datum.strip_prefix(USERID_TYPE) {
                value = decode_step(value, kind)?;
            }
        }
        Ok(value)
    }

    /// The digest of this ticket for `ip` (`"0.0.0.0"` unless `include_ip`).
    pub fn digest(
        &self,
        alg: HashAlg,
        secret: &[u8],
        ip: &str,
    ) -> Result<HexDigest, RemoteAddrError> {
        digest::calculate_digest(alg, secret, &self.digest_input(ip))
    }

    fn digest_input<'a>(&'a self, ip: &'a str) -> DigestInput<'a> {
        DigestInput {
            ip,
            timestamp: self.timestamp,
            userid: self.userid_field.as_bytes(),
            tokens: self.tokens.as_bytes(),
            user_data: self.user_data.as_bytes(),
        }
    }

    /// The cookie value, unquoted (WebOb quotes it in `Set-Cookie` when it holds a `,`):
    /// `AuthTicket.cookie_value()`. One difference: a ticket without tokens whose user
    /// data holds a `!` keeps an empty tokens field (`…!!a!b`), so that it parses back
    /// to the same ticket (Pyramid's layout would read `a` as a token); `remember` never
    /// writes such user data. User data ending in `"` does not come back (parsing strips
    /// quotes from both ends, in Pyramid too); no verified ticket has such user data.
    pub fn render(&self, alg: HashAlg, secret: &[u8], ip: &str) -> Result<String, RemoteAddrError> {
        let digest = self.digest(alg, secret, ip)?;
        let mut out = String::with_capacity(
            digest.as_str().len()
                + 9
                + 3 * self.userid_field.len()
                + self.tokens.len()
                + self.user_data.len()
                + 2,
        );
        out.push_str(digest.as_str());
        self.push_after_digest(&mut out);
        Ok(out)
    }

    /// Everything after the digest.
    pub(super) fn push_after_digest(&self, out: &mut String) {
        let _ = write!(out, "{:08x}", self.timestamp);
        quote_into(self.userid_field.as_bytes(), out);
        out.push('!');
        if !self.tokens.is_empty() || self.user_data.contains('!') {
            out.push_str(&self.tokens);
            out.push('!');
        }
        out.push_str(&self.user_data);
    }

    /// Parses and verifies a ticket value: `parse_ticket(secret, value, ip, hashalg)`.
    ///
    /// Accepted, as from genuine issuers: any number of `"` around the value (stripped),
    /// the digest in lowercase hex (Pyramid compares the hex text), the timestamp as 8 hex
    /// digits in either case, a userid field percent-encoded or not (`%3D`, `%3d`, `=`),
    /// a value with or without a tokens field. Refused, with the reason: see
    /// [`TicketError`]. The digest is compared in constant time and checked before
    /// anything else about the fields; the userid is not decoded here (see
    /// [`Ticket::userid`]).
    pub fn verify(
        alg: HashAlg,
        secret: &[u8],
        value: &str,
        ip: &str,
    ) -> Result<Ticket, TicketError> {
        let value = value.trim_matches('"');
        if value.len() > MAX_TICKET_LEN {
            return Err(TicketError::TooLong);
        }
        let hex_len = alg.hex_len();
        let (digest_field, rest) = split(value, hex_len).ok_or(TicketError::Truncated)?;
        let (ts_field, rest) = split(rest, 8).ok_or(TicketError::Truncated)?;
        let timestamp = parse_hex_u32(ts_field).ok_or(TicketError::BadTimestamp)?;
        let (userid_quoted, data) = rest.split_once('!').ok_or(TicketError::MissingSeparator)?;
        let (tokens, user_data) = data.split_once('!').unwrap_or(("", data));
        let userid_field = unquote(userid_quoted).ok_or(TicketError::UseridNotUtf8)?;
        let prefix = digest::ip_timestamp(ip, timestamp.into())?;
        let expected = digest::digest_with_prefix(
            alg,
            secret,
            prefix.as_bytes(),
            &DigestInput {
                ip,
                timestamp: timestamp.into(),
                userid: userid_field.as_bytes(),
                tokens: tokens.as_bytes(),
                user_data: user_data.as_bytes(),
            },
        );
        if !expected.matches(digest_field.as_bytes()) {
            return Err(TicketError::BadDigest);
        }
        Ok(Ticket {
            timestamp: timestamp.into(),
            userid_field,
            tokens: tokens.to_owned(),
            user_data: user_data.to_owned(),
        })
    }
}

/// `s` split after `n` bytes, when it has them and `n` is a character boundary.
fn split(s: &str, n: usize) -> Option<(&str, &str)> {
    s.is_char_boundary(n)
        .then(|| s.split_at(n))
        .filter(|(head, _)| head.len() == n)
}

/// Exactly 8 hex digits, either case.
fn parse_hex_u32(field: &str) -> Option<u32> {
    if field.len() != 8 || !field.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(field, 16).ok()
}

/// `urllib.parse.quote(field, safe='/')`: every byte but `A-Za-z0-9_.-~/` as `%XX`
/// (uppercase hex).
pub(super) fn quote_into(field: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in field {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

/// `urllib.parse.unquote`: `%` and two hex digits (either case) as that byte, anything
/// else as it is; `None` when the result is not UTF-8 (where Python would substitute
/// U+FFFD). Borrow-free fast path when there is no `%`.
fn unquote(field: &str) -> Option<String> {
    if !field.contains('%') {
        return Some(field.to_owned());
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&c| hex_value(c)),
                bytes.get(i + 2).and_then(|&c| hex_value(c)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex_value(c: u8) -> Option<u8> {
    char::from(c).to_digit(16).map(|d| d as u8)
}

/// One `userid_type:` decoder applied to the value so far, as Pyramid's
/// `userid_type_decoders` would (see [`UseridError`] for where this is stricter).
fn decode_step(value: UserId, kind: &str) -> Result<UserId, UseridError> {
    Ok(match (kind, value) {
        ("int", UserId::Int(n)) => UserId::Int(n),
        ("int", UserId::Text(s)) => UserId::Int(parse_int(&s)?),
        ("int", UserId::Bytes(b)) => UserId::Int(parse_int(
            core::str::from_utf8(&b).map_err(|_| UseridError::NotAnInteger)?,
        )?),
        ("unicode", UserId::Bytes(b)) => {
            UserId::Text(String::from_utf8(b).map_err(|_| UseridError::NotUtf8)?)
        }
        ("unicode", _) => return Err(UseridError::WrongType),
        ("b64unicode", UserId::Text(s)) => UserId::Text(b64_utf8(s.as_bytes())?),
        ("b64unicode", UserId::Bytes(b)) => UserId::Text(b64_utf8(&b)?),
        ("b64str", UserId::Text(s)) => UserId::Bytes(b64_bytes(s.as_bytes())?),
        ("b64str", UserId::Bytes(b)) => UserId::Bytes(b64_bytes(&b)?),
        ("b64unicode" | "b64str", UserId::Int(_)) => return Err(UseridError::WrongType),
        (_, value) => value,
    })
}

fn b64_bytes(text: &[u8]) -> Result<Vec<u8>, UseridError> {
    b64::decode(text).ok_or(UseridError::BadBase64)
}

fn b64_utf8(text: &[u8]) -> Result<String, UseridError> {
    String::from_utf8(b64_bytes(text)?).map_err(|_| UseridError::NotUtf8)
}

/// A canonical decimal integer, as `str(n)` writes it: `0`, or an optional `-` and
/// digits without a leading zero.
fn parse_int(s: &str) -> Result<i128, UseridError> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0";
    if !canonical {
        return Err(UseridError::NotAnInteger);
    }
    s.parse().map_err(|_| UseridError::IntegerTooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const SECRET: &[u8] = b"seekrit";

    #[test]
    fn userid_encodings() {
        assert_eq!(UserId::Int(-5).encode(), ("-5".into(), "int"));
        assert_eq!(
            UserId::from("alice").encode(),
            ("YWxpY2U=".into(), "b64unicode")
        );
        assert_eq!(
            UserId::Bytes(b"raw\xff\x00".to_vec()).encode(),
            ("cmF3/wA=".into(), "b64str")
        );
        let mut out = String::new();
        quote_into(b"fn5+Pz8/YWxpY2U=~._-", &mut out);
        assert_eq!(out, "fn5%2BPz8/YWxpY2U%3D~._-");
    }

    #[test]
    fn unquote_is_lenient_like_python() {
        assert_eq!(unquote("YWxpY2U%3D").as_deref(), Some("YWxpY2U="));
        assert_eq!(unquote("YWxpY2U%3d").as_deref(), Some("YWxpY2U="));
        assert_eq!(unquote("a%zz%4").as_deref(), Some("a%zz%4"));
        assert_eq!(unquote("%C3%A9").as_deref(), Some("\u{e9}"));
        assert_eq!(unquote("%C3"), None);
        assert_eq!(unquote("\u{e9}").as_deref(), Some("\u{e9}"));
    }

    #[test]
    fn canonical_integers_only() {
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("-5"), Ok(-5));
        assert_eq!(parse_int("1180591620717411303424"), Ok(1 << 70));
        for bad in [
            "",
            "-",
            "-0",
            "007",
            "+5",
            " 42 ",
            "4_2",
            "\u{664}\u{662}",
            "abc",
        ] {
            assert_eq!(parse_int(bad), Err(UseridError::NotAnInteger), "{bad:?}");
        }
        assert_eq!(
            parse_int("999999999999999999999999999999999999999999"),
            Err(UseridError::IntegerTooLarge)
        );
    }

    #[test]
    fn userid_type_chain() {
        let t = |field: &str, data: &str| Ticket::from_fields(0, field, "", data).userid();
        assert_eq!(t("1234", "userid_type:int"), Ok(UserId::Int(1234)));
        assert_eq!(t("1234", ""), Ok(UserId::from("1234")));
        assert_eq!(t("xyz", "userid_type:weird"), Ok(UserId::from("xyz")));
        assert_eq!(
            t("NDI=", "userid_type:b64unicode|userid_type:int"),
            Ok(UserId::Int(42))
        );
        assert_eq!(
            t("NDI=", "userid_type:b64str|userid_type:int"),
            Ok(UserId::Int(42))
        );
        assert_eq!(
            t("w6k=", "userid_type:b64str|userid_type:unicode"),
            Ok(UserId::from("\u{e9}"))
        );
        assert_eq!(t("1234", "foo|userid_type:int|bar"), Ok(UserId::Int(1234)));
        assert_eq!(t("bob", "userid_type:unicode"), Err(UseridError::WrongType));
        assert_eq!(
            t("1", "userid_type:int|userid_type:b64str"),
            Err(UseridError::WrongType)
        );
        assert_eq!(
            t("abc", "userid_type:b64unicode"),
            Err(UseridError::BadBase64)
        );
        assert_eq!(
            t("/w==", "userid_type:b64unicode"),
            Err(UseridError::NotUtf8)
        );
        assert_eq!(
            t("/w==", "userid_type:b64str"),
            Ok(UserId::Bytes(vec![0xff]))
        );
        assert_eq!(t("abc", "userid_type:int"), Err(UseridError::NotAnInteger));
    }

    #[test]
    fn render_then_verify() {
        let alg = HashAlg::SHA512;
        let t = Ticket::for_userid(1_700_000_000, &UserId::from("alice"), &["a", "b"]);
        let value = t.render(alg, SECRET, "0.0.0.0").unwrap();
        assert!(value[128..].starts_with("6553f100YWxpY2U%3D!a,b!userid_type:b64unicode"));
        assert_eq!(
            Ticket::verify(alg, SECRET, &value, "0.0.0.0"),
            Ok(t.clone())
        );
        let quoted = alloc::format!("\"\"{value}\"");
        assert_eq!(
            Ticket::verify(alg, SECRET, &quoted, "0.0.0.0"),
            Ok(t.clone())
        );
        assert_eq!(
            Ticket::verify(alg, b"other", &value, "0.0.0.0"),
            Err(TicketError::BadDigest)
        );
        assert_eq!(
            Ticket::verify(alg, SECRET, &value, "1.2.3.4"),
            Err(TicketError::BadDigest)
        );
        assert_eq!(
            Ticket::verify(alg, SECRET, &value, "1.2.3.400"),
            Err(TicketError::BadRemoteAddr(RemoteAddrError::OctetOutOfRange))
        );
        let upper = alloc::format!("{}{}", &value[..128], value[128..136].to_uppercase());
        let upper = alloc::format!("{upper}{}", &value[136..]);
        assert_eq!(
            Ticket::verify(alg, SECRET, &upper, "0.0.0.0"),
            Ok(t.clone())
        );
        // Empty tokens and a `!` in the user data keep the empty field.
        let odd = Ticket::from_fields(5, "u", "", "x!y");
        let value = odd.render(alg, SECRET, "0.0.0.0").unwrap();
        assert!(value.ends_with("00000005u!!x!y"), "{value}");
        assert_eq!(Ticket::verify(alg, SECRET, &value, "0.0.0.0"), Ok(odd));
    }

    #[test]
    fn layout_errors() {
        let alg = HashAlg::SHA512;
        let v = |s: &str| Ticket::verify(alg, SECRET, s, "0.0.0.0");
        let d = "0".repeat(128);
        assert_eq!(v(""), Err(TicketError::Truncated));
        assert_eq!(v(&d[..100]), Err(TicketError::Truncated));
        assert_eq!(
            v(&alloc::format!("{d}6553f10")),
            Err(TicketError::Truncated)
        );
        assert_eq!(
            v(&alloc::format!("{d}0x6553f1u!x")),
            Err(TicketError::BadTimestamp)
        );
        assert_eq!(
            v(&alloc::format!("{d}+6553f10u!x")),
            Err(TicketError::BadTimestamp)
        );
        assert_eq!(
            v(&alloc::format!("{d}6553f100u")),
            Err(TicketError::MissingSeparator)
        );
        assert_eq!(
            v(&alloc::format!("{d}6553f100%ff!x")),
            Err(TicketError::UseridNotUtf8)
        );
        assert_eq!(
            v(&alloc::format!("{d}6553f100u!x")),
            Err(TicketError::BadDigest)
        );
        assert_eq!(
            v(&"a".repeat(MAX_TICKET_LEN + 1)),
            Err(TicketError::TooLong)
        );
        // A multi-byte character across the digest boundary is not a panic.
        let mut cut = "0".repeat(127);
        cut.push('\u{e9}');
        cut.push_str("6553f100u!x");
        assert_eq!(v(&cut), Err(TicketError::Truncated));
    }
}
