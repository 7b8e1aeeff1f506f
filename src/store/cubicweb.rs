//! CubicWeb's own database sessions (features `sqlite` and/or `postgres`):
//! [`CubicWebStore`] reads and writes the `cw_CWSession` rows of a CubicWeb 5.0.1
//! instance's database (SQLite or PostgreSQL) exactly as CubicWeb's `CWSessionFactory`
//! does, and checks logins against `cw_CWUser` as CubicWeb's password login does, so a
//! Rust service and the Python instance share sessions and users both ways.
//!
//! References are to cubicweb 5.0.1's sources; the SQL is the one a real instance ran
//! (`tests/data/cw_real_flows.json`, `sql_log`).
//!
//! # Configuration
//!
//! The session ids are CubicWeb's entity ids (eids), which only the database hands out,
//! so the server configuration must let the store allocate them, and use CubicWeb's id
//! cookie:
//!
//! ```text
//! let config = ServerConfig::new(SessionConfig::cubicweb(secret).build()?, IdCookieFormat::CubicWeb)?
//!     .with_id_scheme(IdScheme::Allocated);
//! let store = CubicWebStore::open_sqlite(path, CubicWebOptions::new("https://example.org/"))?;
//! ```
//!
//! A keyed `Create` (any other id scheme) is refused with a [`StoreError`].
//!
//! # Rows
//!
//! * **Create** (`cnx.create_entity("CWSession", cwsessiondata=...)`,
//!   `server/sources/native.py:994-1023`, `hooks/metadata.py:33-51`): a new eid from the
//!   one-row table `entities_id_seq` (`UPDATE entities_id_seq SET last = last + 1`, then
//!   its value): on PostgreSQL one statement (`... RETURNING last`), committed on its
//!   own before the rows are written, as CubicWeb's `DefaultEidGenerator` commits it on a
//!   connection of its own; on SQLite inside the create's transaction, as
//!   `SQLITEEidGenerator` does. Then, in one transaction (one statement on PostgreSQL),
//!   the `entities` row (`eid`, type `CWSession`), `is_relation` and
//!   `is_instance_of_relation` to the eid of the `CWEType` named `CWSession`,
//!   `cw_source_relation` to the `CWSource` named `system` (both looked up once, when
//!   the store opens: they are instance-specific), and the `cw_CWSession` row:
//!   `cw_cwuri` = the instance's base URL (with a trailing `/`, as CubicWeb's
//!   `base_url()`) + the eid, `cw_creation_date` = `cw_modification_date` = the
//!   request's time in UTC (`timestamp with time zone` on PostgreSQL; on SQLite the
//!   text Python's `sqlite3` writes for the naive UTC `datetime` CubicWeb passes,
//!   `2026-12-01 08:51:53.444482`), and `cw_cwsessiondata` = `pickle.dumps(state)` at
//!   protocol 4 ([`PROTOCOL`], Python 3.8 to 3.13's default). No `created_by` /
//!   `owned_by` rows (CubicWeb writes none for internal connections). Columns are
//!   addressed by name: their order differs between instances.
//! * **Load** (`pyramid/session.py:218-235`): `SELECT cw_cwsessiondata,
//!   cw_creation_date, cw_modification_date FROM cw_CWSession WHERE cw_eid = ?`. **No
//!   expiry filter**: CubicWeb never expires rows, its cookie frame decides (the core
//!   judges the CubicWeb id cookie's own `renewed` and `created`,
//!   [`Pending::start`](crate::server::Pending::start)). The record the core gets has
//!   `created` = the row's creation date and `expires_at` = its modification date + the
//!   configured [`timeout`](CubicWebOptions::with_timeout): CubicWeb rewrites the row on
//!   every request that touches the session, so that is when the session was last used,
//!   and the core's renewal and touch arithmetic works on it. A row last written more
//!   than a timeout ago is therefore reported with an `expires_at` that has passed, and
//!   the core treats it as missing, as Python treats a cookie that old. Set the timeout
//!   to the configuration's (1200 s, `CWSessionFactory`'s, by default).
//! * **Save** (`pyramid/session.py:242-275`): `UPDATE cw_CWSession SET
//!   cw_cwsessiondata = ?, cw_modification_date = ? WHERE cw_eid = ?`, with the
//!   compare-and-set below.
//! * **Touch**: the same `UPDATE` of `cw_modification_date` alone (Python rewrites the
//!   whole row on every request; the data is unchanged here).
//! * **Remove** and **RemoveIf** never delete: Python may still hold the eid (its
//!   in-process entity cache, a cookie it will present again). They write the empty
//!   state `{}` instead, which is what a Python logout leaves once the ticket key is
//!   gone. The row stays, as every row CubicWeb ever wrote stays. (`Remove` carries no
//!   time: its modification date is the wall clock's.)
//!
//! An eid allocated for a create whose rows then fail to be written is not reused, as
//! in CubicWeb.
//!
//! The state is held as tagged JSON ([`PyValue::to_tagged`](crate::pickle::PyValue::to_tagged)),
//! as for the other Python-shared stores: tuples (`pending_insert`'s `(eid, rtype,
//! eid)`), non-ASCII text, bytes and sets survive, and an object (a form's
//! `ValidationError`) is kept opaque, never imported, and written back as it was read.
//!
//! # What counts as a record
//!
//! A row is a record when `cw_cwsessiondata` holds a pickle the safe reader accepts
//! (within [`Limits`], 1 MiB) of a **non-empty** dict with `str`
//! keys. Anything else counts as missing — a fresh session that gets a new eid when it
//! is first written, and its cookie is re-sent with that eid, as Python does for an eid
//! it cannot load: no row, NULL or empty data, a pickle the reader refuses, a dict with
//! a non-`str` key (the old row is left as it is), and the **empty** dict. The last is
//! what makes removal win: a row Python logged out, or that Rust's `Remove` emptied, is
//! missing to every later `Save`, `Touch` and `RemoveIf`, so a concurrent Rust write
//! cannot bring the old state back. An empty session and no session are the same
//! thing to the core (it never stores a new empty one), so nothing is lost.
//!
//! # Versions and what is guaranteed
//!
//! CubicWeb writes no version, so the compare-and-set token is derived from the row:
//! the first 15 hex digits of the SHA-256 of `cw_cwsessiondata` followed by
//! `cw_modification_date` (on PostgreSQL its microseconds since the epoch, computed by
//! the server in the same statement as the check; on SQLite the stored text), as a
//! `u64`, never 0. Every Python write changes it (Python sets the modification date on
//! every write), and so does every Rust write with other data or at another
//! microsecond.
//!
//! * **Among Rust writers** the contract holds as for the crate's other stores: a
//!   `Save` or `RemoveIf` writes only if the row still has the version read, checked
//!   and written atomically (PostgreSQL: one `UPDATE ... WHERE <version> = $expected`;
//!   SQLite: one `BEGIN IMMEDIATE` transaction). N Rust writers incrementing one
//!   counter lose nothing.
//! * **Against Python writers** only half of it can hold: Python overwrites blindly
//!   (`cw_set` of the state it loaded at the start of its request, plus its changes).
//!   Rust sees every Python write between its load and its save as a conflict, reloads,
//!   replays its own changes and saves again; a Rust write that lands between Python's
//!   load and Python's save is lost, as a concurrent Python write would be. Python also
//!   rewrites the row on requests that only read the session, so a Rust save racing one
//!   is retried.
//! * Two saves of identical data in the same microsecond give the same version; as the
//!   data is identical, a compare-and-set that cannot tell them apart loses nothing.
//!
//! # Janitor
//!
//! CubicWeb deletes no `CWSession` row, ever (a logout empties it, an expired cookie
//! leaves it): they accumulate. [`CubicWebStore::sweep`] (and
//! [`CubicWebStore::spawn_janitor`]), opt-in, deletes the rows whose modification
//! date is older than the timeout plus a margin ([`CubicWebOptions::with_janitor_margin`],
//! a day by default), with their `entities`, `is_relation`, `is_instance_of_relation`,
//! `cw_source_relation`, `created_by_relation` and `owned_by_relation` rows, in batches,
//! each in one transaction. A row that old has no cookie that verifies any more
//! (Python's and Rust's both time out after the timeout), so no one can load it again.
//!
//! # Logins
//!
//! [`CubicWebStore::authenticate`] checks a login and password as CubicWeb's
//! `LoginPasswordAuthentifier` and `Repository.authenticate_user` do: the `cw_CWUser`
//! of that login in the `system` source, its `cw_upassword` verified with the scheme
//! it is stored in (passlib's `sha512_crypt`, CubicWeb's `md5crypt`,
//! `ldap_salted_sha1`), and the account in the `activated` workflow state
//! (`in_state_relation`; CubicWeb's `consider_user_state`). On success it updates
//! `cw_last_login_time` and `cw_modification_date` as
//! `UpdateLoginTimeAuthenticationPolicy.remember` does (`pyramid/auth.py:120-131`,
//! `UPDATE cw_CWUser SET cw_last_login_time = ?, cw_modification_date = ? WHERE cw_eid
//! = ?`) and returns the user with its groups ([`CubicWebStore::groups`]:
//! `in_group_relation` → `cw_CWGroup.cw_name`, what CubicWeb's `get_principals`
//! reads).
//!
//! Password schemes and their deviations from CubicWeb, each on the safe side:
//!
//! - `sha512_crypt` (RustCrypto's `sha-crypt`), CubicWeb's `md5crypt` (RustCrypto's
//!   `md-5`, its 1,000 rounds written out here, 60 lines) and `ldap_salted_sha1`
//!   (RustCrypto's `sha1`) verify as passlib does.
//! - An empty stored hash accepts **no** password (CubicWeb accepts any, "for
//!   backwards compat").
//! - `des_crypt` hashes never verify: no maintained crate implements the salted-DES
//!   `crypt(3)` (CubicWeb rehashes them at a Python login, and has written none since
//!   3.14.7).
//! - A legacy hash is verified but not upgraded to `sha512_crypt` (passlib's
//!   `verify_and_update` does that at a Python login).
//! - CubicWeb 5's `md5crypt` raises on Python 3 for most password lengths (`pw[0]` is
//!   an `int` there); the algorithm here is the one that wrote those hashes.
//! - An unknown login answers at once (as CubicWeb does): the timing tells whether a
//!   login exists.

