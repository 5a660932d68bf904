//! The index in a GitHub repository, written through the REST Contents API.
//!
//! - [`token`]: finding the token, and the [`Secret`] type that keeps it out of output.
//! - [`client`]: HTTP — headers, authentication, error mapping, the one retry loop.
//! - [`upload`]: the streamed base64 JSON body of a write.
//! - [`contents`]: [`GitHubTarget`], the `Target` implementation.
//! - [`error`]: [`GitHubError`], messages that say what to do.
//! - [`releases`]: release assets, for distributions above the Contents API's body ceiling.
//! - [`inspect`]: read-only questions for `doctor` (permissions, rules, Pages, sizes).

pub mod asset_store;
pub mod client;
pub mod contents;
pub mod error;
pub mod git_data;
pub mod inspect;
pub mod releases;
pub mod token;
pub mod upload;

pub use client::RetryPolicy;
pub use contents::{DEFAULT_API_URL, GitHubConfig, GitHubTarget};
pub use error::GitHubError;
pub use token::{Secret, TokenError, TokenSource, discover};
