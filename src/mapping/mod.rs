//! Mapping files: TOML that turns export rows into Referral payloads.
//!
//! A mapping is loaded and validated once (`Mapping::load`, every problem reported together
//! as `file:line:col: message`), checked against an input's header (`check_columns`), and
//! then applied row by row by the streaming driver `records`, which yields one `RowOutcome`
//! per row: a mapped Referral payload, a skipped row, or a row failure listing every field
//! that failed. Its `[pull]` section names the CRM columns of a pull file (`PullColumns`):
//! Partner Center's side of each referral in the CRM's own shape.

mod compiled;
mod convert;
mod diag;
mod eval;
mod fingerprint;
mod load;
mod lookup;
mod maps;
mod out;
mod outcome;
mod pull;
mod pull_load;
mod pull_paths;
mod render;
mod schema;
mod sections;
mod seen;
mod spec;
pub mod targets;
mod tree;

pub use convert::{
    BoolWords, date_utc, parse_bool, parse_date, parse_datetime, parse_decimal, parse_integer,
    timestamp_utc,
};
pub use diag::{Diagnostic, Diagnostics};
pub use fingerprint::payload_hash;
pub use load::Mapping;
pub use out::{Out, write_json};
pub use outcome::{Evaluated, MappedRecord, Problem, RowFailure, RowOutcome, Rows, records};
pub use pull::{PullCellError, PullColumns};
pub use schema::json_schema;