extern crate std;

mod password;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use sha2::{Digest, Sha256};

use crate::codec::json::State;
use crate::codec::record::{decode_record, encode_record};
use crate::pickle::{self, Limits, PyValue};
use crate::server::store::BoxFuture;
use crate::server::{
    AsyncStore, OpResult, Record, SessionId, Store, StoreError, StoreErrorKind, StoreKey, StoreOp,
};
use crate::time::{Clock, UnixTime};

/// The pickle protocol of `cw_cwsessiondata`: `pickle.dumps`' default on CPython 3.8 to
/// 3.13 (CubicWeb 5 needs at least 3.11).
pub const PROTOCOL: u8 = 4;

/// `CWSessionFactory`'s default timeout, in seconds.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(1200);

/// How much older than the timeout a row must be before the janitor deletes it.
pub const DEFAULT_JANITOR_MARGIN: Duration = Duration::from_secs(86_400);

/// Default bound on one database call (SQLite's busy timeout; PostgreSQL's connect and
/// statement timeout).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Rows the janitor deletes per transaction.
const SWEEP_BATCH: i64 = 512;

/// `pickle.dumps({})` at protocol 4: the state a removal writes.
const EMPTY_STATE: &[u8] = b"\x80\x04}\x94.";

/// What a [`CubicWebStore`] needs to know about the instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CubicWebOptions {
    base_url: String,
    timeout: Duration,
    janitor_margin: Duration,
    call_timeout: Duration,
}

