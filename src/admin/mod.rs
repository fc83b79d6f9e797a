//! Admin tools: status, reports, reconcile and ledger repair.

use crate::cli::{ForgetArgs, ReconcileArgs, RelinkArgs, ReportArgs, StatusArgs};
use crate::{Error, Exit};

pub fn status_command(_args: StatusArgs) -> Result<Exit, Error> {
    Err(Error::usage("status is being built"))
}
pub fn report_command(_args: ReportArgs) -> Result<Exit, Error> {
    Err(Error::usage("report is being built"))
}
pub fn reconcile_command(_args: ReconcileArgs) -> Result<Exit, Error> {
    Err(Error::usage("reconcile is being built"))
}
pub fn forget_command(_args: ForgetArgs) -> Result<Exit, Error> {
    Err(Error::usage("forget is being built"))
}
pub fn relink_command(_args: RelinkArgs) -> Result<Exit, Error> {
    Err(Error::usage("relink is being built"))
}
