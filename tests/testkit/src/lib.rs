//! Test support for gt4py-publish, shared by the integration tests and the benchmarks.
pub mod dist_builder;
pub mod http_server;
pub mod pip;