impl CubicWebOptions {
    /// The instance's `base-url` (`all-in-one.conf`), which `cw_cwuri` starts with; a
    /// trailing `/` is added when missing, as CubicWeb's `base_url()` does. The timeout
    /// is [`DEFAULT_SESSION_TIMEOUT`], the janitor margin [`DEFAULT_JANITOR_MARGIN`],
    /// each call is bounded by [`DEFAULT_CALL_TIMEOUT`].
    pub fn new(base_url: &str) -> CubicWebOptions {
        let mut base_url = base_url.to_string();
        if !base_url.ends_with('/') {
            base_url.push('/');
        }
        CubicWebOptions {
            base_url,
            timeout: DEFAULT_SESSION_TIMEOUT,
            janitor_margin: DEFAULT_JANITOR_MARGIN,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// Sets the session timeout the records' `expires_at` is derived with (a row's
    /// modification date + the timeout): the server configuration's idle timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> CubicWebOptions {
        self.timeout = timeout;
        self
    }

    /// Sets how much older than the timeout a row must be for the janitor.
    #[must_use]
    pub fn with_janitor_margin(mut self, margin: Duration) -> CubicWebOptions {
        self.janitor_margin = margin;
        self
    }

    /// Sets the bound on one database call.
    #[must_use]
    pub fn with_call_timeout(mut self, timeout: Duration) -> CubicWebOptions {
        self.call_timeout = timeout;
        self
    }

    /// The base URL, with its trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    /// The session timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
    /// The janitor's margin.
    pub fn janitor_margin(&self) -> Duration {
        self.janitor_margin
    }
    /// The bound on one call.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// `cw_cwuri` for `eid`.
    fn cwuri(&self, eid: i64) -> String {
        alloc::format!("{}{eid}", self.base_url)
    }

    /// The janitor's cutoff at `now`: rows modified before it go.
    fn sweep_cutoff(&self, now: f64) -> Option<f64> {
        let cutoff = now - (self.timeout + self.janitor_margin).as_secs_f64();
        cutoff.is_finite().then_some(cutoff)
    }
}

/// A CubicWeb user, as [`CubicWebStore::authenticate`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CwUser {
    /// The user's eid (what CubicWeb's AuthTkt cookies carry as the userid).
    pub eid: i64,
    /// The login.
    pub login: String,
    /// The names of the user's groups (`managers`, `users`, `guests`, ...), sorted.
    pub groups: Vec<String>,
}

