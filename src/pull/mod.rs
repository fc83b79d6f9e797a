//! `pull`: Partner Center's side comes back to the CRM. The mirror in the ledger is refreshed
//! from the API ([`mirror`]), every referral that changed since the last delivered file becomes
//! a pull record ([`record`]), and the records are written to the output file(s) ([`write`]).
//!
//! Delivery is exactly what the files carry: the rows are marked delivered (their eTag and
//! JSON, in one transaction) only after every file is renamed into place and flushed, so a kill
//! at any point means the next pull delivers everything not yet delivered, and a pull with
//! nothing changed writes a header-only file at the cost of one listing page.
//!
//! The other way back, inbound referrals answered, is [`triage`].

pub mod mirror;
pub mod record;
pub mod triage;
pub mod write;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use self::mirror::{Refreshed, api_key, refresh_full, refresh_incremental};
use self::record::Context;
use self::write::Format;
use crate::admin::with_api;
use crate::cli::PullArgs;
use crate::ledger::{self, Delivered, Ledger, LedgerError, MirrorRow};
use crate::mapping::PullColumns;
use crate::output_file::{Writes, check_writable};
use crate::{Error, Exit};

/// Where the records of one pull go.
#[derive(Debug)]
struct Outputs {
    output: (PathBuf, Format),
    /// Incoming referrals, when split from the rest.
    inbound: Option<(PathBuf, Format)>,
}

impl Outputs {
    /// The formats by extension and the files checked writable, before anything is opened.
    fn check(args: &PullArgs) -> Result<Outputs, Error> {
        let output = (args.output.clone(), Format::of("--output", &args.output)?);
        let inbound = match &args.inbound {
            Some(path) => Some((path.clone(), Format::of("--inbound", path)?)),
            None => None,
        };
        if inbound
            .as_ref()
            .is_some_and(|(path, _)| same_file(path, &output.0))
        {
            return Err(Error::usage(format!(
                "--inbound {} is the --output file; give the inbound referrals their own file",
                args.output.display()
            )));
        }
        check_writable("--output", &output.0, Writes::ByRename)?;
        if let Some((path, _)) = &inbound {
            check_writable("--inbound", path, Writes::ByRename)?;
        }
        Ok(Outputs { output, inbound })
    }
}

/// Whether two paths name one file (by name: neither need exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    let resolved = |p: &Path| {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::canonicalize(dir)
            .ok()
            .map(|d| d.join(p.file_name().unwrap_or_default()))
    };
    a == b || (resolved(a).is_some() && resolved(a) == resolved(b))
}

/// `pull`: see the command's `--help`.
pub fn pull_command(args: PullArgs) -> Result<Exit, Error> {
    let outputs = Outputs::check(&args)?;
    let columns = columns(args.mapping.as_deref(), &args.lookup)?;
    let _lock = ledger::lock_existing(&args.ledger)?;
    let mut ledger = Ledger::open_existing(&args.ledger)?;
    if ledger.is_read_only()? {
        return Err(LedgerError::ReadOnly { path: args.ledger }.into());
    }
    let api = api_key(&args.api);
    let (refreshed, requests) = refresh(&args, &mut ledger, &api)?;
    let rows = ledger.mirror_undelivered(&api)?;
    let context = Context::new(
        ledger.mirror_engaged(&api)?,
        ledger.records_by_referral()?,
        jiff::Timestamp::now(),
    );
    let (rows, riders) = fold_connected(&rows, &context);
    let (inbound, ours): (Vec<&MirrorRow>, Vec<&MirrorRow>) = rows
        .into_iter()
        .partition(|row| outputs.inbound.is_some() && context.is_inbound(row));
    let mut delivered = deliver(&outputs.output, &columns, &ours, &context)?;
    if let Some(inbound_file) = &outputs.inbound {
        delivered.merge(deliver(
            inbound_file,
            columns.inbound(),
            &inbound,
            &context,
        )?);
    }
    // The summary counts the files' rows; the connected referrals ride on their partners'.
    let told = summary(&delivered, &refreshed, requests);
    delivered.carry_riders(&riders);
    ledger.mirror_mark_delivered(&api, &delivered.rows)?;
    crate::console::note(told);
    Ok(match delivered.failed {
        0 => Exit::Success,
        _ => Exit::Partial,
    })
}

