// Checks the download size of the npm package: the gzip size of what a runtime loads (the
// WebAssembly module, the glue, the error class and the entry point) must stay within the
// budget. Prints the sizes; exits non-zero when over budget or when the build is missing.
//
// Usage: node scripts/check-size.mjs [--report]
//   --report  print only, never fail on the budget (the build prints this way)
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

// 30 KB, counted as 1024-byte kilobytes.
const BUDGET_BYTES = 30 * 1024;

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..", "pkg");
const reportOnly = process.argv.includes("--report");

// What each kind of runtime loads. The largest set is held to the budget.
const core = ["dist/runkv_bg.wasm", "dist/runkv.js", "dist/host.js"];
const loads = {
  "browser / bundler": [...core, "dist/browser.js"],
  "node / bun": [...core, "dist/node.js"],
  deno: [...core, "dist/deno.js"],
  "node require": ["dist/runkv_bg.wasm", "dist/runkv.cjs"],
  workerd: [...core, "dist/workerd.js"],
};

const gzipped = (file) => gzipSync(readFileSync(join(pkg, file)), { level: 9 }).length;
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;

const missing = Object.values(loads).flat().filter((f) => !existsSync(join(pkg, f)));
if (missing.length > 0) {
  const names = missing.join(", ");
  console.error(`check-size: not built yet (missing ${names}); run scripts/build-pkg.sh`);
  process.exit(1);
}

let largest = 0;
for (const [runtime, files] of Object.entries(loads)) {
  const sizes = files.map((f) => [f, gzipped(f)]);
  const total = sizes.reduce((sum, [, size]) => sum + size, 0);
  largest = Math.max(largest, total);
  const parts = sizes.map(([f, size]) => `${f} ${kb(size)}`).join(", ");
  console.log(`size: ${runtime}: ${kb(total)} gzip (${parts})`);
}

const verdict = largest <= BUDGET_BYTES ? "within" : "OVER";
console.log(
  `size: largest ${kb(largest)} gzip (${largest} bytes), ${verdict} the budget of ` +
    `${kb(BUDGET_BYTES)} (${BUDGET_BYTES} bytes)`,
);
if (largest > BUDGET_BYTES && !reportOnly) process.exit(1);