// ---------------------------------------------------------------------------------
// Shared by both backends: records, versions, dates.

/// The eid a key names: canonical decimal digits of a positive eid.
fn eid_of(key: &StoreKey) -> Option<i64> {
    let text = key.as_str();
    let canonical = !text.is_empty()
        && text.len() <= 18
        && text.bytes().all(|b| b.is_ascii_digit())
        && !text.starts_with('0');
    canonical.then(|| text.parse().ok()).flatten()
}

fn refuse_key() -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        "CubicWebStore allocates its session ids (CubicWeb's eids): configure \
         ServerConfig::with_id_scheme(IdScheme::Allocated)",
    )
}

fn other(message: impl core::fmt::Display) -> StoreError {
    StoreError::new(StoreErrorKind::Other, message)
}

/// The non-empty state a row's data holds, or `None` when the row is no record (see the
/// module docs).
fn live_state(data: Option<&[u8]>) -> Option<State> {
    let data = data.filter(|d| !d.is_empty())?;
    let PyValue::Dict(pairs) = pickle::decode(data, &Limits::with_opaque()).ok()? else {
        return None;
    };
    if pairs.is_empty() {
        return None;
    }
    let mut state = State::new();
    for (k, v) in pairs {
        let PyValue::Str(k) = k else {
            return None;
        };
        state.insert(String::from(k.as_str()?), v.to_tagged().ok()?);
    }
    Some(state)
}

/// The core's record for a row.
fn record(
    state: &State,
    created: f64,
    modified: f64,
    version: u64,
    timeout: Duration,
) -> Option<Record> {
    let data = encode_record(created, state).ok()?;
    Some(Record {
        data,
        version,
        expires_at: UnixTime::from(modified + timeout.as_secs_f64()),
    })
}

/// `cw_cwsessiondata` for one of the core's records (`{"created", "state"}`).
fn pickled_state(data: &[u8]) -> Result<Vec<u8>, StoreError> {
    let (_, state) =
        decode_record(data).ok_or_else(|| other("the record to write is not a session record"))?;
    let pairs = state
        .iter()
        .map(|(k, v)| Ok((PyValue::str(k), PyValue::from_tagged(v)?)))
        .collect::<Result<Vec<_>, pickle::TaggedError>>()
        .map_err(|e| other(alloc::format!("a session value is not a Python value: {e}")))?;
    pickle::encode(&PyValue::Dict(pairs), PROTOCOL).map_err(other)
}

/// The version of a value whose hash prefix is all zeros (versions are never 0).
const ZERO_HASH_VERSION: u64 = 1 << 60;

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
/// The version for a hash prefix of 15 hex digits.
fn version_of_hex(hex: &str) -> Result<u64, StoreError> {
    match u64::from_str_radix(hex, 16) {
        Ok(0) => Ok(ZERO_HASH_VERSION),
        Ok(v) if hex.len() == 15 => Ok(v),
        _ => Err(StoreError::new(
            StoreErrorKind::Corrupt,
            "the database answered a malformed version hash",
        )),
    }
}

