//! Tests of the ledger module.
