//! The `check`, `preview` and `mapping-schema` commands: mapping files applied to inputs,
//! with no request and no state.

use crate::cli::{CheckArgs, PreviewArgs};
use crate::{Error, Exit};

pub fn check_command(_args: CheckArgs) -> Result<Exit, Error> {
    Err(Error::usage("check is being built"))
}
pub fn preview_command(_args: PreviewArgs) -> Result<Exit, Error> {
    Err(Error::usage("preview is being built"))
}
pub fn schema_command() -> Result<Exit, Error> {
    Err(Error::usage("mapping-schema is being built"))
}
