//! Tests of the mapping module.
