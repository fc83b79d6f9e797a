//! Mapping files: TOML that turns export rows into Referral payloads.

/// Every problem found in a mapping file, each located as `file:line:col: message`.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct Diagnostics(pub Vec<String>);
