//! Logging setup: human-readable or JSON lines on stderr, quiet mode, `RUST_LOG` override.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Install the global tracing subscriber. Safe to call more than once (later calls are no-ops).
pub fn init(format: LogFormat, quiet: bool) {
    let default = if quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
