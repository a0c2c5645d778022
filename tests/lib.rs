//! Integration tests for Accord.
