//! The index in a local directory.
