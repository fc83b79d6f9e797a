//! The local, stateful Referrals API sandbox.

use crate::cli::SandboxArgs;
use crate::{Error, Exit};

pub fn command(_args: SandboxArgs) -> Result<Exit, Error> {
    Err(Error::usage("the sandbox is being built"))
}
