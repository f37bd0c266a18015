// Entry point for Deno. The WebAssembly module is imported as a module (a source phase
// import), which needs no read permission, unlike reading the file; it is instantiated
// synchronously, so the store is usable as soon as the import finishes.
import source wasm from "./runkv_bg.wasm";
import { initSync, KVStore } from "./runkv.js";

initSync({ module: wasm });

export { KVStore };
export { KVStoreError } from "./host.js";
