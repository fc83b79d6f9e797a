//! The Referral model's validation on arbitrary JSON: create rules, update rules against the
//! seed request and status transitions must report field errors, never panic.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use referral_sync::referral::{validate_create, validate_update};
use serde_json::Value;

fn seed() -> &'static Value {
    static SEED: OnceLock<Value> = OnceLock::new();
    SEED.get_or_init(|| {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/seed-create-request.json"
        ))
        .expect("fuzz: the seed request fixture is JSON")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for error in validate_create(&payload) {
        let _ = error.to_string();
    }
    let _ = validate_update(seed(), &payload);
    let _ = validate_update(&payload, seed());
});
