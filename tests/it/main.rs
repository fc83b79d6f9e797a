//! The integration tests: one binary, one module per feature, `common` for helpers.

mod admin;
mod common;
mod ledger;
mod mapping;
mod referral;
mod sandbox;
mod source;
mod upload;
mod upload_run;
