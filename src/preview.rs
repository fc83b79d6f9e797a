//! The `check`, `preview` and `mapping-schema` commands: mapping files applied to inputs,
//! with no request and no state.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cli::{CheckArgs, PreviewArgs};
use crate::mapping::{self, Evaluated, Mapping, RowFailure};
use crate::source::{Meter, Row, SourceOptions};
use crate::upload::progress::{Mode, Progress, Tally};
use crate::upload::summary::bump;
use crate::{Error, Exit};

/// The `--lookup NAME=PATH` overrides of an invocation.
pub fn lookup_overrides(specs: &[String]) -> Result<Vec<(String, PathBuf)>, Error> {
    specs
        .iter()
        .map(|spec| match spec.split_once('=') {
            Some((name, path)) if !name.trim().is_empty() && !path.is_empty() => {
                Ok((name.trim().to_string(), PathBuf::from(path)))
            }
            _ => Err(Error::usage(format!(
                "--lookup {spec:?}: expected NAME=PATH, e.g. --lookup account=Account.csv"
            ))),
        })
        .collect()
}

/// Load the mapping of a command, with its `--lookup NAME=PATH` overrides.
pub fn load_mapping(path: &std::path::Path, lookups: &[String]) -> Result<Mapping, Error> {
    let overrides = lookup_overrides(lookups)?;
    let mapping = Mapping::load_with_lookups(path, &overrides)?;
    log_warnings(&mapping);
    Ok(mapping)
}

/// Log the mapping's load warnings (values outside the fiscal year's table): on stderr even
/// with `--quiet`, as JSON lines with `--log-format json`.
fn log_warnings(mapping: &Mapping) {
    for warning in mapping.warnings() {
        tracing::warn!("{warning}");
    }
}

/// `check`: validate a mapping, and its columns against an input's header. A mapping checked
/// alone reads no data file: its lookups are read only when given with `--lookup`.
pub fn check_command(args: CheckArgs) -> Result<Exit, Error> {
    let Some(input) = &args.input else {
        let overrides = lookup_overrides(&args.lookup)?;
        let mapping = Mapping::load_without_data(&args.mapping, &overrides)?;
        log_warnings(&mapping);
        let unread = mapping.unread_lookups();
        let note = match unread.as_slice() {
            [] => String::new(),
            names => format!(
                "; lookup files not read: {} (give an input or --lookup NAME=PATH)",
                names.join(", ")
            ),
        };
        crate::console::say(format_args!(
            "ok: {} is valid ({} input columns{note})",
            args.mapping.display(),
            mapping.columns().len()
        ))?;
        return Ok(Exit::Success);
    };
    let mapping = load_mapping(&args.mapping, &args.lookup)?;
    let opts = SourceOptions::from_args(&args.input_args)?;
    let mut source = crate::source::open(input, &opts)?;
    let headers = match source.headers() {
        Some(h) => h,
        None => match source.next() {
            Some(Ok(row)) => row.headers,
            Some(Err(e)) => return Err(Error::usage(e.to_string())),
            None => return Err(Error::usage(format!("{}: no records", input.display()))),
        },
    };
    let missing = mapping.check_columns(&headers, input);
    if !missing.is_empty() {
        return Err(Error::Mapping(missing));
    }
    crate::console::say(format_args!(
        "ok: {} is valid and {} has all {} columns it reads",
        args.mapping.display(),
        input.display(),
        mapping.columns().len()
    ))?;
    Ok(Exit::Success)
}

/// Counts of a preview run, shared with the progress display.
#[derive(Debug, Default)]
struct Counts {
    rows: AtomicU64,
    valid: AtomicU64,
    invalid: AtomicU64,
    skipped: AtomicU64,
}

impl Counts {
    fn get(&self) -> [u64; 4] {
        [&self.rows, &self.valid, &self.invalid, &self.skipped].map(|c| c.load(Ordering::Relaxed))
    }
}