#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
/// The version of a row: the first 15 hex digits of SHA-256(`data` ‖ `modified`).
fn version_of(data: Option<&[u8]>, modified: &[u8]) -> u64 {
    let digest = Sha256::new()
        .chain_update(data.unwrap_or_default())
        .chain_update(modified)
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    match u64::from_be_bytes(first) >> 4 {
        0 => ZERO_HASH_VERSION,
        v => v,
    }
}

/// Microseconds since the epoch of a time in seconds (saturating; NaN is 0).
fn micros(secs: f64) -> i64 {
    (secs * 1e6).round() as i64
}

#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
/// A time as Python's `sqlite3` writes a naive `datetime` (`isoformat(" ")`):
/// `2026-12-01 08:51:53.444482`, without the fraction when it is zero.
fn sqlite_datetime(secs: f64) -> String {
    let us = micros(secs);
    let (days, rest) = (us.div_euclid(86_400_000_000), us.rem_euclid(86_400_000_000));
    let (y, m, d) = civil_from_days(days);
    let (s, frac) = (rest / 1_000_000, rest % 1_000_000);
    let mut out = alloc::format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
    if frac != 0 {
        out.push_str(&alloc::format!(".{frac:06}"));
    }
    out
}

#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
/// Reads the dates CubicWeb stores in SQLite (`YYYY-MM-DD HH:MM:SS[.ffffff]`, naive UTC;
/// a `T` separator and a `Z` or `±HH:MM` offset are read too).
fn parse_sqlite_datetime(text: &str) -> Option<f64> {
    let b = text.trim().as_bytes();
    let num = |r: core::ops::Range<usize>| -> Option<i64> {
        let s = b.get(r)?;
        s.iter()
            .all(u8::is_ascii_digit)
            .then(|| core::str::from_utf8(s).ok()?.parse().ok())
            .flatten()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (mut h, mut mi, mut s, mut frac) = (0, 0, 0, 0.0);
    let mut at = 10;
    if b.len() > 10 {
        if !matches!(b[10], b' ' | b'T') || b.get(13) != Some(&b':') {
            return None;
        }
        h = num(11..13)?;
        mi = num(14..16)?;
        at = 16;
        if b.get(16) == Some(&b':') {
            s = num(17..19)?;
            at = 19;
        }
        if b.get(at) == Some(&b'.') {
            let start = at + 1;
            let mut end = start;
            while b.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            frac = core::str::from_utf8(&b[at..end])
                .ok()?
                .parse::<f64>()
                .ok()?;
            at = end;
        }
    }
    let offset = match &b[at..] {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), ..] => {
            let oh = num(at + 1..at + 3)?;
            let om = if b.get(at + 3) == Some(&b':') {
                num(at + 4..at + 6)?
            } else {
                num(at + 3..at + 5).unwrap_or(0)
            };
            let o = oh * 3600 + om * 60;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some((days * 86_400 + h * 3600 + mi * 60 + s - offset) as f64 + frac)
}

/// The wall clock, for the one write the contract gives no time (`Remove`).
#[expect(
    clippy::disallowed_methods,
    reason = "Remove carries no time; the emptied row's modification date is metadata"
)]
fn wall_clock() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------
// The store.

enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite::Backend),
    // Boxed: the one allocation per store is nothing, the size difference is.
    #[cfg(feature = "postgres")]
    Postgres(Box<postgres::Backend>),
}

struct Inner {
    backend: Backend,
    options: CubicWebOptions,
    /// The private runtime of a blocking PostgreSQL store ([`CubicWebStore::open_postgres`]).
    #[cfg(feature = "postgres")]
    runtime: Option<tokio::runtime::Runtime>,
}

/// CubicWeb's `cw_CWSession` rows and `cw_CWUser` logins in the instance's database
/// (see the module docs). A cheap handle: clones share the connection.
///
/// Both [`Store`] and [`AsyncStore`]: on SQLite the async calls run on Tokio's blocking
/// pool (inline without a runtime); on PostgreSQL a store made with
/// [`CubicWebStore::open_postgres`] has a private runtime for its blocking calls (do
/// not call them from inside an async runtime), one made with
/// [`CubicWebStore::connect_postgres`] is async only.
#[derive(Clone)]
pub struct CubicWebStore {
    inner: Arc<Inner>,
}

