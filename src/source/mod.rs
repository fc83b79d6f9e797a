//! Streaming row sources: CSV, Excel, Dynamics 365 "Export to Excel" and Dataverse JSON.

/// An input file could not be opened or read as a whole.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {message}")]
    Unreadable {
        path: std::path::PathBuf,
        message: String,
    },
}