/// A bar on stderr when it is a terminal and the referrals go elsewhere (a bar between
/// referrals printed to the same terminal would only garble them); no log lines, so that
/// stderr keeps to row errors and the closing counts.
fn preview_progress(quiet: bool, meter: &Arc<Meter>, counts: &Arc<Counts>) -> Progress {
    let mode = match Mode::detect(quiet) {
        Mode::Bar if !io::stdout().is_terminal() => Mode::Bar,
        _ => Mode::Quiet,
    };
    let counts = Arc::clone(counts);
    let status = Box::new(move || {
        let [rows, valid, invalid, skipped] = counts.get();
        Tally {
            rows,
            finished: rows,
            counts: format!("valid {valid} invalid {invalid} skipped {skipped}"),
        }
    });
    Progress::start(Some(Arc::clone(meter)), status, mode)
}

/// `preview`: NDJSON of every valid row on stdout, row errors and the counts on stderr.
pub fn preview_command(args: PreviewArgs, quiet: bool) -> Result<Exit, Error> {
    let mapping = load_mapping(&args.mapping, &args.lookup)?;
    let mut opts = SourceOptions::from_args(&args.input_args)?;
    let meter = Meter::for_inputs(&args.inputs);
    opts.meter = Some(Arc::clone(&meter));
    let mut rows = mapping::records(&mapping, &args.inputs, &opts)?;
    let limit = args
        .limit
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let counts = Arc::new(Counts::default());
    let progress = preview_progress(quiet, &meter, &counts);
    let written = emit(&mut rows, limit, &mut out, &counts).and_then(|()| out.flush());
    progress.finish();
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(Exit::Success),
        Err(e) => {
            return Err(Error::Io {
                path: PathBuf::from("<stdout>"),
                source: e,
            });
        }
        Ok(()) => {}
    }
    let [rows, valid, invalid, skipped] = counts.get();
    crate::console::note(format_args!(
        "rows: {rows}, valid: {valid}, invalid: {invalid}, skipped: {skipped}"
    ));
    Ok(if invalid == 0 {
        Exit::Success
    } else {
        Exit::Partial
    })
}

/// Write up to `limit` rows' payloads (and connected referrals) to `out`, row errors to
/// stderr, counting. Payloads are written straight from the mapping's tree.
fn emit(
    rows: &mut mapping::Rows,
    limit: usize,
    out: &mut impl Write,
    counts: &Counts,
) -> io::Result<()> {
    // Each row is put together in `line` and handed to `out` in one write.
    let mut line = Vec::with_capacity(4096);
    for _ in 0..limit {
        line.clear();
        let more = rows.next_with(|evaluated, row| write_row(evaluated, row, &mut line, counts));
        if more.is_none() {
            break;
        }
        out.write_all(&line)?;
    }
    Ok(())
}

fn write_row(evaluated: Evaluated<'_>, row: &Row, out: &mut Vec<u8>, counts: &Counts) {
    bump(&counts.rows);
    match evaluated {
        Evaluated::Mapped {
            referral,
            connected,
            ..
        } => {
            bump(&counts.valid);
            referral.write_json(out);
            out.push(b'\n');
            if let Some(connected) = &connected {
                connected.write_json(out);
                out.push(b'\n');
            }
        }
        Evaluated::Skipped { reason } => {
            bump(&counts.skipped);
            tracing::debug!("{}:row {}: skipped: {reason}", row.file.display(), row.row);
        }
        Evaluated::Invalid { problems } => {
            bump(&counts.invalid);
            let failure = RowFailure {
                file: Arc::clone(&row.file),
                row: row.row,
                problems,
            };
            crate::console::note(&failure);
        }
    }
}

/// `mapping-schema`: the JSON Schema of mapping files.
pub fn schema_command() -> Result<Exit, Error> {
    let text = serde_json::to_string_pretty(&mapping::json_schema())
        .map_err(|e| Error::Other(anyhow::anyhow!("cannot print the schema: {e}")))?;
    crate::console::say(text)?;
    Ok(Exit::Success)
}
