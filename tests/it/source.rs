//! Tests of the source module.
