#!/usr/bin/env node
// SDK overhead benchmark (not a test: it asserts nothing, it prints numbers).
//
//   node bench/sdk.mjs [--seconds 3] [--rounds 5] [--concurrency 16] [--cold-runs 7] [--pkg DIR]
//
// Against one real runkv-server started for this run, in one Node process:
//
// - Throughput: `kv.get(key)` through the built package versus a hand-written `fetch` loop
//   sending the same request (same URL, same Authorization header, reading the JSON body),
//   with the same number of calls in flight. Each round runs both back to back so drift in
//   the machine's load hits both; the ratio fetch ops/s / SDK ops/s, median over the rounds,
//   is the SDK's overhead (target: at most 1.1). The client CPU time per call is printed
//   too: on a busy machine it is the steadier measure of what the SDK adds.
// - Cold start: in a fresh `node` process, the time to import the package and the time to
//   its first completed `get`, median of several runs, next to the same first request made
//   with plain `fetch` in a fresh process.
//
// Needs target/release/runkv-server or target/debug/runkv-server (or RUNKV_SERVER_BIN) and
// a built pkg/ (scripts/build-pkg.sh). A debug server is slower, which makes the client's
// share of the time, and so the measured overhead, smaller: prefer a release build.

import { execFile } from "node:child_process";
import { access, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";

import { createFixture } from "../tests/conformance/lib/fixture.mjs";
import { startServer } from "../tests/conformance/lib/server.mjs";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "16" },
    "cold-runs": { type: "string", default: "7" },
    pkg: { type: "string" },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CONCURRENCY = Number(args.concurrency);
const COLD_RUNS = Number(args["cold-runs"]);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

async function firstExisting(paths) {
  for (const p of paths) {
    try {
      await access(p);
      return p;
    } catch {}
  }
  return null;
}

/**
 * Runs `op` with `concurrency` calls in flight for `seconds`. Returns completed calls per
 * second of wall time, and this process's CPU time (user + system) per call: the server runs
 * in another process, so that is the client's own cost, and other load on the machine
 * delays it without inflating it.
 */
async function throughput(op, seconds, concurrency) {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      await op();
      done += 1;
    }
  };
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage(cpuStart);
  return {
    opsPerSec: done / ((performance.now() - started) / 1000),
    cpuMicrosPerCall: (cpu.user + cpu.system) / done,
    calls: done,
  };
}

/** Runs a small ES module in a fresh `node` in the fixture app; returns its JSON output. */
async function fresh(appDir, source) {
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", source], {
    cwd: appDir,
    env: { PATH: process.env.PATH },
  });
  return JSON.parse(stdout.trim().split("\n").pop());
}

