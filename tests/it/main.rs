//! The integration tests: one binary, one module per feature, `common` for helpers.

mod admin;
mod common;
mod init;
mod ledger;
mod mapping;
mod progress;
mod pull;
mod referral;
mod sandbox;
mod source;
mod triage;
mod upload;
mod upload_run;
