//! What `reconcile` prints and writes: the table of counts on stdout (with the first findings
//! spelled out), the same as JSON with `--json`, and every finding in `--output FILE.csv` or
//! `FILE.json`.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::join::{Category, Finding};
use crate::Error;
use crate::admin::spreadsheet::SpreadsheetCsv;

/// How many findings the stdout table spells out before pointing at `--output`.
const SHOWN: usize = 50;

/// The columns of `--output FILE.csv`, in order (stable).
pub const CSV_COLUMNS: [&str; 9] = [
    "category",
    "externalReferenceId",
    "referralId",
    "ledgerState",
    "crmStatus",
    "apiStatus",
    "source",
    "adopted",
    "detail",
];

/// The format of `--output`, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// `.csv` or `.json` (any case); anything else is a usage error naming the file.
    pub fn of(path: &Path) -> Result<Format, Error> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("json") => Ok(Format::Json),
            _ => Err(Error::usage(format!(
                "--output {}: expected a .csv or .json file",
                path.display()
            ))),
        }
    }
}

/// How much was compared.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Compared {
    /// Rows read from the export.
    pub export_rows: u64,
    /// Rows mapped to a record (the export side of the join).
    pub export_records: u64,
    /// Rows that could not be mapped: records from them may show as gone from the export.
    pub export_invalid: u64,
    /// Rows a filter skipped.
    pub export_skipped: u64,
    pub ledger_records: u64,
    pub api_referrals: u64,
}

/// The whole result: `--json` prints it, `--output FILE.json` writes it.
#[derive(Debug, Serialize)]
pub struct Reconciliation {
    pub in_sync: bool,
    pub counts: Counts,
    pub adopted: u64,
    pub compared: Compared,
    pub findings: Vec<Finding>,
}

/// Findings per category (every category present, zero or not).
#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub never_synced: u64,
    pub changed: u64,
    pub missing_from_api: u64,
    pub orphan: u64,
    pub status_drift: u64,
    pub connected_drift: u64,
    pub gone_from_export: u64,
}

impl Counts {
    pub fn of(findings: &[Finding]) -> Counts {
        let mut counts = Counts::default();
        for f in findings {
            *counts.slot(f.category) += 1;
        }
        counts
    }

    fn slot(&mut self, category: Category) -> &mut u64 {
        match category {
            Category::NeverSynced => &mut self.never_synced,
            Category::Changed => &mut self.changed,
            Category::MissingFromApi => &mut self.missing_from_api,
            Category::Orphan => &mut self.orphan,
            Category::StatusDrift => &mut self.status_drift,
            Category::ConnectedDrift => &mut self.connected_drift,
            Category::GoneFromExport => &mut self.gone_from_export,
        }
    }

    pub fn get(&self, category: Category) -> u64 {
        match category {
            Category::NeverSynced => self.never_synced,
            Category::Changed => self.changed,
            Category::MissingFromApi => self.missing_from_api,
            Category::Orphan => self.orphan,
            Category::StatusDrift => self.status_drift,
            Category::ConnectedDrift => self.connected_drift,
            Category::GoneFromExport => self.gone_from_export,
        }
    }
}

/// The stdout table: counts per category, what was compared, the first findings.
pub fn write_table(out: &mut dyn Write, r: &Reconciliation) -> std::io::Result<()> {
    writeln!(out, "{:<40} {:>8}", "category", "records")?;
    for category in Category::ALL {
        writeln!(
            out,
            "{:<40} {:>8}",
            category.label(),
            r.counts.get(category)
        )?;
    }
    let total = r.findings.len();
    writeln!(out, "{:<40} {total:>8}", "total")?;
    if r.adopted > 0 {
        writeln!(out, "orphans adopted into the ledger: {}", r.adopted)?;
    }
    let c = &r.compared;
    writeln!(
        out,
        "\ncompared: export {} rows ({} records, {} invalid, {} skipped), ledger {} records, \
         API {} referrals",
        c.export_rows,
        c.export_records,
        c.export_invalid,
        c.export_skipped,
        c.ledger_records,
        c.api_referrals
    )?;
    if c.export_invalid > 0 {
        writeln!(
            out,
            "note: records of invalid rows count as gone from the export (`preview` lists the rows)"
        )?;
    }
    if total == 0 {
        return writeln!(out, "\nin sync");
    }
    writeln!(out)?;
    for f in r.findings.iter().take(SHOWN) {
        let referral = f.referral_id.as_deref().unwrap_or("-");
        let adopted = if f.adopted { " [adopted]" } else { "" };
        writeln!(
            out,
            "{:<17} {}  {referral}  {}{adopted}",
            f.category.name(),
            f.external_id,
            f.detail
        )?;
    }
    if total > SHOWN {
        writeln!(
            out,
            "… and {} more: write them all with --output FILE.csv",
            total - SHOWN
        )?;
    }
    Ok(())
}

/// `--output FILE.csv`: one row per finding, columns [`CSV_COLUMNS`].
pub fn write_csv(out: &mut dyn Write, findings: &[Finding]) -> std::io::Result<()> {
    let mut writer = SpreadsheetCsv::new(out, &CSV_COLUMNS)?;
    for f in findings {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        writer.row([
            f.category.name().to_owned(),
            f.external_id.clone(),
            opt(&f.referral_id),
            f.ledger_state.map(|s| s.to_string()).unwrap_or_default(),
            opt(&f.crm_status),
            opt(&f.api_status),
            opt(&f.source),
            f.adopted.to_string(),
            f.detail.clone(),
        ])?;
    }
    writer.flush()
}

/// `--json` and `--output FILE.json`: the whole [`Reconciliation`].
pub fn write_json(out: &mut dyn Write, r: &Reconciliation) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, r)?;
    writeln!(out)
}
