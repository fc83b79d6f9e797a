//! End-to-end tests of `upload` and `retry`: the real binary against a real sandbox (in this
//! process, or as its own process when it must be killed and restarted), with real SQLite
//! ledgers in tempdirs. Every test asserts through what the API holds (the sandbox's stats
//! and listing) and what the ledger says, never through timing.
//!
//! - `exactly_once`: lost responses, 429 storms (fixed and adaptive rate), re-runs, one
//!   changed row, the 412 path, repeated external ids, `--limit`, the embedded sandbox.
//! - `chaos`: the uploader SIGKILLed at seeded points (creates, Shared referrals, updates),
//!   and the sandbox killed and restarted mid-run on its `--state` file.
//! - `shared`: Shared referrals and their connected referral; a crash between the steps.
//! - `auth`: OAuth tokens that expire mid-run; secrets kept out of every output.
//! - `exit_codes`: every documented exit code, including SIGINT and SIGTERM mid-run.
//! - `dry_run_retry`: `--dry-run` touches nothing; `retry` resends failed records.
//! - `read_only`: the ledger's directory and files made read-only mid-run, and ledger writes
//!   that fail mid-run.

mod auth;
mod chaos;
mod contract;
mod dry_run_retry;
mod exactly_once;
mod exit_codes;
mod read_only;
mod shared;
