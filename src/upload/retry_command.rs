//! `retry`: resend the records whose last attempt failed (or that a crashed run left in
//! flight), from the payloads the ledger stored, with the same guarantees as `upload` (a create that may have been applied is
//! looked up before it is sent again).

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::engine::Job;
use super::plan::Plan;
use super::run::{Feed, RunSetup};
use super::{Session, finish};
use crate::api::{ADAPTIVE_START, Api, SendSettings, runtime};
use crate::cli::RetryArgs;
use crate::ledger::{LedgerRecord, Step};
use crate::mapping::MappedRecord;
use crate::output_file::check_summary_path;
use crate::{Error, Exit};

/// `retry`: see the command's `--help`.
pub fn retry_command(args: RetryArgs, quiet: bool) -> Result<Exit, Error> {
    let settings = SendSettings {
        rate: args.rate.unwrap_or(ADAPTIVE_START),
        burst: args.burst,
        adaptive: args.rate.is_none(),
        concurrency: args.concurrency,
        max_retries: args.max_retries,
        breaker: 50,
    };
    settings.check()?;
    check_summary_path(args.summary_json.as_deref())?;
    // Records a crashed run left in flight are resent too: each job looks its record up on
    // the API before sending anything.
    // The lock comes first: it is taken before SQLite opens the file, and nothing can change
    // the failures between reading them and resending them.
    let session = Session::open_existing(&args.ledger)?;
    let mut failed = session.reads.in_flight()?;
    failed.extend(session.reads.failed(args.all)?);
    let mut jobs = Vec::with_capacity(failed.len());
    for record in &failed {
        match job_of(record) {
            Some(job) => jobs.push(job),
            None => tracing::warn!(
                external_id = %record.external_id,
                "no stored payload to resend; run `upload` with the export instead"
            ),
        }
    }
    if jobs.is_empty() {
        crate::console::note("nothing to retry");
        return Ok(Exit::Success);
    }
    runtime()?.block_on(async move {
        let api = Api::connect(&args.api, &args.ledger, &settings).await?;
        let setup = RunSetup {
            client: api.client.clone(),
            concurrency: settings.concurrency,
            breaker: settings.breaker,
            limit: None,
            quiet,
            meter: None,
        };
        let feed = Feed::Jobs(jobs);
        let result = session.run(setup, feed).await;
        api.close().await;
        finish(result?, args.summary_json.as_deref())
    })
}

/// The job that resends `record`'s failed step. The hash is left empty, so the next
/// `upload` compares the record with Partner Center's copy instead of trusting it.
fn job_of(record: &LedgerRecord) -> Option<Job> {
    let payload: Value = serde_json::from_str(record.payload.as_deref()?).ok()?;
    let (referral, connected, plan) = match (record.step, &record.referral_id) {
        (Some(Step::Connected), Some(referral_id)) => (
            Value::Null,
            Some(payload),
            Plan::Connected {
                referral_id: referral_id.clone(),
                engagement_id: record.engagement_id.clone(),
                lookup_first: true,
            },
        ),
        (_, Some(referral_id)) => (
            payload,
            None,
            Plan::Update {
                referral_id: referral_id.clone(),
                etag: record.etag.clone(),
                base: None,
                connected_id: None,
                stored_hash: None,
            },
        ),
        (_, None) => (
            payload,
            None,
            Plan::Create {
                lookup_first: true,
                request_id: record.request_id.clone(),
            },
        ),
    };
    let (file, row) = match &record.source {
        Some(source) => (PathBuf::from(&source.file), source.row),
        None => (PathBuf::from("(ledger)"), 0),
    };
    Some(Job {
        record: MappedRecord {
            external_id: record.external_id.clone(),
            referral,
            connected,
            file: Arc::new(file),
            row,
        },
        hash: String::new(),
        plan,
    })
}
