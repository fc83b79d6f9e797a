//! `reconcile`: the export, the ledger and the API side by side, and every difference listed.
//! A co-sell record's connected referral (Microsoft's side) is checked too: its values are
//! compared with the export's (the fields the uploader patches); one the listing lacks is
//! looked up by id, and counts as missing only when the API answers 404.
//!
//! The export is mapped as `upload` would map it (same mapping, same payload hash); the API
//! is listed whole, in concurrent ranges at the rate limit ([`api_side`]); the ledger is
//! streamed. The join
//! itself is in [`join`], the printing in [`output`]. With `--adopt`, orphans (partner
//! referrals carrying an exported externalReferenceId the ledger lacks) are recorded in the
//! ledger under its lock, so the next upload updates them instead of creating duplicates.

mod api_side;
pub mod join;
pub mod output;

use std::collections::HashMap;

use serde_json::Value;

use self::api_side::list_api;
use self::join::{ApiIndex, Category, ExportEntry, Finding, Join};
use self::output::{Compared, Counts, Format, Reconciliation};
use super::{api_error, stdout_done, with_api, write_output};
use crate::cli::ReconcileArgs;
use crate::ledger::{self, Adopt, Ledger, LedgerError};
use crate::mapping::RowOutcome;
use crate::output_file::{Writes, check_writable};
use crate::referral::connected_patchable;
use crate::source::SourceOptions;
use crate::{Error, Exit};

/// The audit reason of an adoption.
const ADOPT_REASON: &str = "reconcile --adopt: orphan found in the API";

/// `reconcile`: see the command's `--help`.
pub fn reconcile_command(args: ReconcileArgs) -> Result<Exit, Error> {
    let format = args.output.as_deref().map(Format::of).transpose()?;
    if let Some(path) = &args.output {
        check_writable("--output", path, Writes::ByRename)?;
    }
    // The lock is taken before SQLite opens the file, and dropped after it.
    let lock = take_lock(&args)?;
    let mut ledger = Ledger::open_existing(&args.ledger)?;
    let read_only = ledger.is_read_only()?;
    if args.adopt && read_only {
        return Err(LedgerError::ReadOnly { path: args.ledger }.into());
    }
    let mirror = lock.is_some() && !read_only;
    let mapping = crate::preview::load_mapping(&args.mapping, &args.lookup)?;
    let source_options = SourceOptions::from_args(&args.input_args)?;
    let rows = crate::mapping::records(&mapping, &args.inputs, &source_options)?;
    let (export, mut compared) = load_export(rows);
    let api = list_api(&args, &mut ledger, mirror)?;
    compared.api_referrals = api.len() as u64;
    let mut join = Join::new(&export, &api);
    ledger.for_each_record(|record| {
        compared.ledger_records += 1;
        join.ledger_record(&record);
        Ok::<(), Error>(())
    })?;
    for (external_id, connected_id, found) in
        look_up_connected(&args, join.take_unlisted_connected())?
    {
        let Some(record) = ledger.get(&external_id)? else {
            continue;
        };
        match found {
            Some(json) => join.compare_connected(&record, &connected_id, &json),
            None => join.connected_missing(&record, &connected_id),
        }
    }
    let mut findings = join.finish();
    let adopted = match args.adopt {
        true => adopt(&mut ledger, &api, &mut findings)?,
        false => 0,
    };
    let result = Reconciliation {
        in_sync: findings.is_empty(),
        counts: Counts::of(&findings),
        adopted,
        compared,
        findings,
    };
    emit(&args, format, &result)?;
    Ok(if result.in_sync {
        Exit::Success
    } else {
        Exit::Partial
    })
}

