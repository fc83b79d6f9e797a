//! The run lock: two runs on one ledger would both see a record as new and both create it, so
//! a run takes an exclusive advisory lock on `<ledger>.lock` first.
//!
//! The lock is the operating system's (`File::try_lock`), not the file's existence: it is
//! released when the [`LedgerLock`] is dropped and when the process dies, so a lock file left
//! behind by a crash never blocks. The holder writes who it is into the file so that the
//! second run can say who holds the lock.

use std::ffi::OsString;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{LedgerError, redact_args};

/// A held ledger lock; released on drop.
#[derive(Debug)]
pub struct LedgerLock {
    file: File,
    path: PathBuf,
}

impl LedgerLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LedgerLock {
    fn drop(&mut self) {
        // Clear the holder text before the OS lock goes with the file handle.
        let _ = self.file.set_len(0);
    }
}

/// Lock the ledger at `ledger_path` for this process, naming it by its (redacted) command
/// line. See [`lock_with_command`].
pub fn lock(ledger_path: &Path) -> Result<LedgerLock, LedgerError> {
    let args: Vec<String> = std::env::args().collect();
    lock_with_command(ledger_path, &redact_args(&args))
}

/// Take the exclusive lock on `<ledger_path>.lock` at once, or fail with
/// [`LedgerError::Locked`] naming the holder (pid, host, start time, command). `command`
/// must not contain secrets: it is written into the lock file.
pub fn lock_with_command(ledger_path: &Path, command: &str) -> Result<LedgerLock, LedgerError> {
    let path = lock_path(ledger_path);
    let io_err = |source| LedgerError::Lock {
        path: path.clone(),
        source,
    };
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io_err)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = read_holder(&mut file);
            return Err(LedgerError::Locked { path, holder });
        }
        Err(TryLockError::Error(source)) => return Err(io_err(source)),
    }
    write_holder(&mut file, command).map_err(io_err)?;
    Ok(LedgerLock { file, path })
}

/// `<ledger>.lock`, next to the ledger.
fn lock_path(ledger_path: &Path) -> PathBuf {
    let mut name = OsString::from(ledger_path.as_os_str());
    name.push(".lock");
    PathBuf::from(name)
}

fn write_holder(file: &mut File, command: &str) -> std::io::Result<()> {
    let host = hostname().map(|h| format!(" on {h}")).unwrap_or_default();
    let since = format!("{:.0}", jiff::Timestamp::now());
    let text = format!(
        "pid {}{host} since {since}: {command}\n",
        std::process::id()
    );
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(text.as_bytes())?;
    file.sync_data()
}

/// The holder text, or a placeholder when the holder has not written it (yet).
fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let read = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.take(4096).read_to_string(&mut text));
    match read {
        Ok(_) if !text.trim().is_empty() => text.trim().to_owned(),
        _ => "holder unknown".to_owned(),
    }
}

/// The host name, if the system tells it without a dependency.
fn hostname() -> Option<String> {
    let from_env = std::env::var("HOSTNAME").ok();
    let from_file = || {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
    };
    from_env
        .or_else(from_file)
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}
