//! The SDK's scenarios in a dedicated Web Worker (headless Chromium in
//! scripts/test-wasm.sh): no `window`, no DOM.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

mod scenarios;

use wasm_bindgen_test::wasm_bindgen_test;

/// The scenarios above really ran in a worker: no `window`, a worker global scope.
#[wasm_bindgen_test]
fn runs_in_a_dedicated_worker() {
    let global = js_sys::global();
    let has = |name: &str| js_sys::Reflect::has(&global, &name.into()).unwrap();
    assert!(!has("window"));
    assert!(has("DedicatedWorkerGlobalScope"));
}
