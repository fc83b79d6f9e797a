//! Tests of the admin module.
