//! Logging setup: human-readable or JSON lines on stderr, quiet mode, `RUST_LOG` override.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

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
