//! `reconcile`: every category produced on purpose against the sandbox.
