//! The library half of the `scones` package: the terminal dashboard, as a library so that
//! tests and benchmarks drive exactly the code the binary runs.

pub mod dashboard;
