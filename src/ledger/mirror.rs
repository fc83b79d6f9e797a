//! The API mirror: Partner Center's side of every referral the tool has listed (ours, the
//! connected Microsoft ones, inbound ones), and how far that copy is current.
//!
//! `pull` delivers the mirror to a file: a row whose eTag differs from the eTag the last
//! durable file carried is *undelivered*. The mirror is written by the listing (one
//! transaction per listing, with its watermark) and the delivery marks by `pull` after its file
//! is renamed into place (one transaction), so a kill between the two leaves the rows
//! undelivered and the next pull delivers them. Every writer holds the run lock.
//!
//! Rows are keyed by the API they came from (its base URL, or `sandbox` for the embedded one)
//! and the referral id: two tenants' mirrors in one ledger never meet.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::record::now_text;
use super::write::sql_error;
use super::{Ledger, LedgerError};

/// The columns [`row_of`] reads.
const COLUMNS: &str = "referral_id, engagement_id, external_id, direction, status, substatus,
    status_reason, etag, updated_date_time, microsoft_msx_id, json, delivered_etag,
    delivered_json";

/// A referral as the mirror holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorRow {
    pub referral_id: String,
    pub engagement_id: Option<String>,
    pub external_id: Option<String>,
    pub direction: Option<String>,
    pub status: Option<String>,
    pub substatus: Option<String>,
    pub status_reason: Option<String>,
    pub etag: Option<String>,
    /// `updatedDateTime` as the API wrote it.
    pub updated_date_time: Option<String>,
    /// `trackingInfo.microsoftMsxId`.
    pub microsoft_msx_id: Option<String>,
    /// The referral as last listed.
    pub json: Value,
    /// What the last durable pull file carried (`None`: never delivered).
    pub delivered_etag: Option<String>,
    pub delivered_json: Option<Value>,
}

/// A delivered row: the eTag and JSON the file carried.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub referral_id: String,
    pub etag: Option<String>,
    pub json: Value,
}

/// How far the mirror of one API is current.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watermark {
    /// The greatest `updatedDateTime` a listing stored.
    pub updated_through: Option<Timestamp>,
    /// When the last listing of every referral ended.
    pub full_listing_at: Option<Timestamp>,
}

/// What one store of a listing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    /// Rows new to the mirror or with another eTag.
    pub changed: u64,
    /// Rows with the eTag the mirror had.
    pub unchanged: u64,
}

impl Ledger {
    /// Store listed referrals of `api` (an object each, with a string `id`; others are
    /// skipped) and advance the watermark to `through` (never back), in one transaction.
    /// A referral with the eTag the mirror has is left alone. `full`: the listing covered every
    /// referral, so its end is recorded.
    pub fn mirror_store(
        &mut self,
        api: &str,
        referrals: &[Value],
        through: Option<Timestamp>,
        full: bool,
    ) -> Result<Stored, LedgerError> {
        self.in_transaction("store listed referrals in the mirror", |tx| {
            let mut stored = Stored::default();
            for json in referrals {
                match upsert(tx, api, json)? {
                    true => stored.changed += 1,
                    false => stored.unchanged += 1,
                }
            }
            advance(tx, api, through, full)?;
            Ok(stored)
        })
    }

