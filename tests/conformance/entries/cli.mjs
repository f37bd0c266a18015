// Entry for the runtimes started as a process with an ES module: Node, Deno and Bun.
// Reads the configuration from CONFORMANCE_CONFIG and prints one result line on stdout.

import * as sdk from "runkv";
import { runScenarios } from "../scenarios.mjs";

const env = globalThis.Deno
  ? { set: (k, v) => Deno.env.set(k, v), unset: (k) => Deno.env.delete(k) }
  : { set: (k, v) => (process.env[k] = v), unset: (k) => delete process.env[k] };
const read = (name) => (globalThis.Deno ? Deno.env.get(name) : process.env[name]);

const config = JSON.parse(read("CONFORMANCE_CONFIG"));
const results = await runScenarios(sdk, config, { name: config.runtime, env });
console.log(`CONFORMANCE_RESULTS ${JSON.stringify(results)}`);
