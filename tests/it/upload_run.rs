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
//! - `cosell_updates`: an edited Shared row reaches both referrals, also when the partner's
//!   already holds the edit (a lost answer, the same edit made in Partner Center).
//! - `interrupt`: SIGTERM and Ctrl-C end a ten-minute `Retry-After` wait at once.
//! - `auth`: OAuth tokens that expire mid-run; secrets kept out of every output.
//! - `signin`: `login`, `whoami`, `logout`, single-use refresh tokens, refused grants and
//!   credential files; `device_flow`: `login` waiting for the user, the default file.
//! - `exit_codes`: every documented exit code, including SIGINT and SIGTERM mid-run.
//! - `ledger_identity`: the run lock met through a symlink, a hard link, another spelling.
//! - `output_paths`: `--summary-json` and every other output checked before any request.
//! - `row_errors`: invalid rows in `report --failures` until they are fixed.
//! - `dry_run_retry`: `--dry-run` touches nothing; `retry` resends failed records.
//! - `read_only`: the ledger's directory and files made read-only mid-run, and ledger writes
//!   that fail mid-run.

mod adaptive;
mod auth;
mod chaos;
mod contract;
mod cosell_updates;
mod device_flow;
mod dry_run_retry;
mod echoed_refresh_token;
mod echoed_secrets;
mod exactly_once;
mod exit_codes;
mod interrupt;
mod ledger_identity;
mod output_paths;
mod read_only;
mod row_errors;
mod shared;
mod signin;