impl core::fmt::Debug for CubicWebStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let backend = match self.inner.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "postgres",
        };
        f.debug_struct("CubicWebStore")
            .field("backend", &backend)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl CubicWebStore {
    fn new(backend: Backend, options: CubicWebOptions) -> CubicWebStore {
        CubicWebStore {
            inner: Arc::new(Inner {
                backend,
                options,
                #[cfg(feature = "postgres")]
                runtime: None,
            }),
        }
    }

    /// Opens the SQLite database of a CubicWeb instance (its `db-name`). Fails when it
    /// has no `CWSession` entity type or no `system` source (not a CubicWeb database).
    #[cfg(feature = "sqlite")]
    pub fn open_sqlite(
        path: impl AsRef<std::path::Path>,
        options: CubicWebOptions,
    ) -> Result<CubicWebStore, StoreError> {
        let backend = sqlite::Backend::open(path.as_ref(), &options)?;
        Ok(CubicWebStore::new(Backend::Sqlite(backend), options))
    }

    /// Connects to the PostgreSQL database of a CubicWeb instance (`postgres://...` or
    /// key=value form), for async use, on the current Tokio runtime.
    #[cfg(feature = "postgres")]
    pub async fn connect_postgres(
        url: &str,
        options: CubicWebOptions,
    ) -> Result<CubicWebStore, StoreError> {
        let backend = postgres::Backend::connect(url, &options).await?;
        Ok(CubicWebStore::new(
            Backend::Postgres(Box::new(backend)),
            options,
        ))
    }

    /// Connects to the PostgreSQL database of a CubicWeb instance for blocking use, on
    /// a private one-thread runtime (its async calls work too).
    #[cfg(feature = "postgres")]
    pub fn open_postgres(url: &str, options: CubicWebOptions) -> Result<CubicWebStore, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pyramid-session-cubicweb")
            .enable_all()
            .build()
            .map_err(other)?;
        let backend = runtime.block_on(postgres::Backend::connect(url, &options))?;
        Ok(CubicWebStore {
            inner: Arc::new(Inner {
                backend: Backend::Postgres(Box::new(backend)),
                options,
                runtime: Some(runtime),
            }),
        })
    }

    /// The options.
    pub fn options(&self) -> &CubicWebOptions {
        &self.inner.options
    }

    /// The eid of the `CWEType` named `CWSession` in this instance.
    pub fn cwsession_etype_eid(&self) -> i64 {
        match &self.inner.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(b) => b.etype,
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => i64::from(b.etype),
        }
    }

    /// The eid of the `CWSource` named `system`.
    pub fn system_source_eid(&self) -> i64 {
        match &self.inner.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(b) => b.source,
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => i64::from(b.source),
        }
    }

    /// Runs a PostgreSQL future on the private runtime (blocking calls).
    #[cfg(feature = "postgres")]
    fn block_on<T>(
        &self,
        fut: impl core::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match &self.inner.runtime {
            Some(rt) => rt.block_on(fut),
            None => Err(other(
                "a CubicWebStore made by connect_postgres is async only: \
                 use open_postgres for blocking calls",
            )),
        }
    }

    /// Runs a blocking SQLite call on Tokio's blocking pool (inline without a runtime).
    #[cfg(feature = "sqlite")]
    async fn off_executor<T: Send + 'static>(
        &self,
        op: impl FnOnce(&sqlite::Backend, &CubicWebOptions) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        let run = move || match &store.inner.backend {
            Backend::Sqlite(b) => op(b, &store.inner.options),
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => unreachable!("only called for the sqlite backend"),
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(run)
                .await
                .map_err(|e| other(alloc::format!("sqlite call did not finish: {e}")))?,
            Err(_) => run(),
        }
    }

    /// Checks `login` and `password` as CubicWeb's password login does and, on success,
    /// records the login at `now` (`cw_last_login_time`, `cw_modification_date`): the
    /// user with its groups, or `None` for an unknown login, a wrong password, a hash in
    /// an unsupported scheme or an account that is not `activated` (see the module
    /// docs). Hashing takes a while by design (656,000 rounds of SHA-512 for CubicWeb's
    /// hashes); [`CubicWebStore::authenticate_async`] runs it off the executor.
    pub fn authenticate(
        &self,
        login: &str,
        password: &str,
        now: impl Into<UnixTime>,
    ) -> Result<Option<CwUser>, StoreError> {
        let now = now.into().as_secs_f64();
        match &self.inner.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(b) => b.authenticate(login, password, now),
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => self.block_on(b.authenticate(login, password, now)),
        }
    }

    /// [`CubicWebStore::authenticate`], awaited: the password check runs on Tokio's
    /// blocking pool.
    pub async fn authenticate_async(
        &self,
        login: &str,
        password: &str,
        now: impl Into<UnixTime>,
    ) -> Result<Option<CwUser>, StoreError> {
        let now = now.into().as_secs_f64();
        match &self.inner.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => {
                let (login, password) = (login.to_string(), password.to_string());
                self.off_executor(move |b, _| b.authenticate(&login, &password, now))
                    .await
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => b.authenticate(login, password, now).await,
        }
    }

    /// The names of the groups of the user `eid` (`in_group_relation` →
    /// `cw_CWGroup.cw_name`), sorted; empty for an unknown eid.
    pub fn groups(&self, eid: i64) -> Result<Vec<String>, StoreError> {
        match &self.inner.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(b) => b.groups(eid),
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => self.block_on(b.groups(eid)),
        }
    }

    /// [`CubicWebStore::groups`], awaited.
    pub async fn groups_async(&self, eid: i64) -> Result<Vec<String>, StoreError> {
        match &self.inner.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => self.off_executor(move |b, _| b.groups(eid)).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => b.groups(eid).await,
        }
    }

    /// Records a login of user `eid` at `now`, as `UpdateLoginTimeAuthenticationPolicy`
    /// does (for logins checked elsewhere; [`CubicWebStore::authenticate`] does it
    /// itself). False for an unknown eid.
    pub fn update_login_time(
        &self,
        eid: i64,
        now: impl Into<UnixTime>,
    ) -> Result<bool, StoreError> {
        let now = now.into().as_secs_f64();
        match &self.inner.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(b) => b.update_login_time(eid, now),
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => self.block_on(b.update_login_time(eid, now)),
        }
    }

    /// The janitor, once: deletes the `CWSession` rows last modified more than the
    /// timeout plus the margin before `now`, with their `entities` and relation rows;
    /// returns how many. Opt-in (nothing calls it by itself).
    pub fn sweep(&self, now: impl Into<UnixTime>) -> Result<u64, StoreError> {
        let Some(cutoff) = self.inner.options.sweep_cutoff(now.into().as_secs_f64()) else {
            return Ok(0);
        };
        match &self.inner.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(b) => b.sweep(cutoff),
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => self.block_on(b.sweep(cutoff)),
        }
    }

    /// [`CubicWebStore::sweep`], awaited.
    pub async fn sweep_async(&self, now: impl Into<UnixTime>) -> Result<u64, StoreError> {
        let Some(cutoff) = self.inner.options.sweep_cutoff(now.into().as_secs_f64()) else {
            return Ok(0);
        };
        match &self.inner.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => self.off_executor(move |b, _| b.sweep(cutoff)).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => b.sweep(cutoff).await,
        }
    }

    /// Runs the janitor every `every` (at least 1 ms; the first run is at once) at the
    /// time `clock()`, on the current Tokio runtime, until the returned task is aborted.
    /// A failed sweep is retried at the next tick. Outside a Tokio runtime it fails with
    /// [`StoreErrorKind::Other`].
    pub fn spawn_janitor(
        &self,
        every: Duration,
        clock: impl Clock + 'static,
    ) -> Result<tokio::task::JoinHandle<()>, StoreError> {
        Ok(crate::store::sweeper::spawn_sweeper_with_clock(self.clone(), every, clock)?.detach())
    }
}

