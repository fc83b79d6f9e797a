//! Logging setup: human-readable or JSON lines on stderr, quiet mode, `RUST_LOG` override.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Whether `--log-format json` is in force (errors printed outside tracing follow it).
static JSON: AtomicBool = AtomicBool::new(false);

/// Whether messages on stderr must be JSON lines.
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Whether stderr takes colours: a terminal, and `NO_COLOR` unset or empty.
pub fn stderr_color() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    std::io::IsTerminal::is_terminal(&std::io::stderr()) && !no_color
}

/// Install the global tracing subscriber. Safe to call more than once (later calls are no-ops).
///
/// `sandbox_log`: whether the sandbox's access log is wanted at info level (the `sandbox`
/// command); other commands that embed a sandbox show only its warnings.
pub fn init(format: LogFormat, quiet: bool, sandbox_log: bool) {
    let default = match (quiet, sandbox_log) {
        (true, _) => "warn",
        (false, true) => "info",
        (false, false) => "info,referral_sync::sandbox=warn,sandbox::access=warn",
    };
    JSON.store(matches!(format, LogFormat::Json), Ordering::Relaxed);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