/// The rows to write: each undelivered row, except that a connected referral the partner made
/// for Microsoft is delivered on its partner's row (written even when the partner's own
/// referral did not change). The riders: connected rows by the partner row that carries them.
fn fold_connected<'a>(
    rows: &'a [MirrorRow],
    context: &'a Context,
) -> (Vec<&'a MirrorRow>, HashMap<String, Vec<&'a MirrorRow>>) {
    let mut written: Vec<&MirrorRow> = Vec::new();
    let mut seen = HashSet::new();
    let mut riders: HashMap<String, Vec<&MirrorRow>> = HashMap::new();
    for row in rows {
        let carrier = match context.carrier(row) {
            Some(partner) => {
                riders
                    .entry(partner.referral_id.clone())
                    .or_default()
                    .push(row);
                // The context read it from the same mirror: the row as `rows` holds it.
                partner
            }
            None => row,
        };
        if seen.insert(carrier.referral_id.clone()) {
            written.push(carrier);
        }
    }
    (written, riders)
}

/// The columns of the files: the mapping's `[pull]` section with `--mapping`, else the
/// standard ones. The mapping is loaded (and every problem of it reported) before the ledger
/// is opened.
fn columns(mapping: Option<&Path>, lookups: &[String]) -> Result<PullColumns, Error> {
    let Some(path) = mapping else {
        return Ok(PullColumns::standard());
    };
    let mapping = crate::preview::load_mapping(path, lookups)?;
    mapping.pull_columns().cloned().ok_or_else(|| {
        Error::usage(format!(
            "--mapping {}: the mapping has no [pull] section to name the pull file's columns",
            path.display()
        ))
    })
}

/// Refresh the mirror (incrementally, or fully with `--full`): what it did and the requests
/// it took.
fn refresh(args: &PullArgs, ledger: &mut Ledger, api: &str) -> Result<(Refreshed, u64), Error> {
    let full = args.full;
    with_api(&args.api, &args.ledger, |client| async move {
        let refreshed = match full {
            true => refresh_full(&client, ledger, api).await?,
            false => refresh_incremental(&client, ledger, api).await?,
        };
        let requests = client
            .stats()
            .requests
            .load(std::sync::atomic::Ordering::Relaxed);
        Ok((refreshed, requests))
    })
}

/// The line that ends a pull on stderr.
fn summary(carried: &Carried, refreshed: &Refreshed, requests: u64) -> String {
    let failed = match carried.failed {
        0 => String::new(),
        n => format!("; {n} not delivered (a cell could not be written, see above)"),
    };
    let listing = match refreshed.full {
        true => "full listing",
        false => "since the watermark",
    };
    let plural = if requests == 1 { "" } else { "s" };
    format!(
        "pull: {} changed: {} ours, {} inbound{failed}; {} referrals listed ({listing}), \
         {requests} request{plural}",
        carried.rows.len(),
        carried.rows.len() - carried.inbound,
        carried.inbound,
        refreshed.listed,
    )
}

/// What the files of one pull carried.
#[derive(Debug, Default)]
struct Carried {
    rows: Vec<Delivered>,
    /// Of them, inbound referrals.
    inbound: usize,
    /// Records left out: a cell could not be written.
    failed: usize,
}

impl Carried {
    /// The connected rows ride with the partner rows that were delivered (and stay
    /// undelivered with the ones left out).
    fn carry_riders(&mut self, riders: &HashMap<String, Vec<&MirrorRow>>) {
        let carried: Vec<Delivered> = self
            .rows
            .iter()
            .filter_map(|row| riders.get(&row.referral_id))
            .flatten()
            .map(|rider| Delivered {
                referral_id: rider.referral_id.clone(),
                etag: rider.etag.clone(),
                json: rider.json.clone(),
            })
            .collect();
        self.rows.extend(carried);
    }

    fn merge(&mut self, other: Carried) {
        self.rows.extend(other.rows);
        self.inbound += other.inbound;
        self.failed += other.failed;
    }
}

/// Write one file of `rows` as pull records; what it carried (each row's eTag and JSON as
/// listed). A record with a cell that cannot be written is reported and stays undelivered.
fn deliver(
    (path, format): &(PathBuf, Format),
    columns: &PullColumns,
    rows: &[&MirrorRow],
    context: &Context,
) -> Result<Carried, Error> {
    let records: Vec<Value> = rows.iter().map(|row| record::build(row, context)).collect();
    let (table, failed) = write::render(columns, &records);
    write::write_file(path, *format, &table)?;
    for (_, err) in &failed {
        crate::console::note(format_args!("pull: {}: {err}", path.display()));
    }
    let left_out: HashSet<usize> = failed.iter().map(|(index, _)| *index).collect();
    let carried: Vec<&MirrorRow> = rows
        .iter()
        .enumerate()
        .filter(|(index, _)| !left_out.contains(index))
        .map(|(_, row)| *row)
        .collect();
    Ok(Carried {
        inbound: carried.iter().filter(|row| context.is_inbound(row)).count(),
        rows: carried
            .iter()
            .map(|row| Delivered {
                referral_id: row.referral_id.clone(),
                etag: row.etag.clone(),
                json: row.json.clone(),
            })
            .collect(),
        failed: failed.len(),
    })
}
