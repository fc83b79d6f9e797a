//! The errors that end a command, and the documented exit codes they map to.
//!
//! Each boundary (sources, mapping files, the ledger, the API client, the sandbox) has its own
//! error type; this module wraps them and decides the exit code next to the type.

use std::path::PathBuf;
use std::process::ExitCode;

/// How a command ended. The numbers are documented in `--help` and in README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: everything succeeded (every row synced or unchanged; no drift).
    Success = 0,
    /// 1: some rows failed (row errors or permanent API errors), or reconcile found drift.
    Partial = 1,
    /// 2: usage, mapping or input error before any request.
    Usage = 2,
    /// 3: aborted: authentication failed, or the API kept failing.
    Aborted = 3,
    /// 4: the ledger is locked by another run.
    Locked = 4,
    /// 130: interrupted by Ctrl-C or SIGTERM.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// An error that ends a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad argument or combination of arguments.
    #[error("{message}")]
    Usage { message: String },
    /// An input file could not be opened or read.
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    /// A mapping file has problems (every one of them is listed).
    #[error(transparent)]
    Mapping(#[from] crate::mapping::Diagnostics),
    /// The ledger could not be opened, migrated or written.
    #[error(transparent)]
    Ledger(crate::ledger::LedgerError),
    /// Another run holds the ledger's lock.
    #[error("ledger {path} is locked by another run ({holder})")]
    Locked { path: PathBuf, holder: String },
    /// The run was stopped: authentication failed, or the API kept failing.
    #[error("aborted: {reason}")]
    Aborted { reason: String },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Anything else, with its context chain.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    /// The documented exit code for this error.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage { .. } | Error::Source(_) | Error::Mapping(_) | Error::Io { .. } => {
                Exit::Usage
            }
            Error::Ledger(_) => Exit::Usage,
            Error::Locked { .. } => Exit::Locked,
            Error::Aborted { .. } | Error::Other(_) => Exit::Aborted,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
        }
    }
}

impl From<crate::ledger::LedgerError> for Error {
    /// A held lock becomes [`Error::Locked`] (exit 4); every other ledger error stays a ledger
    /// error.
    fn from(err: crate::ledger::LedgerError) -> Self {
        match err {
            crate::ledger::LedgerError::Locked { path, holder } => Error::Locked { path, holder },
            other => Error::Ledger(other),
        }
    }
}

/// Print an error and its `source()` chain on stderr, one `Caused by:` line per cause; the
/// problems of a mapping file each with the line they point at (JSON lines under
/// `--log-format json`).
pub fn print_error(err: &Error) {
    if let Error::Mapping(diagnostics) = err {
        let text = if crate::logging::json() {
            diagnostics.to_json_lines()
        } else {
            diagnostics.render(crate::logging::stderr_color())
        };
        crate::console::note(text);
        return;
    }
    crate::console::note(format_args!("error: {err}"));
    let mut cause = std::error::Error::source(err);
    // `transparent` variants already printed their inner message; skip a duplicate first cause.
    while let Some(c) = cause {
        let text = c.to_string();
        if !err.to_string().contains(&text) {
            crate::console::note(format_args!("  Caused by: {text}"));
        }
        cause = c.source();
    }
}
