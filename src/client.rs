//! The client library (to come).
