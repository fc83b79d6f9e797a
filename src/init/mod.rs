//! The `init` command: drafts a working mapping file from an export, so that a new user starts
//! from a mapping that checks and previews instead of from a blank page.
//!
//! It reads the header and a bounded sample of rows ([`profile`]), recognises each column by
//! its name in one table of known names and synonyms ([`names`]) and by its values
//! ([`values`]), picks a column per Referral field ([`pick`]), builds the draft ([`draft`])
//! and writes it as commented TOML ([`render`]). Before writing, the draft is compiled and
//! run over the sample: a field that fails more than a tenth of the sampled rows becomes a
//! commented suggestion saying why, so the draft that is written maps nearly every row.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::InputArgs;
use crate::mapping::{self, Mapping, RowOutcome};
use crate::source::SourceOptions;
use crate::{Error, Exit};

mod draft;
mod fields;
mod names;
mod pick;
mod profile;
mod render;
mod values;

pub use names::{Context, Outcome, fold, outcome_of};
pub use pick::{Header, analyse};

/// The arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The export (CSV, Excel, Dataverse JSON pages or a directory of pages); several are
    /// read one after the other.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write the mapping to this file (default: stdout). An existing file is never replaced
    /// without --force.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Replace the --output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// A second export joined to the first (the customer accounts), as `NAME=PATH`; the
    /// draft reads the customer's name and address from it when the export lacks them.
    #[arg(long, value_name = "NAME=PATH")]
    pub lookup: Vec<String>,
    #[command(flatten)]
    pub input_args: InputArgs,
}

/// Share of sampled rows a field may fail before it is written as a suggestion.
const TOLERATED: f64 = 0.1;

/// `init`: write a draft mapping for the inputs.
pub fn init_command(args: InitArgs) -> Result<Exit, Error> {
    if let Some(out) = &args.output
        && out.exists()
        && !args.force
    {
        return Err(Error::usage(format!(
            "{}: already exists; pass --force to replace it",
            out.display()
        )));
    }
    let opts = SourceOptions::from_args(&args.input_args)?;
    let lookups = crate::preview::lookup_overrides(&args.lookup)?;
    let sample = profile::Sample::read(&args.inputs, &opts)?;
    let join = join(&sample, &lookups, &opts)?;
    let picks = pick::pick(&sample, join.as_ref());
    let mapping_path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("init-draft.toml"));
    let lookup_file = join
        .as_ref()
        .map(|j| file_for(&j.path, args.output.as_deref()))
        .unwrap_or_default();
    let mut draft = draft::build(&sample, &picks, join.as_ref(), &lookup_file);
    let text = settle(&mut draft, &mapping_path, &lookups, &args.inputs, &opts)?;
    write(args.output.as_deref(), &text)?;
    for missing in &draft.missing {
        tracing::warn!(
            "init: no column found for {missing}; rows fail until the mapping names one"
        );
    }
    let active = draft.entries.iter().filter(|e| e.active).count();
    crate::console::note(format_args!(
        "init: {} fields mapped, {} left as suggestions, from {} sampled rows{}",
        active,
        draft.entries.len() - active,
        sample.rows,
        args.output
            .as_ref()
            .map(|p| format!("; wrote {}", p.display()))
            .unwrap_or_default()
    ));
    Ok(Exit::Success)
}

/// The first `--lookup` whose file joins the export, with its sample.
fn join(
    sample: &profile::Sample,
    lookups: &[(String, PathBuf)],
    opts: &SourceOptions,
) -> Result<Option<pick::Join>, Error> {
    for (name, path) in lookups {
        let lookup = profile::Sample::read(std::slice::from_ref(path), opts)?;
        if let Some((key, on, matched)) = pick::join_columns(sample, &lookup) {
            return Ok(Some(pick::Join {
                name: name.clone(),
                path: path.clone(),
                key,
                on,
                matched,
                sample: lookup,
            }));
        }
        tracing::warn!(
            "{}: no column of it matches a column of the export; not used",
            path.display()
        );
    }
    Ok(None)
}

/// The lookup's `file` as the mapping names it: relative to the mapping's folder when it is
/// inside it, else absolute; as given when the mapping goes to stdout.
fn file_for(lookup: &Path, output: Option<&Path>) -> String {
    let Some(output) = output else {
        return lookup.display().to_string();
    };
    let dir = output.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new(".")).canonicalize();
    let file = lookup.canonicalize();
    match (dir, file) {
        (Ok(dir), Ok(file)) => match file.strip_prefix(&dir) {
            Ok(relative) => relative.display().to_string(),
            Err(_) => file.display().to_string(),
        },
        _ => lookup.display().to_string(),
    }
}

/// Render, compile and try the draft on the sample; fields that fail too many rows become
/// suggestions, until none does. Returns the final text.
fn settle(
    draft: &mut draft::Draft,
    path: &Path,
    lookups: &[(String, PathBuf)],
    inputs: &[PathBuf],
    opts: &SourceOptions,
) -> Result<String, Error> {
    loop {
        let text = render::render(draft);
        let mapping = Mapping::from_str(path, &text, lookups)?;
        let (rows, failures) = trial(&mapping, inputs, opts)?;
        let mut demoted = false;
        for entry in draft.entries.iter_mut().filter(|e| e.active && !e.required) {
            let Some((count, message)) = failures.get(entry.path) else {
                continue;
            };
            if *count as f64 > TOLERATED * rows as f64 {
                entry.active = false;
                entry.note = Some(format!(
                    "Left out: {count} of {rows} sampled rows fail it ({message})."
                ));
                demoted = true;
            }
        }
        if !demoted {
            return Ok(text);
        }
    }
}

/// Per Referral path: the sampled rows that fail it, and the first message.
type Failures = HashMap<String, (usize, String)>;

/// Map the sample; the rows mapped and, per Referral path, the failing rows and a message.
fn trial(
    mapping: &Mapping,
    inputs: &[PathBuf],
    opts: &SourceOptions,
) -> Result<(usize, Failures), Error> {
    let mut failures = Failures::new();
    let mut rows = 0;
    for outcome in mapping::records(mapping, inputs, opts)?.take(profile::SAMPLE_ROWS) {
        rows += 1;
        if let RowOutcome::Invalid(failure) = outcome {
            for problem in failure.problems {
                let slot = failures.entry(problem.path).or_insert((0, problem.message));
                slot.0 += 1;
            }
        }
    }
    Ok((rows, failures))
}

/// Write the mapping to the file (created anew unless it may be replaced) or stdout.
fn write(output: Option<&Path>, text: &str) -> Result<(), Error> {
    let Some(path) = output else {
        crate::console::say(text.trim_end())?;
        return Ok(());
    };
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
