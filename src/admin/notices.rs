//! The changes a run did not send because Partner Center would refuse them (`not_updatable`,
//! `closed_in_partner_center`), read back from the run's summary in the ledger, as rows of
//! the failures report: they are not failures, but an admin must see them next to what
//! failed, with the record's source row to fix in the CRM.

use serde_json::Value;

use crate::ledger::{Ledger, LedgerError, RunId};

use super::report::COLUMNS;

/// One report row per notice of `run`, or of the newest run that has notices.
pub fn notice_rows(
    ledger: &Ledger,
    run: Option<RunId>,
) -> Result<Vec<[String; COLUMNS.len()]>, LedgerError> {
    let runs = ledger.runs(u32::MAX)?;
    let chosen = runs
        .iter()
        .filter(|r| run.is_none_or(|wanted| r.id == wanted))
        .find_map(|r| {
            let counts: Value = serde_json::from_str(r.counts.as_deref()?).ok()?;
            let notices = counts.get("notices")?.as_array()?.clone();
            (!notices.is_empty()).then_some((r.id, notices))
        });
    let Some((run, notices)) = chosen else {
        return Ok(Vec::new());
    };
    let mut rows = Vec::with_capacity(notices.len());
    for notice in &notices {
        let text = |key: &str| {
            notice
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let external_id = text("external_id");
        let record = ledger.get(&external_id)?;
        let field = |get: fn(&crate::ledger::LedgerRecord) -> Option<String>| {
            record.as_ref().and_then(get).unwrap_or_default()
        };
        let (file, line) = record
            .as_ref()
            .and_then(|r| r.source.as_ref())
            .map(|s| (s.file.clone(), s.row.to_string()))
            .unwrap_or_default();
        rows.push([
            external_id.clone(),
            field(|r| r.referral_id.clone()),
            field(|r| r.engagement_id.clone()),
            field(|r| r.connected_referral_id.clone()),
            text("kind"),
            String::new(),
            String::new(),
            String::new(),
            text("kind"),
            format!("{}: {}", text("field"), text("reason")),
            file,
            line,
            String::new(),
            String::new(),
            run.to_string(),
            text("field"),
        ]);
    }
    Ok(rows)
}
