//! The uploader: rate-limited, retrying, exactly-once submission.

pub mod auth;
pub mod client;
pub mod rate_limit;
pub mod retry;
pub mod secret;

use crate::cli::{RetryArgs, UploadArgs};
use crate::{Error, Exit};

pub fn upload_command(_args: UploadArgs, _quiet: bool) -> Result<Exit, Error> {
    Err(Error::usage("upload is being built"))
}

pub fn retry_command(_args: RetryArgs, _quiet: bool) -> Result<Exit, Error> {
    Err(Error::usage("retry is being built"))
}
