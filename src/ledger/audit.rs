//! The audited admin changes of the mapping: `forget`, `relink` and `adopt`. Each runs in one
//! transaction with its `audit` row, so the trail can never miss a change.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::record::now_text;
use super::write::sql_error;
use super::{Ledger, LedgerError};

/// Record an orphan found in the API (a referral with a known externalReferenceId and no
/// ledger record) as synced, with an audit row. The payload hash stays empty, so the next
/// upload of that record diffs against nothing and sends a full update.
#[derive(Debug, Clone)]
pub struct Adopt {
    pub external_id: String,
    pub referral_id: String,
    pub engagement_id: Option<String>,
    pub etag: Option<String>,
    pub reason: String,
}

impl Ledger {
    /// Remove a record (the referral in Partner Center is left alone), with an audit row.
    /// Returns the referral id it had.
    pub fn forget(
        &mut self,
        external_id: &str,
        reason: &str,
    ) -> Result<Option<String>, LedgerError> {
        self.audited("forget a record", |tx, path| {
            let old = current_referral(tx, path, external_id)?;
            tx.execute("DELETE FROM records WHERE external_id = ?1", [external_id])?;
            audit(tx, "forget", external_id, old.as_deref(), None, reason)?;
            Ok(old)
        })
    }

    /// Point a record at another referral id, with an audit row. Returns the old referral id.
    /// `found`: the engagementId and eTag the API gave for the referral, when it was asked
    /// (`relink --offline` does not ask; they stay empty and the next upload reads them).
    ///
    /// The record becomes `synced`; the engagementId, connected referral, eTags and the open
    /// request (all of the old referral) are cleared, and so is the payload hash: the next
    /// upload of the record diffs against nothing and sends a full update to the new referral,
    /// which makes Partner Center match the export again.
    pub fn relink(
        &mut self,
        external_id: &str,
        referral_id: &str,
        found: Option<(Option<&str>, Option<&str>)>,
        reason: &str,
    ) -> Result<Option<String>, LedgerError> {
        let (engagement_id, etag) = found.unwrap_or((None, None));
        self.audited("relink a record", |tx, path| {
            let old = current_referral(tx, path, external_id)?;
            tx.execute(
                "UPDATE records SET referral_id = ?2, state = 'synced', engagement_id = ?4,
                     connected_referral_id = NULL, etag = ?5, connected_etag = NULL,
                     payload_hash = NULL, failure_kind = NULL, step = NULL, request_id = NULL,
                     last_http_status = NULL, last_error_code = NULL,
                     last_error_message = NULL, updated_at = ?3, synced_at = ?3
                 WHERE external_id = ?1",
                params![external_id, referral_id, now_text(), engagement_id, etag],
            )?;
            audit(
                tx,
                "relink",
                external_id,
                old.as_deref(),
                Some(referral_id),
                reason,
            )?;
            Ok(old)
        })
    }

    /// Record an orphan as synced, with an audit row (see [`Adopt`]). Fails with
    /// [`LedgerError::AlreadyTracked`] if the ledger has the record.
    pub fn adopt(&mut self, op: &Adopt) -> Result<(), LedgerError> {
        self.audited("adopt a referral", |tx, path| {
            let existing: Option<Option<String>> = tx
                .query_row(
                    "SELECT referral_id FROM records WHERE external_id = ?1",
                    [&op.external_id],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(referral_id) = existing {
                return Err(Audited::Ledger(LedgerError::AlreadyTracked {
                    path: path.to_path_buf(),
                    external_id: op.external_id.clone(),
                    referral_id,
                }));
            }
            let now = now_text();
            tx.execute(
                "INSERT INTO records (external_id, state, referral_id, engagement_id, etag,
                     created_at, updated_at, synced_at)
                 VALUES (?1, 'synced', ?2, ?3, ?4, ?5, ?5, ?5)",
                params![
                    op.external_id,
                    op.referral_id,
                    op.engagement_id,
                    op.etag,
                    now
                ],
            )?;
            audit(
                tx,
                "adopt",
                &op.external_id,
                None,
                Some(&op.referral_id),
                &op.reason,
            )?;
            Ok(())
        })
    }

    /// Run `body` in a transaction, mapping SQLite errors to `op`.
    fn audited<T>(
        &mut self,
        op: &'static str,
        body: impl FnOnce(&Connection, &Path) -> Result<T, Audited>,
    ) -> Result<T, LedgerError> {
        let path = self.path.clone();
        let to_ledger = |e: Audited| match e {
            Audited::Sql(source) => sql_error(&path, op, source),
            Audited::Ledger(e) => e,
        };
        let tx = self.conn.transaction().map_err(|e| to_ledger(e.into()))?;
        let value = body(&tx, &path).map_err(to_ledger)?;
        tx.commit().map_err(|e| to_ledger(e.into()))?;
        Ok(value)
    }
}

/// An error inside an audited change: SQL, or a ledger-level refusal.
enum Audited {
    Sql(rusqlite::Error),
    Ledger(LedgerError),
}

impl From<rusqlite::Error> for Audited {
    fn from(e: rusqlite::Error) -> Self {
        Audited::Sql(e)
    }
}

/// The referral id of a record that must exist.
fn current_referral(
    conn: &Connection,
    path: &Path,
    external_id: &str,
) -> Result<Option<String>, Audited> {
    conn.query_row(
        "SELECT referral_id FROM records WHERE external_id = ?1",
        [external_id],
        |row| row.get(0),
    )
    .optional()?
    .ok_or_else(|| {
        Audited::Ledger(LedgerError::UnknownRecord {
            path: path.to_path_buf(),
            external_id: external_id.to_owned(),
        })
    })
}

fn audit(
    conn: &Connection,
    action: &str,
    external_id: &str,
    old: Option<&str>,
    new: Option<&str>,
    reason: &str,
) -> Result<(), rusqlite::Error> {
    conn.execute(
        "INSERT INTO audit (at, action, external_id, old_referral_id, new_referral_id, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![now_text(), action, external_id, old, new, reason],
    )?;
    Ok(())
}
