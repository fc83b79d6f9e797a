//! The `referral-sync` binary: parse the arguments, run the library, exit with its code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = referral_sync::cli::Cli::parse();
    match referral_sync::run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            referral_sync::error::print_error(&err);
            err.exit().into()
        }
    }
}
