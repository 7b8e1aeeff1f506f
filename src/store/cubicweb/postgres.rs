//! The PostgreSQL side of [`CubicWebStore`](super::CubicWebStore): one pipelined
//! `tokio-postgres` connection, reconnected when it breaks; every operation one
//! statement (the eid allocation of a create is one more, committed before it), so
//! statements of concurrent calls never share a transaction. Compare-and-set is in
//! SQL: the version is computed by the server, in the statement that checks it.

extern crate std;

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{
    eid_of, live_state, other, password, pickled_state, record, refuse_key, session_id,
    version_of_hex, wall_clock, CubicWebOptions, CwUser, EMPTY_STATE, SWEEP_BATCH,
    ZERO_HASH_VERSION,
};
use crate::server::store::{CreateOutcome, TouchOutcome};
use crate::server::{OpResult, RemoveOutcome, SaveOutcome, StoreError, StoreOp};
use crate::store::postgres::{error, parse_config, Conn, Connections};

/// The row's version, computed by the server: the first 15 hex digits of the SHA-256 of
/// the data followed by the modification date's microseconds since the epoch (8 bytes,
/// big-endian).
macro_rules! version {
    () => {
        "substr(encode(sha256(coalesce(cw_cwsessiondata, '\\x'::bytea) || \
         int8send(coalesce((extract(epoch FROM cw_modification_date) * 1000000)::int8, 0))), \
         'hex'), 1, 15)"
    };
}

const LOAD: &str = concat!(
    "SELECT cw_cwsessiondata, cw_creation_date, cw_modification_date, ",
    version!(),
    " FROM cw_CWSession WHERE cw_eid = $1"
);
// DefaultEidGenerator's two statements as one, committed on its own.
const ALLOCATE: &str = "UPDATE entities_id_seq SET last = last + 1 RETURNING last";
const CREATE: &str = concat!(
    "WITH e AS (INSERT INTO entities (eid, type) VALUES ($1, 'CWSession')), ",
    "i AS (INSERT INTO is_relation (eid_from, eid_to) VALUES ($1, $2)), ",
    "o AS (INSERT INTO is_instance_of_relation (eid_from, eid_to) VALUES ($1, $2)), ",
    "s AS (INSERT INTO cw_source_relation (eid_from, eid_to) VALUES ($1, $3)) ",
    "INSERT INTO cw_CWSession (cw_creation_date, cw_cwsessiondata, cw_cwuri, cw_eid, ",
    "cw_modification_date) VALUES ($4, $5, $6, $1, $4) RETURNING ",
    version!()
);
const CAS: &str = concat!(
    "UPDATE cw_CWSession SET cw_cwsessiondata = $2, cw_modification_date = $3 ",
    "WHERE cw_eid = $1 AND ",
    version!(),
    " = $4 RETURNING ",
    version!()
);
const TOUCH: &str = concat!(
    "UPDATE cw_CWSession SET cw_modification_date = $2 WHERE cw_eid = $1 AND ",
    version!(),
    " = $3"
);
const REMOVE: &str = "UPDATE cw_CWSession SET cw_cwsessiondata = $2, cw_modification_date = $3 \
                      WHERE cw_eid = $1";
const USER: &str = "SELECT u.cw_eid, u.cw_upassword FROM cw_CWUser AS u \
                    JOIN cw_source_relation AS s ON s.eid_from = u.cw_eid AND s.eid_to = $2 \
                    WHERE u.cw_login = $1";
const STATE: &str = "SELECT st.cw_name FROM in_state_relation AS r \
                     JOIN cw_State AS st ON st.cw_eid = r.eid_to WHERE r.eid_from = $1";
const GROUPS: &str = "SELECT g.cw_name FROM in_group_relation AS r \
                      JOIN cw_CWGroup AS g ON g.cw_eid = r.eid_to \
                      WHERE r.eid_from = $1 ORDER BY g.cw_name";
const LOGIN_TIME: &str = "UPDATE cw_CWUser SET cw_last_login_time = $1, \
                          cw_modification_date = $2 WHERE cw_eid = $3";
