//! What the integration tests of the `scones` crate share: the dashboard's fixtures
//! (`dashboard`) and the over-the-wire AWS fixtures (`aws`, with the `moto-tests` feature).

#![allow(dead_code)] // each test binary uses part of it

#[cfg(feature = "moto-tests")]
pub mod aws;
pub mod dashboard;
