//! Helpers shared by the integration tests. Each test file uses a part of
//! them, so unused items are expected per file.
#![allow(dead_code, unused_macros, unused_imports)]

pub mod store_suite;