const SWEEP: &str = "WITH victims AS (SELECT cw_eid FROM cw_CWSession \
       WHERE cw_modification_date < $1 ORDER BY cw_eid LIMIT $2 FOR UPDATE), \
     a AS (DELETE FROM is_relation WHERE eid_from IN (SELECT cw_eid FROM victims)), \
     b AS (DELETE FROM is_instance_of_relation WHERE eid_from IN (SELECT cw_eid FROM victims)), \
     c AS (DELETE FROM cw_source_relation WHERE eid_from IN (SELECT cw_eid FROM victims)), \
     d AS (DELETE FROM created_by_relation WHERE eid_from IN (SELECT cw_eid FROM victims)), \
     f AS (DELETE FROM owned_by_relation WHERE eid_from IN (SELECT cw_eid FROM victims)), \
     s AS (DELETE FROM cw_CWSession WHERE cw_eid IN (SELECT cw_eid FROM victims) \
           RETURNING cw_eid) \
     DELETE FROM entities WHERE eid IN (SELECT cw_eid FROM s)";

/// How often a touch re-reads a row rewritten between its read and its write.
const TOUCH_ATTEMPTS: u8 = 3;

pub(super) struct Backend {
    pool: Connections,
    pub(super) etype: i32,
    pub(super) source: i32,
}

fn to_system_time(secs: f64) -> SystemTime {
    let us = super::micros(secs).max(0).unsigned_abs();
    UNIX_EPOCH + Duration::from_micros(us)
}

