// Entry for the runtimes started as a process with an ES module: Node, Deno and Bun.
// Takes the configuration as its one argument (JSON) and prints one result line on stdout.

import * as sdk from "runkv";
import { runScenarios } from "../scenarios.mjs";

const deno = globalThis.Deno;
const config = JSON.parse(deno ? deno.args[0] : process.argv[2]);

// The process environment, where the scenarios may use it: Deno only grants it with
// --allow-env, and the suite also runs Deno without that permission.
let env;
if (!deno) {
  env = { set: (k, v) => (process.env[k] = v), unset: (k) => delete process.env[k] };
} else if (deno.permissions.querySync({ name: "env" }).state === "granted") {
  env = { set: (k, v) => deno.env.set(k, v), unset: (k) => deno.env.delete(k) };
}

const results = await runScenarios(sdk, config, { name: config.runtime, env });
console.log(`CONFORMANCE_RESULTS ${JSON.stringify(results)}`);
