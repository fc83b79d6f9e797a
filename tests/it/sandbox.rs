//! Tests of the sandbox module.
