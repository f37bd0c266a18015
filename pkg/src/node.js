// Entry point for Node (import) and Bun: the WebAssembly module is read from the
// package's own files and instantiated synchronously, so the store is usable as soon as
// the import finishes.
import { readFileSync } from "node:fs";
import { initSync, KVStore } from "./runkv.js";

initSync({ module: readFileSync(new URL("./runkv_bg.wasm", import.meta.url)) });

export { KVStore };
export { KVStoreError } from "./host.js";
