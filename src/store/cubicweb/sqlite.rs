//! The SQLite side of [`CubicWebStore`](super::CubicWebStore): one connection, used by
//! one call at a time; every write in one `BEGIN IMMEDIATE` transaction (SQLite's
//! writer lock), bounded by the busy timeout.

extern crate std;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{
    eid_of, live_state, other, parse_sqlite_datetime, password, pickled_state, record, refuse_key,
    session_id, sqlite_datetime, version_of, wall_clock, CubicWebOptions, CwUser, EMPTY_STATE,
    SWEEP_BATCH,
};
use crate::server::store::{CreateOutcome, TouchOutcome};
use crate::server::{OpResult, RemoveOutcome, SaveOutcome, StoreError, StoreErrorKind, StoreOp};

const LOAD: &str = "SELECT cw_cwsessiondata, cw_creation_date, cw_modification_date \
                    FROM cw_CWSession WHERE cw_eid = ?1";
const UPDATE: &str = "UPDATE cw_CWSession SET cw_cwsessiondata = ?1, cw_modification_date = ?2 \
                      WHERE cw_eid = ?3";
const TOUCH: &str = "UPDATE cw_CWSession SET cw_modification_date = ?1 WHERE cw_eid = ?2";
const USER: &str = "SELECT u.cw_eid, u.cw_upassword FROM cw_CWUser AS u \
                    JOIN cw_source_relation AS s ON s.eid_from = u.cw_eid AND s.eid_to = ?2 \
                    WHERE u.cw_login = ?1";
const STATE: &str = "SELECT st.cw_name FROM in_state_relation AS r \
                     JOIN cw_State AS st ON st.cw_eid = r.eid_to WHERE r.eid_from = ?1";
const GROUPS: &str = "SELECT g.cw_name FROM in_group_relation AS r \
                      JOIN cw_CWGroup AS g ON g.cw_eid = r.eid_to \
                      WHERE r.eid_from = ?1 ORDER BY g.cw_name";
const LOGIN_TIME: &str = "UPDATE cw_CWUser SET cw_last_login_time = ?1, \
                          cw_modification_date = ?2 WHERE cw_eid = ?3";

pub(super) struct Backend {
    conn: Mutex<Connection>,
    pub(super) etype: i64,
    pub(super) source: i64,
}

fn error(e: rusqlite::Error) -> StoreError {
    let kind = match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreErrorKind::Timeout
        }
        Some(
            rusqlite::ErrorCode::CannotOpen
            | rusqlite::ErrorCode::ReadOnly
            | rusqlite::ErrorCode::DiskFull,
        ) => StoreErrorKind::Unavailable,
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
            StoreErrorKind::Corrupt
        }
        _ => StoreErrorKind::Other,
    };
    StoreError::new(kind, e)
}

/// A row as read: its data, dates (seconds) and version; `None` when it is no record.
struct Row {
    state: crate::codec::json::State,
    created: f64,
    modified: f64,
    version: u64,
}

/// A date column as text (what the version hashes) and as seconds.
fn date(value: ValueRef<'_>) -> (Vec<u8>, Option<f64>) {
    match value {
        ValueRef::Text(t) => (
            t.to_vec(),
            core::str::from_utf8(t).ok().and_then(parse_sqlite_datetime),
        ),
        ValueRef::Integer(i) => (i.to_string().into_bytes(), Some(i as f64)),
        ValueRef::Real(r) => (alloc::format!("{r:?}").into_bytes(), Some(r)),
        ValueRef::Blob(b) => (b.to_vec(), None),
        ValueRef::Null => (Vec::new(), None),
    }
}

/// The row of `eid`: `(version, row if it is a record)`, or `None` without a row.
fn read(conn: &Connection, eid: i64, now: f64) -> Result<Option<(u64, Option<Row>)>, StoreError> {
    conn.query_row(LOAD, params![eid], |r| {
        let data = match r.get_ref(0)? {
            ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
            _ => None,
        };
        let (_, created) = date(r.get_ref(1)?);
        let (modified_text, modified) = date(r.get_ref(2)?);
        let version = version_of(data.as_deref(), &modified_text);
        let row = live_state(data.as_deref()).map(|state| {
            // An unreadable date: the row was just used (the cookie decides).
            let modified = modified.unwrap_or(now);
            Row {
                state,
                created: created.unwrap_or(modified),
                modified,
                version,
            }
        });
        Ok((version, row))
    })
    .optional()
    .map_err(error)
}

