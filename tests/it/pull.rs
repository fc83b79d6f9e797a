//! Tests of the API mirror and the `pull` command: the mirror's tables in the ledger, and
//! pulls by the real binary against a sandbox process (first delivery, changes, nothing
//! changed, SIGKILL at random points, an older ledger, bad flags).

mod columns;
mod cosell;
mod inbound;
mod kill;
mod ledger_mirror;
mod pulls;
