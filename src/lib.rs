//! gt4py-publish: publish Python wheels and sdists to a static PEP 503 package index kept in a
//! local directory or in a GitHub repository served by GitHub Pages.
//!
//! Data flows one way: the CLI validates distributions (`dist`), a target (`target`) is read into
//! pages (`index`), the planner (`publish`) computes the writes, and they are applied in an order
//! that keeps every intermediate state a valid index. Progress goes through `report::Reporter`,
//! so nothing below `main` prints.

pub mod actions;
pub mod assets;
pub mod backoff;
pub mod budget;
pub mod change;
pub mod cli;
pub mod dist;
pub mod doctor;
pub mod engine;
pub mod error_chain;
pub mod filename;
pub mod github;
pub mod hashing;
pub mod index;
pub mod maintain;
pub mod metadata;
pub mod name;
pub mod plan;
pub mod publish;
pub mod regenerate;
pub mod report;
pub mod run;
pub mod state;
pub mod target;
pub mod verify;
pub mod wait_live;
