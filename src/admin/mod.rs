//! Admin tools: the morning-after commands that read and repair the ledger.
//!
//! - [`status`]: records per state, the last runs, the oldest waiting records.
//! - [`report`]: CSV reports of failures, successes or every mapping.
//! - [`reconcile`]: the export, the ledger and the API side by side, every difference listed.
//! - [`repair`]: `forget` and `relink`, audited.
//! - [`spreadsheet`]: the CSV writer of every report, with formula-like cells neutralised.
//!
//! The helpers here are what those commands share: opening an existing ledger, writing an
//! output file (or stdout) without leaving half a file behind, and reaching the API.

mod notices;
pub mod reconcile;
pub mod repair;
pub mod report;
pub mod spreadsheet;
pub mod status;

use std::future::Future;
use std::io::{BufWriter, Write};
use std::path::Path;

pub use reconcile::reconcile_command;
pub use repair::{forget_command, relink_command};
pub use report::report_command;
pub use status::status_command;

use crate::Error;
use crate::api::client::{ApiClient, ApiError};
use crate::api::{Api, SendSettings, runtime};
use crate::cli::ApiArgs;
use crate::ledger::Ledger;

/// Open a ledger that must exist (a mistyped `--ledger` is an error naming the path).
pub(crate) fn open_ledger(path: &Path) -> Result<Ledger, Error> {
    Ok(Ledger::open_existing(path)?)
}

/// The end of a write to stdout. A closed pipe (`status | head`) is the reader's choice, not
/// an error; any other failure is reported, naming stdout.
pub(crate) fn stdout_done(result: std::io::Result<()>) -> Result<(), Error> {
    match result {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Error::Io {
            path: "<stdout>".into(),
            source,
        }),
        Ok(()) => Ok(()),
    }
}

/// Print one line (or several, joined by newlines) on stdout.
pub(crate) fn say(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    stdout_done(writeln!(out, "{text}"))
}

/// Write an output file through `write`, or stdout for `-`.
///
/// A file is written beside its final name and renamed into place when complete, so a cron
/// job reading it never sees half a report, and a failed run leaves the old file alone.
pub(crate) fn write_output(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    if path.as_os_str() == "-" {
        let mut out = BufWriter::new(std::io::stdout().lock());
        return stdout_done(write(&mut out).and_then(|()| out.flush()));
    }
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let Some(file_name) = path.file_name() else {
        return Err(Error::usage(format!(
            "{}: expected a file name",
            path.display()
        )));
    };
    let mut name = file_name.to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    let temp = path.with_file_name(name);
    let result = std::fs::File::create(&temp).and_then(|file| {
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        out.into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .sync_all()
    });
    if let Err(source) = result.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(io_error(source));
    }
    Ok(())
}

/// Connect to the API of `args` (or the embedded sandbox beside `ledger` with `--sandbox`),
/// run `body` with the client, and shut down. Admin commands are paced adaptively from 10
/// requests per second (they find the server's limit as an upload does) and retried like its
/// requests.
pub(crate) fn with_api<T, F, Fut>(args: &ApiArgs, ledger: &Path, body: F) -> Result<T, Error>
where
    F: FnOnce(ApiClient) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let settings = SendSettings {
        rate: 10.0,
        burst: 4,
        adaptive: true,
        concurrency: 1,
        max_retries: 8,
        breaker: 50,
    };
    runtime()?.block_on(async {
        let api = Api::connect(args, ledger, &settings).await?;
        let result = body(api.client.clone()).await;
        api.close().await;
        result
    })
}

/// An API failure that ends an admin command (exit 3, like an upload the API kept failing).
pub(crate) fn api_error(err: ApiError) -> Error {
    Error::Aborted {
        reason: err.to_string(),
    }
}
