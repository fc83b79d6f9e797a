//! The Dataverse Web API JSON reader on arbitrary bytes: pages, single entities, annotations,
//! nested expansions and junk must never panic.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use referral_sync::source::SourceOptions;

fuzz_target!(|data: &[u8]| {
    let path = common::write_input("json", data);
    common::drain(&path, &SourceOptions::default());
});