    /// The watermark of `api` (all `None` before its first listing).
    pub fn mirror_watermark(&self, api: &str) -> Result<Watermark, LedgerError> {
        let op = "read the mirror's watermark";
        let found: Option<(Option<String>, Option<String>)> = self
            .conn
            .query_row(
                "SELECT updated_through, full_listing_at FROM mirror_watermark WHERE api = ?1",
                [api],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| self.sql_error(op, e))?;
        let Some((through, full)) = found else {
            return Ok(Watermark::default());
        };
        let parse = |column: &'static str, text: Option<String>| {
            text.map(|t| {
                t.parse::<Timestamp>()
                    .map_err(|_| super::record::corrupt(&self.path, api, column, &t))
            })
            .transpose()
        };
        Ok(Watermark {
            updated_through: parse("mirror_watermark.updated_through", through)?,
            full_listing_at: parse("mirror_watermark.full_listing_at", full)?,
        })
    }

    /// The rows of `api` whose eTag (or, without one, JSON) differs from what was delivered,
    /// oldest change first.
    pub fn mirror_undelivered(&self, api: &str) -> Result<Vec<MirrorRow>, LedgerError> {
        self.mirror_rows(
            "read the mirror's undelivered rows",
            "delivered_json IS NULL OR etag IS NOT delivered_etag
                 OR (etag IS NULL AND json IS NOT delivered_json)",
            api,
        )
    }

    /// Every row of `api` that belongs to an engagement (to find a co-sell's other side).
    pub fn mirror_engaged(&self, api: &str) -> Result<Vec<MirrorRow>, LedgerError> {
        self.mirror_rows(
            "read the mirror's engagements",
            "engagement_id IS NOT NULL",
            api,
        )
    }

    /// Every row of `api` (what `reconcile` compares with after an incremental refresh).
    pub fn mirror_all(&self, api: &str) -> Result<Vec<MirrorRow>, LedgerError> {
        self.mirror_rows("read the mirror", "1 = 1", api)
    }

    /// Drop the rows of `api` whose referral a full listing no longer holds (Partner Center
    /// deletes none; a sandbox reset or a support case may), in one transaction; how many.
    pub fn mirror_forget_unlisted(
        &mut self,
        api: &str,
        listed: &std::collections::HashSet<&str>,
    ) -> Result<u64, LedgerError> {
        self.in_transaction("drop unlisted mirror rows", |tx| {
            let held: Vec<String> = tx
                .prepare_cached("SELECT referral_id FROM mirror WHERE api = ?1")?
                .query_map([api], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let mut stmt =
                tx.prepare_cached("DELETE FROM mirror WHERE api = ?1 AND referral_id = ?2")?;
            let mut dropped = 0;
            for id in held.iter().filter(|id| !listed.contains(id.as_str())) {
                dropped += stmt.execute(params![api, id])? as u64;
            }
            Ok(dropped)
        })
    }

    /// One row of `api`.
    pub fn mirror_get(
        &self,
        api: &str,
        referral_id: &str,
    ) -> Result<Option<MirrorRow>, LedgerError> {
        let sql = format!("SELECT {COLUMNS} FROM mirror WHERE api = ?1 AND referral_id = ?2");
        self.conn
            .query_row(&sql, params![api, referral_id], row_of)
            .optional()
            .map_err(|e| self.sql_error("read a mirror row", e))
    }

    fn mirror_rows(
        &self,
        op: &'static str,
        condition: &str,
        api: &str,
    ) -> Result<Vec<MirrorRow>, LedgerError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM mirror WHERE api = ?1 AND ({condition})
             ORDER BY updated_date_time, referral_id"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.sql_error(op, e))?;
        let rows = stmt
            .query_map([api], row_of)
            .map_err(|e| self.sql_error(op, e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sql_error(op, e))
    }

    /// Record that a durable file carried `rows` of `api`, in one transaction.
    pub fn mirror_mark_delivered(
        &mut self,
        api: &str,
        rows: &[Delivered],
    ) -> Result<(), LedgerError> {
        self.in_transaction("mark mirror rows delivered", |tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE mirror SET delivered_etag = ?3, delivered_json = ?4
                 WHERE api = ?1 AND referral_id = ?2",
            )?;
            for row in rows {
                let json = row.json.to_string();
                stmt.execute(params![api, row.referral_id, row.etag, json])?;
            }
            Ok(())
        })
    }

    /// Run `body` in one transaction; an error names `op` and the ledger.
    fn in_transaction<T>(
        &mut self,
        op: &'static str,
        body: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, LedgerError> {
        let path = self.path.clone();
        let run = |conn: &mut Connection| {
            let tx = conn.transaction()?;
            let value = body(&tx)?;
            tx.commit()?;
            Ok(value)
        };
        run(&mut self.conn).map_err(|e| sql_error(&path, op, e))
    }
}

