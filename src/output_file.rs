//! Output files are checked before any work: `--summary-json`, `report`'s file and
//! `reconcile --output` are written at the end of a command, so a typo in their directory
//! would otherwise be found after every request was sent (the run's outcome then only in the
//! ledger). [`check_writable`] fails at once, naming the flag and the path: a missing
//! directory, a path that is a directory, or a place this user cannot write.
//!
//! The check writes what the command will write: for a file replaced by rename (reports,
//! reconcile) an empty probe file beside it, created and removed; for a file written in
//! place (`--summary-json`, which may be `/dev/stdout`) the file opened for writing when it
//! exists, without truncating it.

use std::fs::OpenOptions;
use std::path::Path;

use crate::Error;

/// How a command writes its output file at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// Written beside and renamed into place: the directory must be writable.
    ByRename,
    /// Written in place: an existing file must be writable, a new one creatable.
    InPlace,
}

/// Fail with a usage error (exit 2) naming `flag` and `path` unless `path` can be written
/// the way `writes` says. `-` (stdout) always passes.
pub fn check_writable(flag: &str, path: &Path, writes: Writes) -> Result<(), Error> {
    if path.as_os_str() == "-" {
        return Ok(());
    }
    let refuse = |why: String| Err(Error::usage(format!("{flag} {}: {why}", path.display())));
    if path.is_dir() {
        return refuse("is a directory, not a file".to_owned());
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.exists() {
        return refuse(format!("directory {} does not exist", dir.display()));
    }
    if !dir.is_dir() {
        return refuse(format!("{} is not a directory", dir.display()));
    }
    let result = match (writes, path.exists()) {
        (Writes::InPlace, true) => OpenOptions::new().write(true).open(path).map(drop),
        _ => probe(dir, path),
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) => refuse(format!("cannot be written: {e}")),
    }
}

/// Create and remove an empty file beside `path` in `dir`.
fn probe(dir: &Path, path: &Path) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let probe = dir.join(format!(".{name}.probe-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

/// Fail before any work when `--summary-json` cannot be written.
pub fn check_summary_path(path: Option<&Path>) -> Result<(), Error> {
    match path {
        Some(path) => check_writable("--summary-json", path, Writes::InPlace),
        None => Ok(()),
    }
}
