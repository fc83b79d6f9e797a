//! Tests of the referral module.
