//! The `check`, `preview` and `mapping-schema` commands: mapping files applied to inputs,
//! with no request and no state.

use std::io::{self, Write};
use std::path::PathBuf;

use serde_json::Value;

use crate::cli::{CheckArgs, PreviewArgs};
use crate::mapping::{self, Mapping, RowOutcome};
use crate::source::SourceOptions;
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
    Ok(Mapping::load_with_lookups(path, &overrides)?)
}

/// `check`: validate a mapping, and its columns against an input's header.
pub fn check_command(args: CheckArgs) -> Result<Exit, Error> {
    let mapping = load_mapping(&args.mapping, &args.lookup)?;
    let Some(input) = &args.input else {
        println!(
            "ok: {} is valid ({} input columns)",
            args.mapping.display(),
            mapping.columns().len()
        );
        return Ok(Exit::Success);
    };
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
    println!(
        "ok: {} is valid and {} has all {} columns it reads",
        args.mapping.display(),
        input.display(),
        mapping.columns().len()
    );
    Ok(Exit::Success)
}

/// Counts of a preview run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    rows: u64,
    valid: u64,
    invalid: u64,
    skipped: u64,
}

/// `preview`: NDJSON of every valid row on stdout, row errors and the counts on stderr.
pub fn preview_command(args: PreviewArgs) -> Result<Exit, Error> {
    let mapping = load_mapping(&args.mapping, &args.lookup)?;
    let opts = SourceOptions::from_args(&args.input_args)?;
    let outcomes = mapping::records(&mapping, &args.inputs, &opts)?;
    let limit = args
        .limit
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut counts = Counts::default();
    let written = emit(outcomes.take(limit), &mut out, &mut counts).and_then(|()| out.flush());
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
    eprintln!(
        "rows: {}, valid: {}, invalid: {}, skipped: {}",
        counts.rows, counts.valid, counts.invalid, counts.skipped
    );
    Ok(if counts.invalid == 0 {
        Exit::Success
    } else {
        Exit::Partial
    })
}

/// Write valid rows (and connected referrals) to `out`, row errors to stderr, counting.
fn emit(
    outcomes: impl Iterator<Item = RowOutcome>,
    out: &mut impl Write,
    counts: &mut Counts,
) -> io::Result<()> {
    for outcome in outcomes {
        counts.rows += 1;
        match outcome {
            RowOutcome::Mapped(record) => {
                counts.valid += 1;
                write_json(out, &record.referral)?;
                if let Some(connected) = &record.connected {
                    write_json(out, connected)?;
                }
            }
            RowOutcome::Skipped { file, row, reason } => {
                counts.skipped += 1;
                tracing::debug!("{}:row {row}: skipped: {reason}", file.display());
            }
            RowOutcome::Invalid(failure) => {
                counts.invalid += 1;
                eprintln!("{failure}");
            }
        }
    }
    Ok(())
}

fn write_json(out: &mut impl Write, value: &Value) -> io::Result<()> {
    write_value(out, value)?;
    out.write_all(b"\n")
}

/// Compact JSON of `value`, byte for byte what `serde_json::to_writer` writes, faster: the
/// strings of a referral rarely need escaping, and those that do not are copied as they are.
fn write_value(out: &mut impl Write, value: &Value) -> io::Result<()> {
    match value {
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_value(out, item)?;
            }
            out.write_all(b"]")
        }
        Value::Object(members) => {
            out.write_all(b"{")?;
            for (i, (name, member)) in members.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_string(out, name)?;
                out.write_all(b":")?;
                write_value(out, member)?;
            }
            out.write_all(b"}")
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {
            serde_json::to_writer(&mut *out, value).map_err(io::Error::from)
        }
    }
}

/// A JSON string: copied between quotes when nothing in it needs escaping, else serde_json's.
fn write_string(out: &mut impl Write, text: &str) -> io::Result<()> {
    if needs_escape(text.as_bytes()) {
        return serde_json::to_writer(&mut *out, text).map_err(io::Error::from);
    }
    out.write_all(b"\"")?;
    out.write_all(text.as_bytes())?;
    out.write_all(b"\"")
}

/// Whether `bytes` hold a quote, a backslash or a control character below 0x20 (what JSON
/// escapes), tested eight bytes at a time.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Sets the high bit of each byte of `x` that is below `n` (n <= 0x80), no false positives
    // among bytes below 0x80; bytes >= 0x80 are masked out by `!x`.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS;
    let zero = |x: u64| below(x, 1);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        let hit = below(x, 0x20) | zero(x ^ (ONES * 0x22)) | zero(x ^ (ONES * 0x5c));
        if hit != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// `mapping-schema`: the JSON Schema of mapping files.
pub fn schema_command() -> Result<Exit, Error> {
    let text = serde_json::to_string_pretty(&mapping::json_schema())
        .map_err(|e| Error::Other(anyhow::anyhow!("cannot print the schema: {e}")))?;
    println!("{text}");
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{needs_escape, write_json};

    fn ours(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        write_json(&mut out, value).unwrap_or_default();
        out
    }

    fn serde(value: &Value) -> Vec<u8> {
        let mut out = serde_json::to_vec(value).unwrap_or_default();
        out.push(b'\n');
        out
    }

    #[test]
    fn payloads_print_as_serde_json_prints_them() {
        let value = json!({
            "name": "Contoso \"Big\" deal\\n",
            "details": { "dealValue": 1234.5, "n": -3, "ok": true, "none": null, "tab": "a\tb" },
            "target": [{ "type": "SolutionProfile", "id": "\u{1}é€😀\u{7f}" }, [], {}],
            "long": "0123456789abcdef0123456789abcdef\"",
        });
        assert_eq!(ours(&value), serde(&value));
    }

    #[test]
    fn every_escaped_byte_is_found_at_every_position() {
        for byte in (0u8..0x80).filter(|b| *b < 0x20 || *b == b'"' || *b == b'\\') {
            for position in 0..20 {
                let mut text = vec![b'a'; 20];
                if let Some(slot) = text.get_mut(position) {
                    *slot = byte;
                }
                assert!(needs_escape(&text), "{byte:#x} at {position}");
            }
        }
        assert!(!needs_escape(
            "plain text, ünïcödé and ~DEL\u{7f} 0123456789".as_bytes()
        ));
    }

    proptest! {
        #[test]
        fn any_string_prints_as_serde_json_prints_it(text in "\\PC*|[\\x00-\\x7f]{0,40}") {
            let value = json!({ "k": text.clone(), &text: [text.clone()] });
            prop_assert_eq!(ours(&value), serde(&value));
        }
    }
}
