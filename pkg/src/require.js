// Source of the CommonJS entry point, `dist/runkv.cjs`, for `require("runkv")`. The
// build bundles it with the ES module glue into one CommonJS file; `__dirname` is then
// the directory of that file, next to the WebAssembly module.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { initSync, KVStore } from "./runkv.js";

initSync({ module: readFileSync(join(__dirname, "runkv_bg.wasm")) });

export { KVStore };
export { KVStoreError } from "./host.js";
