// Entry point for Cloudflare's workerd. It forbids compiling WebAssembly from bytes at run
// time, so the module is imported as a module (wrangler and miniflare compile `.wasm`
// imports ahead of time) and instantiated synchronously.
import wasm from "./runkv_bg.wasm";
import { initSync, KVStore } from "./runkv.js";

initSync({ module: wasm });

export { KVStore };
export { KVStoreError } from "./host.js";
