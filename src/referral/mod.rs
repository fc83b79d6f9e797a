//! The Partner Center Referral resource, as on the wire, and its validation.
