//! The `referral-sync` binary: parse the arguments, run the library, exit with its code.

use std::process::ExitCode;

use clap::Parser;

/// Mapping a row allocates many small strings and JSON objects that live for one row; mimalloc
/// serves them from thread-local free lists, far cheaper than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
