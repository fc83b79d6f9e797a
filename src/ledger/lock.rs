//! The run lock: two runs on one ledger would both see a record as new and both create it, so
//! a run takes an exclusive advisory lock on the ledger file itself before SQLite opens it.
//!
//! The lock is on the file, not on its name: it is the operating system's (`File::try_lock`,
//! `flock` on Unix) on an open handle of the database, so every way of reaching one ledger (a
//! symlink, a hard link, `./x.db`, `dir/../x.db`) meets the same lock. That matters beyond
//! duplicates: SQLite names its `-wal` and `-shm` files from the path it was given, so two
//! writers on one file under two names would each keep their own write-ahead log and corrupt
//! the ledger. The lock is taken before any connection is opened and is released when the
//! [`LedgerLock`] is dropped or the process dies, so a crash never leaves a blocking lock.
//! `flock` locks and SQLite's own `fcntl` locks do not meet on a local file system, so `status`
//! and `report` read the ledger while a run holds the lock.
//!
//! Who holds the lock is written into a small holder file named from the ledger's identity
//! (device and inode) in the directory of its resolved path, `referral-sync-<dev>-<ino>.lock`,
//! so that a second run can say who holds the lock whichever name it was given (a hard link
//! in another directory gets "holder unknown"). The holder removes it when it lets go; one
//! left by a crash is overwritten by the next holder and never blocks.
//!
//! A [`LedgerLock`] must outlive every connection the process opens on the ledger: closing
//! any handle of a file drops the process's `fcntl` locks on it, SQLite's included.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{LedgerError, redact_args};

/// A held ledger lock; released on drop.
#[derive(Debug)]
pub struct LedgerLock {
    /// The handle of the ledger file that carries the OS lock.
    _ledger: File,
    /// The holder file, when it could be written (not in a read-only directory).
    holder: Option<File>,
    holder_path: PathBuf,
}

impl LedgerLock {
    /// The holder file, where this process wrote who it is (if it could).
    pub fn path(&self) -> &Path {
        &self.holder_path
    }
}

impl Drop for LedgerLock {
    fn drop(&mut self) {
        // Remove the holder file (or at least its text, in a directory that became read-only)
        // before the OS lock goes with the ledger's handle.
        if let Some(holder) = &self.holder
            && std::fs::remove_file(&self.holder_path).is_err()
        {
            let _ = holder.set_len(0);
        }
    }
}

/// Lock the ledger at `ledger_path` for this process, naming it by its (redacted) command
/// line. See [`lock_with_command`].
pub fn lock(ledger_path: &Path) -> Result<LedgerLock, LedgerError> {
    lock_with_command(ledger_path, &this_command())
}

/// [`lock`] for a ledger that must exist already (repairs, `reconcile --adopt`): a missing
/// file is [`LedgerError::Missing`] and nothing is created, so a mistyped path is named and
/// leaves nothing behind.
pub fn lock_existing(ledger_path: &Path) -> Result<LedgerLock, LedgerError> {
    lock_existing_with_command(ledger_path, &this_command())
}

fn this_command() -> String {
    let args: Vec<String> = std::env::args().collect();
    redact_args(&args)
}

/// Take the exclusive lock on the ledger at `ledger_path` at once, creating the ledger file
/// (empty, mode 0600) when it does not exist yet, or fail with [`LedgerError::Locked`] naming
/// the holder (pid, host, start time, command). `command` must not contain secrets: it is
/// written into the holder file.
pub fn lock_with_command(ledger_path: &Path, command: &str) -> Result<LedgerLock, LedgerError> {
    lock_file(ledger_path, command, true)
}

/// [`lock_with_command`] for a ledger that must exist already (`retry`); see
/// [`lock_existing`].
pub fn lock_existing_with_command(
    ledger_path: &Path,
    command: &str,
) -> Result<LedgerLock, LedgerError> {
    lock_file(ledger_path, command, false)
}

fn lock_file(ledger_path: &Path, command: &str, create: bool) -> Result<LedgerLock, LedgerError> {
    super::check_not_directory(ledger_path)?;
    if create {
        super::schema::create_private(ledger_path)?;
    }
    let ledger = File::open(ledger_path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => LedgerError::Missing {
            path: ledger_path.to_path_buf(),
        },
        _ => LedgerError::Lock {
            path: ledger_path.to_path_buf(),
            source,
        },
    })?;
    let holder_path = holder_path(ledger_path, &ledger).map_err(|source| LedgerError::Lock {
        path: ledger_path.to_path_buf(),
        source,
    })?;
    match ledger.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(LedgerError::Locked {
                path: ledger_path.to_path_buf(),
                holder: read_holder(&holder_path),
            });
        }
        Err(TryLockError::Error(source)) => {
            return Err(LedgerError::Lock {
                path: ledger_path.to_path_buf(),
                source,
            });
        }
    }
    // The OS lock is what keeps runs apart; a holder file that cannot be written (a
    // read-only directory) only costs the second run the holder's name.
    let holder = match write_holder(&holder_path, command) {
        Ok(file) => Some(file),
        Err(err) => {
            tracing::warn!(
                "cannot write the lock holder file {}: {err}",
                holder_path.display()
            );
            None
        }
    };
    Ok(LedgerLock {
        _ledger: ledger,
        holder,
        holder_path,
    })
}

/// `referral-sync-<dev>-<ino>.lock` in the directory of the ledger's resolved path.
fn holder_path(ledger_path: &Path, ledger: &File) -> std::io::Result<PathBuf> {
    let resolved = std::fs::canonicalize(ledger_path)?;
    let dir = resolved.parent().unwrap_or(Path::new("/"));
    Ok(dir.join(format!(
        "referral-sync-{}.lock",
        identity(ledger, &resolved)?
    )))
}

/// The file's identity: device and inode on Unix; elsewhere its resolved name.
#[cfg(unix)]
fn identity(file: &File, _resolved: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    Ok(format!("{}-{}", meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_file: &File, resolved: &Path) -> std::io::Result<String> {
    let name = resolved.file_name().unwrap_or_default();
    Ok(name.to_string_lossy().into_owned())
}

fn write_holder(path: &Path, command: &str) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let host = hostname().map(|h| format!(" on {h}")).unwrap_or_default();
    let since = format!("{:.0}", jiff::Timestamp::now());
    let text = format!(
        "pid {}{host} since {since}: {command}\n",
        std::process::id()
    );
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(text.as_bytes())?;
    file.sync_data()?;
    Ok(file)
}

/// The holder text, or a placeholder when the holder has not written it (yet) or wrote it
/// beside another name of the file.
fn read_holder(path: &Path) -> String {
    let mut text = String::new();
    let read = File::open(path).and_then(|file| file.take(4096).read_to_string(&mut text));
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
