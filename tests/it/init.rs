//! The `init` command, run as the binary: the draft for every shipped sample, for the real
//! exports in `../shared`, and for exports made here in other shapes and languages must check
//! against its input and preview at least 90 % of the rows, with the id, the customer, the
//! country and the deal value read from the right columns.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod made;
mod names;
mod samples;

/// The crate root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A real export in `../shared/data/real-exports`, or `None` (and a note) without `../shared`.
fn real_export(name: &str) -> Option<PathBuf> {
    let dir = root().join("../shared/data/real-exports");
    if dir.is_dir() {
        Some(dir.join(name))
    } else {
        println!("skipped: ../shared not present");
        None
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_referral-sync"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A drafted mapping, in a folder of its own.
struct Drafted {
    _dir: tempfile::TempDir,
    path: PathBuf,
    text: String,
    toml: toml::Table,
    inputs: Vec<PathBuf>,
    lookup: Option<String>,
}

/// Run `init` on `inputs` (with `--lookup NAME=PATH` when given) into a new folder.
fn init(inputs: &[&Path], lookup: Option<(&str, &Path)>) -> Drafted {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("drafted.toml");
    let lookup = lookup.map(|(name, file)| format!("{name}={}", file.display()));
    let mut args: Vec<String> = vec!["init".into(), "-o".into(), path.display().to_string()];
    if let Some(spec) = &lookup {
        args.extend(["--lookup".into(), spec.clone()]);
    }
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        out.status.code(),
        Some(0),
        "init failed: {}",
        text(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).expect("init wrote the mapping");
    let toml = text
        .parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    Drafted {
        _dir: dir,
        path,
        text,
        toml,
        inputs: inputs.iter().map(|p| p.to_path_buf()).collect(),
        lookup,
    }
}

impl Drafted {
    fn args(&self, command: &str) -> Vec<String> {
        let mut args = vec![command.into(), "-m".into(), self.path.display().to_string()];
        if let Some(spec) = &self.lookup {
            args.extend(["--lookup".into(), spec.clone()]);
        }
        args
    }

    /// `check` against the first input passes.
    fn checks(&self) {
        let mut args = self.args("check");
        args.push(self.inputs[0].display().to_string());
        let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}\n{}",
            text(&out.stderr),
            self.text
        );
    }

    /// Preview every input; the referrals, asserting that at least 90 % of the rows map.
    fn previews(&self) -> Vec<serde_json::Value> {
        let mut args = self.args("preview");
        args.extend(self.inputs.iter().map(|p| p.display().to_string()));
        let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let err = text(&out.stderr);
        let last = err.lines().last().unwrap_or_default().to_owned();
        let count = |key: &str| -> u64 {
            last.split(", ")
                .filter_map(|part| part.split_once(": "))
                .find(|(k, _)| *k == key)
                .and_then(|(_, n)| n.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {last:?}"))
        };
        let (rows, valid) = (count("rows"), count("valid"));
        assert!(
            rows > 0 && valid * 10 >= rows * 9,
            "only {valid} of {rows} rows map:\n{err}\n{}",
            self.text
        );
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect()
    }

    /// A value of the mapping by dotted path (`fields.details.dealValue`).
    fn get(&self, path: &str) -> Option<&toml::Value> {
        let (first, rest) = path.split_once('.').unwrap_or((path, ""));
        let mut value = self.toml.get(first)?;
        if rest.is_empty() {
            return Some(value);
        }
        let mut remaining = rest;
        loop {
            let table = value.as_table()?;
            if let Some(found) = table.get(remaining) {
                return Some(found);
            }
            let (key, rest) = remaining.split_once('.')?;
            value = table.get(key)?;
            remaining = rest;
        }
    }

    /// The column a field reads (`"C"` or `{ column = "C" }`), or `None` for literals.
    fn column(&self, path: &str) -> Option<String> {
        match self.get(path)? {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Table(t) => t.get("column")?.as_str().map(str::to_owned),
            _ => None,
        }
    }

    /// Assert the column each field reads, as `(path, column)` pairs.
    fn reads(&self, expected: &[(&str, &str)]) {
        for (path, column) in expected {
            assert_eq!(
                self.column(path).as_deref(),
                Some(*column),
                "{path} in\n{}",
                self.text
            );
        }
    }

    /// Whether a field is read through the lookup.
    fn through_lookup(&self, path: &str) -> bool {
        matches!(self.get(path), Some(toml::Value::Table(t)) if t.contains_key("lookup"))
    }

    /// A field's option (`format`, `decimal_comma`, `map`, `value`).
    fn option(&self, path: &str, key: &str) -> Option<toml::Value> {
        self.get(path)?.as_table()?.get(key).cloned()
    }
}