// The janitor is the store's sweep: `spawn_sweeper(store, every)` runs it too. Each
// backend deletes in transactions of `SWEEP_BATCH` rows, so one call is one sweep.
impl crate::store::sweeper::Sweep for CubicWebStore {
    fn sweep_batch(&self, now: UnixTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(self.sweep_async(now))
    }
}

impl Store for CubicWebStore {
    fn execute(&self, op: StoreOp<'_>) -> Result<OpResult, StoreError> {
        if let StoreOp::Wait { delay } = op {
            std::thread::sleep(delay);
            return Ok(OpResult::Waited);
        }
        match &self.inner.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(b) => b.execute(op, &self.inner.options),
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => self.block_on(b.execute(op, &self.inner.options)),
        }
    }
}

impl AsyncStore for CubicWebStore {
    fn execute<'a>(&'a self, op: StoreOp<'a>) -> BoxFuture<'a, Result<OpResult, StoreError>> {
        Box::pin(async move {
            if let StoreOp::Wait { delay } = op {
                tokio::time::sleep(delay).await;
                return Ok(OpResult::Waited);
            }
            match &self.inner.backend {
                #[cfg(feature = "sqlite")]
                Backend::Sqlite(_) => {
                    let detached = crate::store::sqlite::off_executor::Detached::new(op);
                    self.off_executor(move |b, options| b.execute(detached.op(), options))
                        .await
                }
                #[cfg(feature = "postgres")]
                Backend::Postgres(b) => b.execute(op, &self.inner.options).await,
            }
        })
    }
}

