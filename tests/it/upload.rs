//! Tests of the upload module.
