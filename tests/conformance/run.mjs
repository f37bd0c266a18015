#!/usr/bin/env node
// The cross-runtime conformance suite: runs the same scenarios through the built `runkv`
// package in every JavaScript runtime we support, against a real runkv-server.
//
//   node tests/conformance/run.mjs [--runtime NAME[,NAME...]] [--pkg DIR] [--keep] [--verbose]
//
// --runtime runs only the named runtimes (`typescript` is the type check); --pkg tests
// another package directory instead of pkg/; --keep leaves the temporary directory (the
// fixture app, bundles, browser profile, server data) for inspection; --verbose lists
// passing scenarios too, with their durations.
//
// It builds nothing. It needs target/debug/runkv-server (or RUNKV_SERVER_BIN) and a built
// pkg/dist, and says which command to run when either is missing. Each runtime is one line
// of output; the last line is `N passed, M failed`, counting runtime x scenario, and the
// exit status is non-zero when anything failed. A runtime that cannot be started is a
// failure of all its scenarios, never a skip.

import { spawn } from "node:child_process";
import { access, cp, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { startFakes } from "./lib/fakes.mjs";
import { createFixture } from "./lib/fixture.mjs";
import { allRuntimes, launchChromium, workerRewrite } from "./lib/runtimes.mjs";
import { startServer } from "./lib/server.mjs";
import { startStatic } from "./lib/static.mjs";
import { scenarios } from "./scenarios.mjs";

const conformanceDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(conformanceDir, "..", "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);

const { values: args } = parseArgs({
  options: {
    runtime: { type: "string" },
    pkg: { type: "string" },
    keep: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
  },
});

let passed = 0;
let failed = 0;
/** Set on SIGINT/SIGTERM: results of runtimes torn down mid-run are not reported. */
let interrupted = false;

function report(runtime, results, expected, seconds) {
  if (interrupted) return;
  const byName = new Map(results.map((r) => [r.name, r]));
  const missing = expected.filter((name) => !byName.has(name));
  const failures = results.filter((r) => !r.ok);
  const ok = results.length - failures.length;
  passed += ok;
  failed += failures.length + missing.length;
  const total = results.length + missing.length;
  const verdict = failures.length + missing.length === 0 ? "PASS" : "FAIL";
  console.log(
    `${verdict} ${runtime.padEnd(16)} ${ok}/${total} scenarios (${seconds.toFixed(1)} s)`,
  );
  if (args.verbose) {
    for (const r of results.filter((r) => r.ok)) console.log(`     ok ${r.name} (${r.ms} ms)`);
  }
  for (const r of failures) {
    console.log(`     x ${r.name}\n         ${r.error.replace(/\n/g, "\n         ")}`);
  }
  if (missing.length > 3) {
    console.log(`     x ${missing.length} scenarios gave no result in this runtime`);
  } else {for (const name of missing) {
      console.log(`     x ${name}\n         no result from this runtime`);
    }}
}

function reportBroken(runtime, expected, err, seconds) {
  if (interrupted) return;
  failed += expected.length;
  console.log(
    `FAIL ${runtime.padEnd(16)} 0/${expected.length} scenarios (${seconds.toFixed(1)} s)`,
  );
  console.log(`     ${String(err?.stack ?? err).replace(/\n/g, "\n     ")}`);
}

function finish(code) {
  if (interrupted) return;
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code ?? (failed > 0 ? 1 : 0));
}

async function exists(p) {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/** The build outputs this suite needs; each missing one names the command that makes it. */
async function checkPrerequisites(serverBin, pkgDir) {
  const problems = [];
  if (!(await exists(serverBin))) {
    problems.push(
      `runkv-server not found at ${serverBin}: run \`cargo build -p runkv-server\` ` +
        "(or point RUNKV_SERVER_BIN at a built binary)",
    );
  }
  if (!(await exists(path.join(pkgDir, "package.json")))) {
    problems.push(`${pkgDir}/package.json not found: the npm package is missing`);
  }
  const dist = path.join(pkgDir, "dist");
  if (!(await exists(dist)) || (await readdir(dist)).length === 0) {
    problems.push(`${dist} is missing or empty: run \`scripts/build-pkg.sh\` to build the package`);
  }
  if (!(await exists(path.join(root, "node_modules", "playwright-core")))) {
    problems.push("the dev tools are not installed: run `npm install` at the repository root");
  }
  return problems;
}

/** `tsc --noEmit` of the examples in types/ against the installed package, per resolution mode. */
async function typeCheck(appDir) {
  const typesDir = path.join(appDir, "types");
  await cp(path.join(conformanceDir, "types"), typesDir, { recursive: true });
  // The CommonJS example uses `import x = require()`, which only a CommonJS-aware
  // resolution accepts.
  const modes = [
    {
      options: { module: "nodenext", moduleResolution: "nodenext" },
      files: ["example.ts", "example-require.cts"],
    },
    { options: { module: "esnext", moduleResolution: "bundler" }, files: ["example.ts"] },
  ];
  const results = [];
  for (const mode of modes) {
    const tsconfig = path.join(typesDir, `tsconfig.${mode.options.moduleResolution}.json`);
    await writeFile(
      tsconfig,
      JSON.stringify({
        compilerOptions: {
          ...mode.options,
          target: "es2022",
          lib: ["es2022", "dom"],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: [],
        },
        files: mode.files,
      }),
    );
    const started = Date.now();
    const out = await new Promise((resolve) => {
      const child = spawn(bin("tsc"), ["-p", tsconfig], { cwd: typesDir });
      let text = "";
      child.stdout.on("data", (c) => (text += c));
      child.stderr.on("data", (c) => (text += c));
      child.on("error", (err) => resolve({ code: -1, text: String(err) }));
      child.on("close", (code) => resolve({ code, text }));
    });
    results.push({
      name: `tsc --noEmit ${
        mode.files.join(" ")
      }, moduleResolution ${mode.options.moduleResolution}`,
      ok: out.code === 0,
      ms: Date.now() - started,
      error: out.code === 0 ? undefined : out.text.trim() || `tsc exited with ${out.code}`,
    });
  }
  return results;
}

async function main() {
  const serverBin = process.env.RUNKV_SERVER_BIN ??
    path.join(root, "target", "debug", "runkv-server");
  const pkgDir = path.resolve(args.pkg ?? path.join(root, "pkg"));
  const problems = await checkPrerequisites(serverBin, pkgDir);
  if (problems.length > 0) {
    for (const p of problems) console.log(`FAIL setup: ${p}`);
    failed += problems.length;
    finish(1);
  }

  let selected = allRuntimes;
  if (args.runtime) {
    const wanted = args.runtime.split(",");
    const unknown = wanted.filter((w) =>
      w !== "typescript" && !allRuntimes.some((r) => r.name === w)
    );
    if (unknown.length > 0) {
      console.log(
        `unknown runtime ${unknown.join(", ")}; known: ${
          allRuntimes.map((r) => r.name).join(", ")
        }, typescript`,
      );
      finish(2);
    }
    selected = allRuntimes.filter((r) => wanted.includes(r.name));
  }
  const runTypes = !args.runtime || args.runtime.split(",").includes("typescript");

  const work = await mkdtemp(path.join(os.tmpdir(), "runkv-conformance-"));
  const cleanups = [];

  // Interrupted: stop the server, workerd and Chromium rather than leave them running.
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, async () => {
      interrupted = true;
      console.log(`interrupted (${signal}): stopping the server and the runtimes`);
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
      await rm(work, { recursive: true, force: true, maxRetries: 5 });
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }

  try {
    const fixture = await createFixture(pkgDir, work, conformanceDir);
    const server = await startServer(serverBin, work);
    cleanups.push(server.stop);
    const fakes = await startFakes();
    cleanups.push(fakes.close);
    console.log(
      `runkv-server at ${server.url}; ${fixture.manifest.name}@${fixture.manifest.version} ` +
        "installed from its packed tarball",
    );

    const runId = Math.random().toString(36).slice(2, 8);
    let chromium;
    let site;
    const ctx = {
      appDir: fixture.appDir,
      manifest: fixture.manifest,
      work,
      bins: { deno: bin("deno"), bun: bin("bun"), workerd: bin("workerd") },
      configFor: (runtime) => ({
        runtime,
        url: server.url,
        namespace: `conf-${runtime}-${runId}`,
        otherNamespace: `other-${runtime}-${runId}`,
        tokens: server.tokens,
        maxValueBytes: server.maxValueBytes,
        fakes: fakes.urls,
      }),
      /** Registers a function that stops something a runtime started, also on interrupt. */
      onCleanup: (cleanup) => cleanups.push(cleanup),
      chromium: async () => {
        if (!chromium) {
          chromium = launchChromium(work, process.env.CHROMIUM_BIN ?? "/usr/bin/chromium");
          cleanups.push(async () => (await chromium).close());
        }
        return chromium;
      },
      site: async () => {
        if (!site) {
          site = startStatic(fixture.appDir, { rewrite: workerRewrite(ctx) });
          cleanups.push(async () => (await site).close());
        }
        return site;
      },
    };

    for (const runtime of selected) {
      // Which scenarios apply depends on what the runtime's entry hands them.
      const capabilities = runtime.capabilities ?? [];
      const host = {
        name: runtime.name,
        env: capabilities.includes("env") ? {} : undefined,
        bindings: capabilities.includes("bindings") ? {} : undefined,
      };
      const expected = scenarios.filter((s) => !s.applies || s.applies(host)).map((s) => s.name);
      const started = Date.now();
      try {
        const results = await runtime.run(ctx);
        report(runtime.name, results, expected, (Date.now() - started) / 1000);
      } catch (err) {
        reportBroken(runtime.name, expected, err, (Date.now() - started) / 1000);
      }
    }

    if (runTypes) {
      const started = Date.now();
      const results = await typeCheck(fixture.appDir);
      report("typescript", results, results.map((r) => r.name), (Date.now() - started) / 1000);
    }
  } catch (err) {
    console.log(`FAIL setup: ${err?.stack ?? err}`);
    failed += 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    if (args.keep) console.log(`kept ${work}`);
    else await rm(work, { recursive: true, force: true, maxRetries: 5 });
  }
  finish();
}

await main();