async function main() {
  const serverBin = process.env.RUNKV_SERVER_BIN ??
    (await firstExisting([
      path.join(root, "target", "release", "runkv-server"),
      path.join(root, "target", "debug", "runkv-server"),
    ]));
  if (!serverBin) {
    console.error("runkv-server is not built: run `cargo build --release -p runkv-server`");
    process.exit(1);
  }
  const pkgDir = path.resolve(args.pkg ?? path.join(root, "pkg"));
  if (!(await firstExisting([path.join(pkgDir, "dist")]))) {
    console.error(`${pkgDir}/dist is missing: run \`scripts/build-pkg.sh\``);
    process.exit(1);
  }

  const work = await mkdtemp(path.join(os.tmpdir(), "runkv-bench-"));
  const server = await startServer(serverBin, work);
  try {
    const fixture = await createFixture(pkgDir, work, path.join(root, "tests", "conformance"));
    // The package is imported from the fixture app, through its `exports`, as a user would.
    const entryUrl = await fresh(
      fixture.appDir,
      'console.log(JSON.stringify(import.meta.resolve("runkv")))',
    );
    const sdk = await import(entryUrl);

    const namespace = "conf-bench";
    const key = "bench-key";
    const value = "v".repeat(100);
    const token = server.tokens.readWrite;
    const kv = new sdk.KVStore(namespace, { url: server.url, token });
    await kv.set(key, value);

    const url = `${server.url}/get/${namespace}/${key}`;
    const headers = { authorization: `Bearer ${token}` };
    const plainGet = async () => {
      const res = await fetch(url, { headers });
      if (!res.ok) throw new Error(`plain fetch answered ${res.status}`);
      const body = await res.json();
      if (body.value !== value) throw new Error("plain fetch read a different value");
    };
    // Not a baseline for the ratio, a diagnostic: the same request with a per-attempt
    // timeout (an AbortController, a timer and its signal passed to fetch), which any
    // client with a timeout needs. It shows what part of the overhead is that signal
    // rather than the SDK's own work.
    const timedGet = async () => {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 30_000);
      try {
        const res = await fetch(url, { headers, signal: controller.signal });
        if (!res.ok) throw new Error(`plain fetch answered ${res.status}`);
        const body = await res.json();
        if (body.value !== value) throw new Error("plain fetch read a different value");
      } finally {
        clearTimeout(timer);
      }
    };
    const sdkGet = async () => {
      if ((await kv.get(key)) !== value) throw new Error("kv.get read a different value");
    };

    console.log(`server: ${path.relative(root, serverBin)} at ${server.url}`);
    // Other work on the machine skews both sides; the load average says how much.
    const load = os.loadavg().map((l) => l.toFixed(2)).join(", ");
    console.log(
      `node ${process.version}, ${os.cpus().length} CPUs, load average ${load}, ` +
        `package ${fixture.manifest.version}`,
    );
    console.log(
      `throughput: ${ROUNDS} alternating rounds of ${SECONDS} s each, ` +
        `${CONCURRENCY} calls in flight`,
    );

    // Warm both paths (JIT, connection pool) before measuring.
    await throughput(plainGet, 1, CONCURRENCY);
    await throughput(timedGet, 1, CONCURRENCY);
    await throughput(sdkGet, 1, CONCURRENCY);

    const memoryBefore = process.memoryUsage();
    // Each round runs the three variants back to back, so a change in the machine's load
    // hits all of them; the ratio is taken within each round, then the median across rounds.
    const rounds = [];
    let sdkCalls = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      const fetchRound = await throughput(plainGet, SECONDS, CONCURRENCY);
      const timedRound = await throughput(timedGet, SECONDS, CONCURRENCY);
      const sdkRound = await throughput(sdkGet, SECONDS, CONCURRENCY);
      rounds.push({ fetch: fetchRound, timed: timedRound, sdk: sdkRound });
      sdkCalls += sdkRound.calls;
    }
    const memoryAfter = process.memoryUsage();

    const list = (pick, digits = 0) => rounds.map((r) => pick(r).toFixed(digits)).join(", ");
    const report = (label, variant) => {
      const ops = median(rounds.map((r) => r[variant].opsPerSec));
      const cpu = median(rounds.map((r) => r[variant].cpuMicrosPerCall));
      console.log(
        `  ${label.padEnd(34)} ${ops.toFixed(0).padStart(6)} ops/s, ` +
          `${cpu.toFixed(0).padStart(4)} us client CPU per call ` +
          `(rounds: ${list((r) => r[variant].opsPerSec)})`,
      );
    };
    report("plain fetch", "fetch");
    report("kv.get", "sdk");
    report("fetch with a timeout signal (diag.)", "timed");

    const wallRatio = median(rounds.map((r) => r.fetch.opsPerSec / r.sdk.opsPerSec));
    const cpuRatio = median(rounds.map((r) => r.sdk.cpuMicrosPerCall / r.fetch.cpuMicrosPerCall));
    const timedCpuRatio = median(
      rounds.map((r) => r.timed.cpuMicrosPerCall / r.fetch.cpuMicrosPerCall),
    );
    console.log(
      `  overhead, ops/s:           ${wallRatio.toFixed(3)}x ` +
        `(plain fetch / kv.get, median of per-round ratios: ${
          list((r) => r.fetch.opsPerSec / r.sdk.opsPerSec, 3)
        }; target <= 1.1x)`,
    );
    console.log(
      `  overhead, client CPU/call: ${cpuRatio.toFixed(3)}x ` +
        `(kv.get / plain fetch; a timeout signal alone: ${timedCpuRatio.toFixed(3)}x)`,
    );
    const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      `  memory over ${sdkCalls} kv.get calls: rss ${mib(memoryBefore.rss)} -> ${
        mib(memoryAfter.rss)
      }, ` +
        `external+arrayBuffers ${mib(memoryBefore.external + memoryBefore.arrayBuffers)} -> ` +
        `${mib(memoryAfter.external + memoryAfter.arrayBuffers)} (includes the WebAssembly memory)`,
    );

    // Cold start, each run in a new process. The plain-fetch baseline pays Node's own cost
    // of the first fetch (undici is loaded lazily), which the SDK pays too.
    const sdkCold = `
      const t0 = performance.now();
      const { KVStore } = await import("runkv");
      const t1 = performance.now();
      const kv = new KVStore(${JSON.stringify(namespace)}, { url: ${
      JSON.stringify(server.url)
    }, token: ${JSON.stringify(token)} });
      const v = await kv.get(${JSON.stringify(key)});
      const t2 = performance.now();
      if (v === null) throw new Error("missing");
      console.log(JSON.stringify({ importMs: t1 - t0, firstCallMs: t2 - t1, totalMs: t2 - t0 }));`;
    const fetchCold = `
      const t0 = performance.now();
      const res = await fetch(${JSON.stringify(url)}, { headers: ${JSON.stringify(headers)} });
      await res.json();
      console.log(JSON.stringify({ totalMs: performance.now() - t0 }));`;
    const sdkRuns = [];
    const fetchRuns = [];
    for (let i = 0; i < COLD_RUNS; i += 1) {
      sdkRuns.push(await fresh(fixture.appDir, sdkCold));
      fetchRuns.push(await fresh(fixture.appDir, fetchCold));
    }
    const med = (runs, field) => median(runs.map((r) => r[field]));
    console.log(`cold start in a fresh node process, median of ${COLD_RUNS} runs:`);
    console.log(`  import("runkv"):                 ${med(sdkRuns, "importMs").toFixed(1)} ms`);
    console.log(`  then first kv.get:               ${med(sdkRuns, "firstCallMs").toFixed(1)} ms`);
    console.log(`  import + first kv.get:           ${med(sdkRuns, "totalMs").toFixed(1)} ms`);
    console.log(`  first plain fetch (baseline):    ${med(fetchRuns, "totalMs").toFixed(1)} ms`);
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
