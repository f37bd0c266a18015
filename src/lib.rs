//! The runkv SDK: `KVStore`, a client for a runkv server, compiled to WebAssembly and
//! shipped as the npm package `runkv` for every JavaScript runtime.
//!
//! The layers, from the outside in:
//! - [`store`]: the `KVStore` class JavaScript sees; each method checks its arguments,
//!   builds a request with the protocol crate's rules, sends it (retrying per the policy)
//!   and turns the reply into a value or a failure.
//! - `options`: the constructor's and each call's options, and the settings taken from
//!   the environment (`env`).
//! - `retry`: when a failed request is sent again and how long to wait first.
//! - `http`: one exchange through the runtime's `fetch`, with a timeout and abort signal.
//! - `failure`: why a call failed, and the `KVStoreError` that tells JavaScript.
//!
//! The few things only JavaScript can do well (the error class, which must extend `Error`;
//! the `fetch` exchange; reading guarded environments) are in the package's
//! `pkg/src/host.js`, which the generated glue imports. The wire format (paths, key
//! encoding, limits, error codes) comes from `runkv-protocol`, the crate the server uses
//! too.

#![deny(missing_docs)]

mod env;
mod failure;
mod http;
mod options;
mod retry;
pub mod store;

pub use store::KVStore;

// talc instead of the standard library's dlmalloc: the module is a download, and talc is a
// few kilobytes smaller at the same speed for the SDK's small, short-lived allocations.
// The module is single-threaded, which is what `TalckWasm` assumes.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
