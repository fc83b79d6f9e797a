//! referral-sync: moves CRM opportunity exports into Microsoft Partner Center as referrals,
//! and keeps them in sync.
//!
//! One row travels `source` (read a CSV, Excel or Dataverse JSON export) → `mapping` (turn it
//! into a Referral payload) → `upload` (send it, rate-limited and retried) → `ledger` (record
//! which referral it became). `sandbox` is a local, stateful Referrals API that the uploader
//! and the tests run against; `admin` holds the morning-after tools.

// Output goes through `console`, which never panics on a closed or full stream.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod admin;
pub mod api;
pub mod cli;
pub mod console;
pub mod error;
pub mod init;
pub mod ledger;
pub mod logging;
pub mod mapping;
pub mod output_file;
pub mod preview;
pub mod pull;
pub mod referral;
pub mod sandbox;
pub mod signin;
pub mod source;
pub mod upload;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
pub use crate::error::{Error, Exit};

/// Run one command to completion.
pub fn run(cli: Cli) -> Result<Exit, Error> {
    let sandbox_log = matches!(cli.command, Command::Sandbox(_));
    logging::init(cli.log_format, cli.quiet, sandbox_log);
    match cli.command {
        Command::Sandbox(args) => sandbox::command(args),
        Command::Init(args) => init::init_command(args),
        Command::Check(args) => preview::check_command(args),
        Command::Preview(args) => preview::preview_command(args, cli.quiet),
        Command::MappingSchema => preview::schema_command(),
        Command::Upload(args) => upload::upload_command(args, cli.quiet),
        Command::Retry(args) => upload::retry_command(args, cli.quiet),
        Command::Status(args) => admin::status_command(args),
        Command::Report(args) => admin::report_command(args),
        Command::Reconcile(args) => admin::reconcile_command(args),
        Command::Pull(args) => pull::pull_command(args),
        Command::Forget(args) => admin::forget_command(args),
        Command::Relink(args) => admin::relink_command(args),
        Command::Triage(args) => pull::triage::triage_command(args),
        Command::Login(args) => signin::login_command(args),
        Command::Whoami(args) => signin::whoami_command(args),
        Command::Logout(args) => signin::logout_command(args),
        Command::Completions(args) => {
            let mut cmd = Cli::command();
            clap_complete::generate(
                args.shell,
                &mut cmd,
                "referral-sync",
                &mut std::io::stdout(),
            );
            Ok(Exit::Success)
        }
    }
}