/// The ledger's lock: required to adopt; otherwise taken when it is free, so that the mirror
/// can be refreshed. While another run holds it, reconcile lists every referral and leaves
/// the ledger alone.
fn take_lock(args: &ReconcileArgs) -> Result<Option<ledger::LedgerLock>, Error> {
    match ledger::lock_existing(&args.ledger) {
        Ok(lock) => Ok(Some(lock)),
        Err(err) if args.adopt => Err(err.into()),
        Err(err @ LedgerError::Missing { .. }) => Err(err.into()),
        Err(err) => {
            tracing::info!("the mirror is not refreshed ({err}); listing every referral");
            Ok(None)
        }
    }
}

/// The connected referrals the listing lacks, each looked up by id: its JSON, or `None` when
/// the API answers 404.
fn look_up_connected(
    args: &ReconcileArgs,
    unlisted: Vec<(String, String)>,
) -> Result<Vec<(String, String, Option<Value>)>, Error> {
    if unlisted.is_empty() {
        return Ok(Vec::new());
    }
    tracing::info!(
        count = unlisted.len(),
        "looking up connected referrals the listing left out"
    );
    with_api(&args.api, &args.ledger, |client| async move {
        let mut looked_up = Vec::new();
        for (external_id, id) in unlisted {
            let found = match client.get(&id).await {
                Ok(referral) => Some(referral.into_json()),
                Err(e) if e.status() == Some(404) => None,
                Err(e) => return Err(api_error(e)),
            };
            looked_up.push((external_id, id, found));
        }
        Ok(looked_up)
    })
}

/// Write `--output` (if asked), then the table or `--json` on stdout.
fn emit(
    args: &ReconcileArgs,
    format: Option<Format>,
    result: &Reconciliation,
) -> Result<(), Error> {
    if let (Some(path), Some(format)) = (&args.output, format) {
        write_output(path, |out| match format {
            Format::Csv => output::write_csv(out, &result.findings),
            Format::Json => output::write_json(out, result),
        })?;
    }
    let mut stdout = std::io::stdout().lock();
    stdout_done(match args.json {
        true => output::write_json(&mut stdout, result),
        false => output::write_table(&mut stdout, result),
    })
}

/// Index the mapped export by externalReferenceId, counting what could not be mapped.
fn load_export(rows: impl Iterator<Item = RowOutcome>) -> (HashMap<String, ExportEntry>, Compared) {
    let mut export = HashMap::new();
    let mut compared = Compared::default();
    for outcome in rows {
        compared.export_rows += 1;
        match outcome {
            RowOutcome::Mapped(record) => {
                let text = |key: &str| {
                    record
                        .referral
                        .get(key)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                let entry = ExportEntry {
                    hash: record.payload_hash(),
                    status: text("status"),
                    substatus: text("substatus"),
                    source: format!("{}:{}", record.file.display(), record.row),
                    connected: record.connected.as_ref().map(connected_patchable),
                };
                export.insert(record.external_id, entry);
            }
            RowOutcome::Skipped { .. } => compared.export_skipped += 1,
            RowOutcome::Invalid(_) => compared.export_invalid += 1,
        }
    }
    compared.export_records = export.len() as u64;
    (export, compared)
}

/// Record every single-referral orphan in the ledger; the number adopted.
fn adopt(ledger: &mut Ledger, api: &ApiIndex, findings: &mut [Finding]) -> Result<u64, Error> {
    let mut adopted = 0;
    for finding in findings
        .iter_mut()
        .filter(|f| f.category == Category::Orphan)
    {
        // Orphans carried by several referrals have no referral id: not adoptable.
        let Some(entry) = finding.referral_id.as_deref().and_then(|id| api.get(id)) else {
            continue;
        };
        ledger.adopt(&Adopt {
            external_id: finding.external_id.clone(),
            referral_id: entry.id.clone(),
            engagement_id: entry.engagement_id.clone(),
            etag: entry.etag.clone(),
            reason: ADOPT_REASON.to_owned(),
        })?;
        finding.adopted = true;
        finding.detail = format!(
            "adopted referral {}: the next upload sends the full payload to it",
            entry.id
        );
        adopted += 1;
    }
    Ok(adopted)
}