fn to_secs(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The text the version check compares with: `None` for a version no row can have.
fn version_text(version: u64) -> Option<String> {
    match version {
        ZERO_HASH_VERSION => Some("000000000000000".to_string()),
        v if v < 1 << 60 => Some(alloc::format!("{v:015x}")),
        _ => None,
    }
}

/// A row: its version, and the record it holds (if it is one).
type Read = Option<(u64, Option<(crate::codec::json::State, f64, f64)>)>;

impl Backend {
    pub(super) async fn connect(
        url: &str,
        options: &CubicWebOptions,
    ) -> Result<Backend, StoreError> {
        let timeout = options.call_timeout();
        let mut backend = Backend {
            pool: Connections::new(parse_config(url, timeout)?, timeout, 1),
            etype: 0,
            source: 0,
        };
        let client = backend.client().await?;
        let lookup = |sql: &'static str| {
            let client = client.clone();
            async move { client.query_opt(sql, &[]).await }
        };
        let etype = backend
            .bounded(lookup(
                "SELECT cw_eid FROM cw_CWEType WHERE cw_name = 'CWSession'",
            ))
            .await?
            .ok_or_else(|| other("not a CubicWeb database: no CWEType CWSession"))?;
        let source = backend
            .bounded(lookup(
                "SELECT cw_eid FROM cw_CWSource WHERE cw_name = 'system'",
            ))
            .await?
            .ok_or_else(|| other("not a CubicWeb database: no CWSource system"))?;
        backend.etype = etype.try_get(0).map_err(error)?;
        backend.source = source.try_get(0).map_err(error)?;
        Ok(backend)
    }

    async fn client(&self) -> Result<Arc<Conn>, StoreError> {
        self.pool.client().await
    }

    async fn bounded<T>(
        &self,
        fut: impl core::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        self.pool.bounded(fut).await
    }

    async fn read(
        &self,
        client: &tokio_postgres::Client,
        eid: i32,
        now: f64,
    ) -> Result<Read, StoreError> {
        let Some(row) = self.bounded(client.query_opt(LOAD, &[&eid])).await? else {
            return Ok(None);
        };
        let data: Option<Vec<u8>> = row.try_get(0).map_err(error)?;
        let created: Option<SystemTime> = row.try_get(1).map_err(error)?;
        let modified: Option<SystemTime> = row.try_get(2).map_err(error)?;
        let version = version_of_hex(row.try_get(3).map_err(error)?)?;
        let modified = modified.map_or(now, to_secs);
        let created = created.map_or(modified, to_secs);
        Ok(Some((
            version,
            live_state(data.as_deref()).map(|state| (state, created, modified)),
        )))
    }

    /// Writes `pickled` if the row is a record at `expected`; `Ok(Some(version))` when
    /// written, else whether the row is gone (`Ok(None)` with `missing`).
    async fn cas(
        &self,
        client: &tokio_postgres::Client,
        eid: i32,
        expected: u64,
        pickled: &[u8],
        now: f64,
    ) -> Result<Result<u64, bool>, StoreError> {
        if let Some(expected) = version_text(expected) {
            let stamp = to_system_time(now);
            let row = self
                .bounded(client.query_opt(CAS, &[&eid, &pickled, &stamp, &expected]))
                .await?;
            if let Some(row) = row {
                return Ok(Ok(version_of_hex(row.try_get(0).map_err(error)?)?));
            }
        }
        let missing = !matches!(self.read(client, eid, now).await?, Some((_, Some(_))));
        Ok(Err(missing))
    }

    pub(super) async fn execute(
        &self,
        op: StoreOp<'_>,
        options: &CubicWebOptions,
    ) -> Result<OpResult, StoreError> {
        let eid = |key: &crate::server::StoreKey| eid_of(key).and_then(|e| i32::try_from(e).ok());
        let client = self.client().await?;
        Ok(match op {
            StoreOp::Load { key, now } => {
                let now = now.as_secs_f64();
                let read = match eid(&key) {
                    Some(eid) => self.read(&client, eid, now).await?,
                    None => None,
                };
                OpResult::Loaded(read.and_then(|(version, row)| {
                    let (state, created, modified) = row?;
                    record(&state, created, modified, version, options.timeout())
                }))
            }
            StoreOp::Create { key: Some(_), .. } => return Err(refuse_key()),
            StoreOp::Create {
                key: None,
                data,
                now,
                ..
            } => {
                let pickled = pickled_state(data)?;
                let stamp = to_system_time(now.as_secs_f64());
                let allocated = self.bounded(client.query_one(ALLOCATE, &[])).await?;
                let eid: i32 = allocated.try_get(0).map_err(error)?;
                let cwuri = options.cwuri(i64::from(eid));
                let row = self
                    .bounded(client.query_one(
                        CREATE,
                        &[&eid, &self.etype, &self.source, &stamp, &pickled, &cwuri],
                    ))
                    .await?;
                OpResult::Created(CreateOutcome::Allocated {
                    id: session_id(i64::from(eid))?,
                    version: version_of_hex(row.try_get(0).map_err(error)?)?,
                })
            }
            StoreOp::Save {
                key,
                data,
                expected_version,
                now,
                ..
            } => {
                let Some(eid) = eid(&key) else {
                    return Ok(OpResult::Saved(SaveOutcome::Missing));
                };
                let pickled = pickled_state(data)?;
                let now = now.as_secs_f64();
                OpResult::Saved(
                    match self
                        .cas(&client, eid, expected_version, &pickled, now)
                        .await?
                    {
                        Ok(version) => SaveOutcome::Saved { version },
                        Err(true) => SaveOutcome::Missing,
                        Err(false) => SaveOutcome::Conflict,
                    },
                )
            }
            StoreOp::Touch { key, now, .. } => {
                let Some(eid) = eid(&key) else {
                    return Ok(OpResult::Touched(TouchOutcome::Missing));
                };
                let now = now.as_secs_f64();
                let stamp = to_system_time(now);
                let mut outcome = TouchOutcome::Missing;
                for _ in 0..TOUCH_ATTEMPTS {
                    let Some((version, Some(_))) = self.read(&client, eid, now).await? else {
                        break;
                    };
                    let Some(version) = version_text(version) else {
                        break;
                    };
                    let n = self
                        .bounded(client.execute(TOUCH, &[&eid, &stamp, &version]))
                        .await?;
                    if n == 1 {
                        outcome = TouchOutcome::Touched;
                        break;
                    }
                }
                OpResult::Touched(outcome)
            }
            StoreOp::Remove { key } => {
                if let Some(eid) = eid(&key) {
                    let stamp = to_system_time(wall_clock());
                    self.bounded(client.execute(REMOVE, &[&eid, &EMPTY_STATE, &stamp]))
                        .await?;
                }
                OpResult::Removed
            }
            StoreOp::RemoveIf {
                key,
                expected_version,
                now,
            } => {
                let Some(eid) = eid(&key) else {
                    return Ok(OpResult::RemovedIf(RemoveOutcome::Missing));
                };
                let now = now.as_secs_f64();
                OpResult::RemovedIf(
                    match self
                        .cas(&client, eid, expected_version, EMPTY_STATE, now)
                        .await?
                    {
                        Ok(_) => RemoveOutcome::Removed,
                        Err(true) => RemoveOutcome::Missing,
                        Err(false) => RemoveOutcome::Conflict,
                    },
                )
            }
            StoreOp::Wait { delay } => {
                tokio::time::sleep(delay).await;
                OpResult::Waited
            }
        })
    }

    pub(super) async fn authenticate(
        &self,
        login: &str,
        password: &str,
        now: f64,
    ) -> Result<Option<CwUser>, StoreError> {
        let client = self.client().await?;
        let Some(row) = self
            .bounded(client.query_opt(USER, &[&login, &self.source]))
            .await?
        else {
            return Ok(None);
        };
        let eid: i32 = row.try_get(0).map_err(error)?;
        let Some(hash): Option<Vec<u8>> = row.try_get(1).map_err(error)? else {
            return Ok(None);
        };
        let password = password.to_string();
        let verified = match tokio::runtime::Handle::try_current() {
            Ok(rt) => rt
                .spawn_blocking(move || password::verify(&password, &hash))
                .await
                .map_err(|e| other(alloc::format!("password check did not finish: {e}")))?,
            Err(_) => password::verify(&password, &hash),
        };
        if !verified {
            return Ok(None);
        }
        let states = self.bounded(client.query(STATE, &[&eid])).await?;
        let mut activated = false;
        for row in states {
            activated |= row.try_get::<_, &str>(0).map_err(error)? == "activated";
        }
        if !activated {
            return Ok(None);
        }
        let stamp = to_system_time(now);
        self.bounded(client.execute(LOGIN_TIME, &[&stamp, &stamp, &eid]))
            .await?;
        Ok(Some(CwUser {
            eid: i64::from(eid),
            login: login.to_string(),
            groups: self.groups_of(&client, eid).await?,
        }))
    }

    async fn groups_of(
        &self,
        client: &tokio_postgres::Client,
        eid: i32,
    ) -> Result<Vec<String>, StoreError> {
        let rows = self.bounded(client.query(GROUPS, &[&eid])).await?;
        rows.iter()
            .map(|r| r.try_get::<_, String>(0).map_err(error))
            .collect()
    }

    pub(super) async fn groups(&self, eid: i64) -> Result<Vec<String>, StoreError> {
        let Ok(eid) = i32::try_from(eid) else {
            return Ok(Vec::new());
        };
        let client = self.client().await?;
        self.groups_of(&client, eid).await
    }

    pub(super) async fn update_login_time(&self, eid: i64, now: f64) -> Result<bool, StoreError> {
        let Ok(eid) = i32::try_from(eid) else {
            return Ok(false);
        };
        let client = self.client().await?;
        let stamp = to_system_time(now);
        let n = self
            .bounded(client.execute(LOGIN_TIME, &[&stamp, &stamp, &eid]))
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn sweep(&self, cutoff: f64) -> Result<u64, StoreError> {
        let cutoff = to_system_time(cutoff);
        let mut total = 0;
        loop {
            let client = self.client().await?;
            let n = self
                .bounded(client.execute(SWEEP, &[&cutoff, &SWEEP_BATCH]))
                .await?;
            total += n;
            if n < SWEEP_BATCH.unsigned_abs() {
                return Ok(total);
            }
        }
    }
}
