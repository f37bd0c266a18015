//! The SDK's scenarios in a browser page (headless Chromium in scripts/test-wasm.sh).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod scenarios;
