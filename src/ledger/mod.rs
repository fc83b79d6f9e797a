//! The SQLite ledger: which referral every CRM record became.

/// The ledger could not be opened, migrated or written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger: {0}")]
    Sqlite(#[from] rusqlite::Error),
}
