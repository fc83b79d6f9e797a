//! The way back from Partner Center: inbound referrals answered (`triage`).

pub mod triage;
