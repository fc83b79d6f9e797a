//! `reconcile`: the export, the ledger and the API side by side, and every difference listed.
//! A co-sell record's connected referral (Microsoft's side) is checked too: its values are
//! compared with the export's (the fields the uploader patches); one the listing lacks is
//! looked up by id, and counts as missing only when the API answers 404.
//!
//! The export is mapped as `upload` would map it (same mapping, same payload hash); the API
//! is listed whole (every page, following `@odata.nextLink`); the ledger is streamed. The join
//! itself is in [`join`], the printing in [`output`]. With `--adopt`, orphans (partner
//! referrals carrying an exported externalReferenceId the ledger lacks) are recorded in the
//! ledger under its lock, so the next upload updates them instead of creating duplicates.

pub mod join;
pub mod output;

use std::collections::HashMap;

use serde_json::Value;

use self::join::{ApiEntry, ApiIndex, Category, ExportEntry, Finding, Join};
use self::output::{Compared, Counts, Format, Reconciliation};
use super::{api_error, stdout_done, with_api, write_output};
use crate::api::client::ApiReferral;
use crate::cli::ReconcileArgs;
use crate::ledger::{self, Adopt, Ledger, LedgerError};
use crate::mapping::RowOutcome;
use crate::output_file::{Writes, check_writable};
use crate::source::SourceOptions;
use crate::upload::engine::{connected_fields, hash_of};
use crate::{Error, Exit};

/// The audit reason of an adoption.
const ADOPT_REASON: &str = "reconcile --adopt: orphan found in the API";

/// `reconcile`: see the command's `--help`.
pub fn reconcile_command(args: ReconcileArgs) -> Result<Exit, Error> {
    let format = args.output.as_deref().map(Format::of).transpose()?;
    if let Some(path) = &args.output {
        check_writable("--output", path, Writes::ByRename)?;
    }
    // Adopting writes: the lock is taken before SQLite opens the file, and dropped after it.
    let _lock = match args.adopt {
        true => Some(ledger::lock_existing(&args.ledger)?),
        false => None,
    };
    let mut ledger = Ledger::open_existing(&args.ledger)?;
    if args.adopt && ledger.is_read_only()? {
        return Err(LedgerError::ReadOnly { path: args.ledger }.into());
    }
    let mapping = crate::preview::load_mapping(&args.mapping, &args.lookup)?;
    let source_options = SourceOptions::from_args(&args.input_args)?;
    let rows = crate::mapping::records(&mapping, &args.inputs, &source_options)?;
    let (export, mut compared) = load_export(rows);
    let api = list_api(&args)?;
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

/// Every referral of the API (all pages), indexed.
fn list_api(args: &ReconcileArgs) -> Result<ApiIndex, Error> {
    tracing::info!("listing every referral of the API");
    let referrals = with_api(&args.api, &args.ledger, |client| async move {
        client.list_all(None, None).await.map_err(api_error)
    })?;
    Ok(ApiIndex::new(referrals.iter().map(api_entry)))
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
                    hash: hash_of(&record),
                    status: text("status"),
                    substatus: text("substatus"),
                    source: format!("{}:{}", record.file.display(), record.row),
                    connected: record.connected.as_ref().map(connected_fields),
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

/// What reconcile keeps of a listed referral.
fn api_entry(referral: &ApiReferral) -> ApiEntry {
    let json = referral.json();
    let incoming = json.get("direction").and_then(Value::as_str) == Some("Incoming");
    let connected = targets_microsoft(json);
    ApiEntry {
        id: referral.id().to_owned(),
        external_id: referral.external_reference_id().map(str::to_owned),
        engagement_id: referral.engagement_id().map(str::to_owned),
        etag: referral.etag().map(str::to_owned),
        status: referral.status().map(str::to_owned),
        substatus: referral.substatus().map(str::to_owned),
        partner: !incoming && !connected,
        connected_json: connected.then(|| json.clone()),
    }
}

/// Whether a referral is the connected one made for Microsoft (target
/// BusinessProfileLocation `msft`).
fn targets_microsoft(json: &Value) -> bool {
    let Some(targets) = json.get("target").and_then(Value::as_array) else {
        return false;
    };
    targets.iter().any(|t| {
        t.get("type").and_then(Value::as_str) == Some("BusinessProfileLocation")
            && t.get("id").and_then(Value::as_str) == Some("msft")
    })
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
