//! Helpers shared by the integration tests.

pub mod api;
pub mod sandbox;
pub mod signin;
pub mod upload;
