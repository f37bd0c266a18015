//! The SDK's scenarios in Node.
#![cfg(target_arch = "wasm32")]

mod scenarios;