impl Backend {
    pub(super) fn open(path: &Path, options: &CubicWebOptions) -> Result<Backend, StoreError> {
        let conn = Connection::open(path).map_err(error)?;
        conn.busy_timeout(options.call_timeout()).map_err(error)?;
        let lookup = |sql: &str, what: &str| -> Result<i64, StoreError> {
            conn.query_row(sql, [], |r| r.get::<_, i64>(0))
                .optional()
                .map_err(error)?
                .ok_or_else(|| other(alloc::format!("not a CubicWeb database: no {what}")))
        };
        let etype = lookup(
            "SELECT cw_eid FROM cw_CWEType WHERE cw_name = 'CWSession'",
            "CWEType CWSession",
        )?;
        let source = lookup(
            "SELECT cw_eid FROM cw_CWSource WHERE cw_name = 'system'",
            "CWSource system",
        )?;
        Ok(Backend {
            conn: Mutex::new(conn),
            etype,
            source,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A connection is never left half-used by a panic: rusqlite rolls back an
        // unfinished transaction when it is dropped.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn execute(
        &self,
        op: StoreOp<'_>,
        options: &CubicWebOptions,
    ) -> Result<OpResult, StoreError> {
        let mut conn = self.conn();
        Ok(match op {
            StoreOp::Load { key, now } => {
                let now = now.as_secs_f64();
                let row = match eid_of(&key) {
                    Some(eid) => read(&conn, eid, now)?.and_then(|(_, row)| row),
                    None => None,
                };
                OpResult::Loaded(row.and_then(|r| {
                    record(
                        &r.state,
                        r.created,
                        r.modified,
                        r.version,
                        options.timeout(),
                    )
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
                let now = now.as_secs_f64();
                let stamp = sqlite_datetime(now);
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(error)?;
                // SQLITEEidGenerator: in the create's transaction.
                tx.execute("UPDATE entities_id_seq SET last = last + 1", [])
                    .map_err(error)?;
                let eid: i64 = tx
                    .query_row("SELECT last FROM entities_id_seq", [], |r| r.get(0))
                    .map_err(error)?;
                tx.execute(
                    "INSERT INTO entities (eid, type) VALUES (?1, 'CWSession')",
                    params![eid],
                )
                .map_err(error)?;
                for table in ["is_relation", "is_instance_of_relation"] {
                    tx.execute(
                        &alloc::format!("INSERT INTO {table} (eid_from, eid_to) VALUES (?1, ?2)"),
                        params![eid, self.etype],
                    )
                    .map_err(error)?;
                }
                tx.execute(
                    "INSERT INTO cw_source_relation (eid_from, eid_to) VALUES (?1, ?2)",
                    params![eid, self.source],
                )
                .map_err(error)?;
                tx.execute(
                    "INSERT INTO cw_CWSession (cw_creation_date, cw_cwsessiondata, cw_cwuri, \
                     cw_eid, cw_modification_date) VALUES (?1, ?2, ?3, ?4, ?1)",
                    params![stamp, pickled, options.cwuri(eid), eid],
                )
                .map_err(error)?;
                tx.commit().map_err(error)?;
                OpResult::Created(CreateOutcome::Allocated {
                    id: session_id(eid)?,
                    version: version_of(Some(&pickled), stamp.as_bytes()),
                })
            }
            StoreOp::Save {
                key,
                data,
                expected_version,
                now,
                ..
            } => {
                let Some(eid) = eid_of(&key) else {
                    return Ok(OpResult::Saved(SaveOutcome::Missing));
                };
                let pickled = pickled_state(data)?;
                let now = now.as_secs_f64();
                match cas_write(&mut conn, eid, expected_version, &pickled, now)? {
                    Cas::Missing => OpResult::Saved(SaveOutcome::Missing),
                    Cas::Conflict => OpResult::Saved(SaveOutcome::Conflict),
                    Cas::Written(version) => OpResult::Saved(SaveOutcome::Saved { version }),
                }
            }
            StoreOp::Touch { key, now, .. } => {
                let Some(eid) = eid_of(&key) else {
                    return Ok(OpResult::Touched(TouchOutcome::Missing));
                };
                let now = now.as_secs_f64();
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(error)?;
                let live = matches!(read(&tx, eid, now)?, Some((_, Some(_))));
                if live {
                    tx.execute(TOUCH, params![sqlite_datetime(now), eid])
                        .map_err(error)?;
                }
                tx.commit().map_err(error)?;
                OpResult::Touched(if live {
                    TouchOutcome::Touched
                } else {
                    TouchOutcome::Missing
                })
            }
            StoreOp::Remove { key } => {
                if let Some(eid) = eid_of(&key) {
                    conn.execute(
                        UPDATE,
                        params![EMPTY_STATE, sqlite_datetime(wall_clock()), eid],
                    )
                    .map_err(error)?;
                }
                OpResult::Removed
            }
            StoreOp::RemoveIf {
                key,
                expected_version,
                now,
            } => {
                let Some(eid) = eid_of(&key) else {
                    return Ok(OpResult::RemovedIf(RemoveOutcome::Missing));
                };
                let now = now.as_secs_f64();
                OpResult::RemovedIf(
                    match cas_write(&mut conn, eid, expected_version, EMPTY_STATE, now)? {
                        Cas::Missing => RemoveOutcome::Missing,
                        Cas::Conflict => RemoveOutcome::Conflict,
                        Cas::Written(_) => RemoveOutcome::Removed,
                    },
                )
            }
            StoreOp::Wait { .. } => OpResult::Waited,
        })
    }

    pub(super) fn authenticate(
        &self,
        login: &str,
        password: &str,
        now: f64,
    ) -> Result<Option<CwUser>, StoreError> {
        let found = {
            let conn = self.conn();
            conn.query_row(USER, params![login, self.source], |r| {
                let hash: Option<Vec<u8>> = match r.get_ref(1)? {
                    ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
                    _ => None,
                };
                Ok((r.get::<_, i64>(0)?, hash))
            })
            .optional()
            .map_err(error)?
        };
        // Hashing runs without the connection: other calls go on meanwhile.
        let Some((eid, Some(hash))) = found else {
            return Ok(None);
        };
        if !password::verify(password, &hash) {
            return Ok(None);
        }
        let conn = self.conn();
        let activated = {
            let mut states = conn.prepare(STATE).map_err(error)?;
            let names = states
                .query_map(params![eid], |r| r.get::<_, String>(0))
                .map_err(error)?;
            let mut activated = false;
            for name in names {
                activated |= name.map_err(error)? == "activated";
            }
            activated
        };
        if !activated {
            return Ok(None);
        }
        let stamp = sqlite_datetime(now);
        conn.execute(LOGIN_TIME, params![stamp, stamp, eid])
            .map_err(error)?;
        let groups = groups(&conn, eid)?;
        Ok(Some(CwUser {
            eid,
            login: login.to_string(),
            groups,
        }))
    }

    pub(super) fn groups(&self, eid: i64) -> Result<Vec<String>, StoreError> {
        groups(&self.conn(), eid)
    }

    pub(super) fn update_login_time(&self, eid: i64, now: f64) -> Result<bool, StoreError> {
        let stamp = sqlite_datetime(now);
        let n = self
            .conn()
            .execute(LOGIN_TIME, params![stamp, stamp, eid])
            .map_err(error)?;
        Ok(n == 1)
    }

    pub(super) fn sweep(&self, cutoff: f64) -> Result<u64, StoreError> {
        let cutoff = sqlite_datetime(cutoff);
        let mut total = 0;
        loop {
            let mut conn = self.conn();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(error)?;
            let eids: Vec<i64> = {
                let mut select = tx
                    .prepare(
                        "SELECT cw_eid FROM cw_CWSession WHERE cw_modification_date < ?1 \
                         ORDER BY cw_eid LIMIT ?2",
                    )
                    .map_err(error)?;
                let rows = select
                    .query_map(params![cutoff, SWEEP_BATCH], |r| r.get(0))
                    .map_err(error)?;
                rows.collect::<Result<_, _>>().map_err(error)?
            };
            if eids.is_empty() {
                return Ok(total);
            }
            // Integers from the database itself: safe to inline.
            let list = eids
                .iter()
                .map(i64::to_string)
                .collect::<Vec<String>>()
                .join(",");
            for table in [
                "is_relation",
                "is_instance_of_relation",
                "cw_source_relation",
                "created_by_relation",
                "owned_by_relation",
            ] {
                tx.execute(
                    &alloc::format!("DELETE FROM {table} WHERE eid_from IN ({list})"),
                    [],
                )
                .map_err(error)?;
            }
            tx.execute(
                &alloc::format!("DELETE FROM cw_CWSession WHERE cw_eid IN ({list})"),
                [],
            )
            .map_err(error)?;
            tx.execute(
                &alloc::format!(
                    "DELETE FROM entities WHERE type = 'CWSession' AND eid IN ({list})"
                ),
                [],
            )
            .map_err(error)?;
            tx.commit().map_err(error)?;
            total += eids.len() as u64;
            if (eids.len() as i64) < SWEEP_BATCH {
                return Ok(total);
            }
        }
    }
}

fn groups(conn: &Connection, eid: i64) -> Result<Vec<String>, StoreError> {
    let mut select = conn.prepare(GROUPS).map_err(error)?;
    let rows = select
        .query_map(params![eid], |r| r.get::<_, String>(0))
        .map_err(error)?;
    rows.collect::<Result<_, _>>().map_err(error)
}

enum Cas {
    Missing,
    Conflict,
    Written(u64),
}

/// Writes `pickled` to the row of `eid` if it is a record with `expected` version, in
/// one `BEGIN IMMEDIATE` transaction.
fn cas_write(
    conn: &mut Connection,
    eid: i64,
    expected: u64,
    pickled: &[u8],
    now: f64,
) -> Result<Cas, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(error)?;
    let outcome = match read(&tx, eid, now)? {
        None | Some((_, None)) => Cas::Missing,
        Some((version, Some(_))) if version != expected => Cas::Conflict,
        Some(_) => {
            let stamp = sqlite_datetime(now);
            tx.execute(UPDATE, params![pickled, stamp, eid])
                .map_err(error)?;
            Cas::Written(version_of(Some(pickled), stamp.as_bytes()))
        }
    };
    tx.commit().map_err(error)?;
    Ok(outcome)
}