/// The id of a new row.
fn session_id(eid: i64) -> Result<SessionId, StoreError> {
    SessionId::parse(&eid.to_string()).ok_or_else(|| {
        StoreError::new(
            StoreErrorKind::Corrupt,
            "the database allocated an eid that is no id",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_dates_are_pythons() {
        // 2026-12-01 08:51:53.444482 UTC, as the real instance wrote it.
        let t = 1_796_115_113.444_482;
        assert_eq!(sqlite_datetime(t), "2026-12-01 08:51:53.444482");
        assert_eq!(sqlite_datetime(1_796_115_113.0), "2026-12-01 08:51:53");
        let parsed = parse_sqlite_datetime("2026-12-01 08:51:53.444482").unwrap();
        assert!((parsed - t).abs() < 1e-6);
        for text in [
            "2026-12-01 08:51:53.444482+00:00",
            "2026-12-01T08:51:53.444482Z",
            "2026-12-01 09:51:53.444482+01:00",
        ] {
            assert!(
                (parse_sqlite_datetime(text).unwrap() - t).abs() < 1e-6,
                "{text}"
            );
        }
        assert_eq!(parse_sqlite_datetime("2026-12-01"), Some(1_796_083_200.0));
        assert_eq!(parse_sqlite_datetime("yesterday"), None);
        assert_eq!(parse_sqlite_datetime("2026-13-01 00:00:00"), None);
    }

    #[test]
    fn eids_are_canonical_decimals() {
        let key = |s: &str| crate::server::IdScheme::Allocated.key(&SessionId::parse(s).unwrap());
        assert_eq!(eid_of(&key("760")), Some(760));
        assert_eq!(eid_of(&key("0760")), None);
        assert_eq!(eid_of(&key("0")), None);
        assert_eq!(eid_of(&key("76a")), None);
        assert_eq!(eid_of(&key("9999999999999999999")), None);
    }

    #[test]
    fn states_and_versions() {
        assert_eq!(live_state(Some(EMPTY_STATE)), None, "empty: no record");
        assert_eq!(live_state(None), None);
        assert_eq!(live_state(Some(b"")), None);
        assert_eq!(live_state(Some(b"not a pickle")), None);
        let record = br#"{"created": 1.0, "state": {"a": {"$tuple": [1, "\u00e9"]}}}"#;
        let pickled = pickled_state(record).unwrap();
        let state = live_state(Some(&pickled)).unwrap();
        assert_eq!(state["a"], serde_json::json!({"$tuple": [1, "é"]}));
        let empty = pickled_state(br#"{"created": 1.0, "state": {}}"#).unwrap();
        assert_eq!(empty, EMPTY_STATE);
        let v = version_of(Some(&pickled), b"2026-12-01 08:51:53");
        assert_ne!(v, 0);
        assert!(v < 1 << 60);
        assert_ne!(v, version_of(Some(&pickled), b"2026-12-01 08:51:54"));
        assert_ne!(v, version_of(Some(EMPTY_STATE), b"2026-12-01 08:51:53"));
        assert_eq!(
            version_of_hex("000000000000000").unwrap(),
            ZERO_HASH_VERSION
        );
        assert_eq!(version_of_hex("00000000000000a").unwrap(), 10);
        assert!(version_of_hex("zz").is_err());
    }
}
