//! End-to-end tests of `upload` and `retry`: the real binary against a real sandbox (in this
//! process, or as its own process when it must be restarted), with real SQLite ledgers in
//! tempdirs. Every test asserts through what the API holds (the sandbox's stats and listing)
//! and what the ledger says, never through timing.
//!
//! - `exactly_once`: lost responses, 429 storms, re-runs, one changed row, the 412 path.
//! - `chaos`: the uploader SIGKILLed at seeded points, and the sandbox restarted mid-run.
//! - `shared`: Shared referrals and their connected referral, and a crash between the steps.
//! - `auth`: OAuth with tokens that expire mid-run, and secrets kept out of every output.
//! - `exit_codes`: every documented exit code, including SIGINT and SIGTERM mid-run.
//! - `dry_run_retry`: `--dry-run` touches nothing; `retry` resends failed records.

mod auth;
mod chaos;
mod dry_run_retry;
mod exactly_once;
mod exit_codes;
mod shared;
