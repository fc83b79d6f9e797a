//! `reconcile`: the export, the ledger and the API side by side.

use crate::cli::ReconcileArgs;
use crate::{Error, Exit};

pub fn reconcile_command(_args: ReconcileArgs) -> Result<Exit, Error> {
    Err(Error::usage("reconcile is being built"))
}
