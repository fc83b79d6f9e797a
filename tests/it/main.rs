//! The integration tests: one binary, one module per feature, `common` for helpers.

mod common;