/// Insert or update one listed referral; `false` when the mirror has its eTag already (or,
/// without an eTag, its JSON) or it has no id.
fn upsert(conn: &Connection, api: &str, json: &Value) -> Result<bool, rusqlite::Error> {
    let text = |path: &[&str]| {
        path.iter()
            .try_fold(json, |value, key| value.get(key))
            .and_then(Value::as_str)
    };
    let Some(id) = text(&["id"]).filter(|id| !id.is_empty()) else {
        return Ok(false);
    };
    let mut stmt = conn.prepare_cached(
        "INSERT INTO mirror (api, referral_id, engagement_id, external_id, direction, status,
             substatus, status_reason, etag, updated_date_time, microsoft_msx_id, json, seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (api, referral_id) DO UPDATE SET
             engagement_id = excluded.engagement_id, external_id = excluded.external_id,
             direction = excluded.direction, status = excluded.status,
             substatus = excluded.substatus, status_reason = excluded.status_reason,
             etag = excluded.etag, updated_date_time = excluded.updated_date_time,
             microsoft_msx_id = excluded.microsoft_msx_id, json = excluded.json,
             seen_at = excluded.seen_at
         WHERE mirror.etag IS NOT excluded.etag
             OR (excluded.etag IS NULL AND mirror.json IS NOT excluded.json)",
    )?;
    let changed = stmt.execute(params![
        api,
        id,
        text(&["engagementId"]),
        text(&["externalReferenceId"]),
        text(&["direction"]),
        text(&["status"]),
        text(&["substatus"]),
        text(&["statusReason"]),
        text(&["eTag"]),
        text(&["updatedDateTime"]),
        text(&["trackingInfo", "microsoftMsxId"]),
        json.to_string(),
        now_text(),
    ])?;
    Ok(changed > 0)
}

/// Move the watermark of `api` forward to `through` (never back); `full` records the end of
/// a listing of everything.
fn advance(
    conn: &Connection,
    api: &str,
    through: Option<Timestamp>,
    full: bool,
) -> Result<(), rusqlite::Error> {
    let current: Option<String> = conn
        .query_row(
            "SELECT updated_through FROM mirror_watermark WHERE api = ?1",
            [api],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    let current = current.and_then(|t| t.parse::<Timestamp>().ok());
    let through = current.max(through).map(|t| format!("{t:.6}"));
    let full_at = full.then(now_text);
    conn.execute(
        "INSERT INTO mirror_watermark (api, updated_through, full_listing_at)
         VALUES (?1, ?2, ?3)
         ON CONFLICT (api) DO UPDATE SET updated_through = excluded.updated_through,
             full_listing_at = coalesce(excluded.full_listing_at, full_listing_at)",
        params![api, through, full_at],
    )?;
    Ok(())
}

fn row_of(row: &Row<'_>) -> Result<MirrorRow, rusqlite::Error> {
    let json = |index: usize| -> Result<Option<Value>, rusqlite::Error> {
        let text: Option<String> = row.get(index)?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    index,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
        })
        .transpose()
    };
    Ok(MirrorRow {
        referral_id: row.get(0)?,
        engagement_id: row.get(1)?,
        external_id: row.get(2)?,
        direction: row.get(3)?,
        status: row.get(4)?,
        substatus: row.get(5)?,
        status_reason: row.get(6)?,
        etag: row.get(7)?,
        updated_date_time: row.get(8)?,
        microsoft_msx_id: row.get(9)?,
        json: json(10)?.unwrap_or(Value::Null),
        delivered_etag: row.get(11)?,
        delivered_json: json(12)?,
    })
}

impl Ledger {
    /// The CRM record (externalReferenceId) of every referral the ledger knows, by referral
    /// id: the one it became and, for a co-sell record, its connected Microsoft referral.
    pub fn records_by_referral(
        &self,
    ) -> Result<std::collections::HashMap<String, String>, LedgerError> {
        let op = "read the records' referral ids";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT external_id, referral_id, connected_referral_id FROM records
                 WHERE referral_id IS NOT NULL OR connected_referral_id IS NOT NULL",
            )
            .map_err(|e| self.sql_error(op, e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, Option<String>>(2)?,
                ))
            })
            .map_err(|e| self.sql_error(op, e))?;
        let mut map = std::collections::HashMap::new();
        for row in rows {
            let (external_id, referral, connected) = row.map_err(|e| self.sql_error(op, e))?;
            for id in [connected, referral].into_iter().flatten() {
                map.insert(id, external_id.clone());
            }
        }
        Ok(map)
    }
}
