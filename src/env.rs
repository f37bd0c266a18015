//! Settings from the environment, for code that configures runkv without options.
//!
//! Runtimes keep their environment in different places, and some guard it; the lookup is
//! in the package's `host.js`, where trying each place and catching what throws is a few
//! lines.

use wasm_bindgen::prelude::*;

#[cfg_attr(feature = "npm-package", wasm_bindgen(raw_module = "./host.js"))]
#[cfg_attr(not(feature = "npm-package"), wasm_bindgen(module = "/pkg/src/host.js"))]
extern "C" {
    #[wasm_bindgen(js_name = envSetting)]
    fn env_setting(env: &JsValue, name: &str) -> Option<String>;
}

/// Looks up `name` in, in order: the `env` option (Workers-style bindings), `process.env`
/// (Node, Bun, Deno's Node compatibility), and `Deno.env` (when permitted). Empty strings
/// count as unset.
pub(crate) fn lookup(env_option: &JsValue, name: &str) -> Option<String> {
    env_setting(env_option, name)
}
