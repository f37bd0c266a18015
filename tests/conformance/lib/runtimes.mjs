// One launcher per runtime. Each runs the same scenarios module through the installed
// package and resolves with the scenario results; a launcher throws when the runtime
// itself could not be started or gave no results (the harness reports that as a failure).

import { spawn } from "node:child_process";
import { access, copyFile, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import readline from "node:readline";

import { CHROMIUM_ARGS } from "../../lib/chromium.mjs";
import { resolveExport } from "./fixture.mjs";
import { startStatic } from "./static.mjs";

/** Generous: a runtime that needs longer than this is stuck, not slow. */
const RUNTIME_TIMEOUT_MS = 10 * 60_000;

const RESULT_PREFIX = "CONFORMANCE_RESULTS ";

/** The environment for child runtimes: no RUNKV_* settings leak in from the caller's shell. */
function childEnv(extra) {
  const env = { ...process.env, ...extra };
  for (const name of Object.keys(env)) if (name.startsWith("RUNKV_")) delete env[name];
  return env;
}

async function requireBinary(bin, what) {
  try {
    await access(bin);
  } catch {
    throw new Error(
      `${what} is not installed at ${bin} (run \`npm install\` at the repository root)`,
    );
  }
}

/** Runs a process and returns its stdout, stderr and exit status, killing it on timeout. */
function runProcess(cmd, args, { cwd, env, timeoutMs = RUNTIME_TIMEOUT_MS }) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function tail(text, lines = 25) {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** Runs an entry file as a process and parses its result line. */
async function runEntryProcess(cmd, args, ctx, runtime) {
  const config = ctx.configFor(runtime);
  const out = await runProcess(cmd, [...args, JSON.stringify(config)], {
    cwd: ctx.appDir,
    env: childEnv({}),
  });
  const line = out.stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
  if (!line) {
    const status = out.signal ? `killed by ${out.signal}` : `exit code ${out.code}`;
    throw new Error(`${runtime} printed no results (${status}):\n${tail(out.stderr + out.stdout)}`);
  }
  return JSON.parse(line.slice(RESULT_PREFIX.length));
}

export const nodeEsm = {
  name: "node-esm",
  capabilities: ["env"],
  run: (ctx) => runEntryProcess(process.execPath, ["entries/cli.mjs"], ctx, "node-esm"),
};

export const nodeCjs = {
  name: "node-cjs",
  capabilities: ["env"],
  run: (ctx) => runEntryProcess(process.execPath, ["entries/cli.cjs"], ctx, "node-cjs"),
};

export const deno = {
  name: "deno",
  capabilities: ["env"],
  async run(ctx) {
    await requireBinary(ctx.bins.deno, "deno");

    // With a package.json next to it, Deno resolves bare names through node_modules.
    return runEntryProcess(
      ctx.bins.deno,
      [
        "run",
        "--quiet",
        "--no-prompt",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        "entries/cli.mjs",
      ],
      ctx,
      "deno",
    );
  },
};

/**
 * Deno without --allow-env: the package may not read RUNKV_URL and RUNKV_TOKEN there, and
 * must report missing settings as config_missing rather than a permission error.
 */
export const denoNoEnv = {
  name: "deno-no-env",
  async run(ctx) {
    await requireBinary(ctx.bins.deno, "deno");
    return runEntryProcess(
      ctx.bins.deno,
      ["run", "--quiet", "--no-prompt", "--allow-net", "--allow-read", "entries/cli.mjs"],
      ctx,
      "deno-no-env",
    );
  },
};

export const bun = {
  name: "bun",
  capabilities: ["env"],
  async run(ctx) {
    await requireBinary(ctx.bins.bun, "bun");
    return runEntryProcess(ctx.bins.bun, ["entries/cli.mjs"], ctx, "bun");
  },
};

/** `require("runkv")` in Bun, which resolves the `bun` condition for require too. */
export const bunCjs = {
  name: "bun-cjs",
  capabilities: ["env"],
  async run(ctx) {
    await requireBinary(ctx.bins.bun, "bun");
    return runEntryProcess(ctx.bins.bun, ["entries/cli.cjs"], ctx, "bun-cjs");
  },
};

/**
 * workerd: bundle the worker with esbuild (resolving `runkv` with the `workerd` condition,
 * as wrangler does) and keep every `.wasm` import as a separate WebAssembly module, because
 * workerd refuses to compile WebAssembly from bytes at run time.
 */
export const workerd = {
  name: "workerd",
  capabilities: ["bindings"],
  async run(ctx) {
    await requireBinary(ctx.bins.workerd, "workerd");
    const esbuild = await import("esbuild");
    const outDir = path.join(ctx.work, "workerd");
    await mkdir(outDir, { recursive: true });

    const wasmModules = new Map();
    const wasmAsModule = {
      name: "wasm-as-module",
      setup(build) {
        build.onResolve({ filter: /\.wasm(\?module)?$/ }, (args) => {
          const file = path.resolve(args.resolveDir, args.path.replace(/\?module$/, ""));
          const name = path.basename(file);
          wasmModules.set(name, file);
          return { path: `./${name}`, external: true };
        });
      },
    };
    await esbuild.build({
      entryPoints: [path.join(ctx.appDir, "entries", "workerd.mjs")],
      outfile: path.join(outDir, "worker.js"),
      bundle: true,
      format: "esm",
      platform: "neutral",
      conditions: ["workerd", "worker", "browser"],
      mainFields: ["module", "main"],
      plugins: [wasmAsModule],
      logLevel: "silent",
    });
    for (const [name, file] of wasmModules) await copyFile(file, path.join(outDir, name));

    const config = ctx.configFor("workerd");
    const modules = [
      '(name = "worker.js", esModule = embed "worker.js")',
      ...[...wasmModules.keys()].map((name) => `(name = "${name}", wasm = embed "${name}")`),
    ];
    await writeFile(
      path.join(outDir, "config.capnp"),
      `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # The default outbound network only reaches public addresses; the servers are on loopback.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    ${modules.join(",\n    ")}
  ],
  # The settings as a deployed Worker gets them: bindings in its env.
  bindings = [
    (name = "RUNKV_URL", text = ${JSON.stringify(config.url)}),
    (name = "RUNKV_TOKEN", text = ${JSON.stringify(config.tokens.readWrite)}),
  ],
  compatibilityDate = "2025-09-01",
);
`,
    );

    // workerd reports the port it bound on the control file descriptor.
    const child = spawn(ctx.bins.workerd, ["serve", "--control-fd=3", "config.capnp"], {
      cwd: outDir,
      env: childEnv({}),
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    });
    ctx.onCleanup(async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    try {
      const port = await new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error("workerd did not start within 30 s")),
          30_000,
        );
        readline.createInterface({ input: child.stdio[3] }).on("line", (line) => {
          const event = JSON.parse(line);
          if (event.event === "listen" && event.socket === "http") {
            clearTimeout(timer);
            resolve(event.port);
          }
        });
        child.on("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`workerd exited (${code}) before listening:\n${tail(output)}`));
        });
      });
      const base = `http://127.0.0.1:${port}`;
      const listing = await fetch(base);
      if (!listing.ok) {
        throw new Error(
          `workerd answered ${listing.status}:\n${tail(await listing.text())}\n${tail(output)}`,
        );
      }
      const names = await listing.json();

      const results = [];
      for (const name of names) {
        const res = await fetch(base, {
          method: "POST",
          body: JSON.stringify({ config, only: [name] }),
          signal: AbortSignal.timeout(120_000),
        });
        if (!res.ok) {
          results.push({
            name,
            ok: false,
            ms: 0,
            error: `worker answered ${res.status}: ${tail(await res.text(), 5)}`,
          });
          continue;
        }
        results.push(...(await res.json()));
      }
      return results;
    } finally {
      if (child.exitCode === null) child.kill("SIGTERM");
    }
  },
};

/** Launches Chromium once for every browser runtime; `close()` ends it. */
export async function launchChromium(work, executablePath) {
  await requireBinary(executablePath, "Chromium");
  const { chromium } = await import("playwright-core");
  const userDataDir = await mkdtemp(path.join(work, "chromium-profile-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return context;
}

/** Opens `url` in a new tab, waits for `ready()` in the page, then evaluates `run(config)`. */
async function runInPage(ctx, runtime, url, ready, run) {
  const context = await ctx.chromium();
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
  });
  try {
    await page.goto(url);
    try {
      await page.waitForFunction(ready, null, { timeout: 30_000 });
    } catch {
      throw new Error(`${runtime}: the page never became ready\n${problems.join("\n")}`);
    }
    page.setDefaultTimeout(RUNTIME_TIMEOUT_MS);
    return await page.evaluate(run, ctx.configFor(runtime));
  } finally {
    await page.close();
  }
}

/** The package's entry for browsers and its URL on the static server. */
function browserEntryUrl(ctx) {
  const entry = resolveExport(ctx.manifest, ["browser", "import"]);
  if (!entry) {
    throw new Error('pkg/package.json exports no entry for the "browser" + "import" conditions');
  }
  return `/node_modules/runkv/${entry.replace(/^\.\//, "")}`;
}

/**
 * A Chromium page loading the package as a native ES module: an import map points `runkv` at
 * the package's browser entry, which finds its `.wasm` relative to itself.
 */
export const chromiumPage = {
  name: "chromium-page",
  async run(ctx) {
    const importMap = { imports: { runkv: browserEntryUrl(ctx) } };
    await writeFile(
      path.join(ctx.appDir, "entries", "page.html"),
      `<!doctype html>
<meta charset="utf-8">
<title>runkv conformance: page</title>
<script type="importmap">${JSON.stringify(importMap)}</script>
<script type="module" src="./browser.mjs"></script>
`,
    );
    const site = await ctx.site();
    return runInPage(
      ctx,
      "chromium-page",
      `${site.url}/entries/page.html`,
      () => typeof globalThis.runConformance === "function",
      (config) => globalThis.runConformance(config),
    );
  },
};

/**
 * A dedicated module Web Worker. Workers do not inherit the page's import map (Chromium
 * gives them none), so the static server substitutes the package's browser entry URL for
 * the bare name in the worker's entry file: exactly what the import map does for the page.
 */
export const chromiumWorker = {
  name: "chromium-worker",
  async run(ctx) {
    await writeFile(
      path.join(ctx.appDir, "entries", "worker.html"),
      `<!doctype html>
<meta charset="utf-8">
<title>runkv conformance: worker</title>
<script type="module">
  const worker = new Worker("./web-worker.mjs", { type: "module" });
  let settle;
  worker.onmessage = (event) => {
    if (event.data === "ready") globalThis.workerReady = true;
    else settle?.(event.data);
  };
  worker.onerror = (event) => {
    globalThis.workerError = event.message ?? "worker failed to load";
  };
  globalThis.runConformance = (config) =>
    new Promise((resolve) => { settle = resolve; worker.postMessage(config); });
</script>
`,
    );
    const site = await ctx.site();
    return runInPage(
      ctx,
      "chromium-worker",
      `${site.url}/entries/worker.html`,
      () => globalThis.workerReady === true || globalThis.workerError !== undefined,
      async (config) => {
        if (globalThis.workerError !== undefined) {
          throw new Error(`worker: ${globalThis.workerError}`);
        }
        return globalThis.runConformance(config);
      },
    );
  },
};

/** Rewrites the bare specifier in the worker entry (see `chromiumWorker`). */
export function workerRewrite(ctx) {
  return (urlPath, text) =>
    urlPath === "/entries/web-worker.mjs"
      ? text.replace(/from "runkv"/g, `from ${JSON.stringify(browserEntryUrl(ctx))}`)
      : text;
}

/** A production Vite build of a small app that imports `runkv`, run in a Chromium page. */
export const viteBundle = {
  name: "vite-bundle",
  async run(ctx) {
    const { build } = await import("vite");
    const root = path.join(ctx.appDir, "entries", "bundler");
    const outDir = path.join(ctx.appDir, "vite-dist");
    await build({
      root,
      base: "./",
      logLevel: "error",
      configFile: false,
      build: { outDir, emptyOutDir: true, minify: true },
    });
    const built = await readFile(path.join(outDir, "index.html"), "utf8");
    if (!built.includes("<script")) throw new Error("the Vite build produced no script");
    const site = await ctx.site();
    return runInPage(
      ctx,
      "vite-bundle",
      `${site.url}/vite-dist/index.html`,
      () => typeof globalThis.runConformance === "function",
      (config) => globalThis.runConformance(config),
    );
  },
};

/**
 * The package README's recipe for esbuild: esbuild leaves
 * `new URL("./runkv_bg.wasm", import.meta.url)` as it is and emits no `.wasm`, so the app
 * copies node_modules/runkv/dist/runkv_bg.wasm next to its bundle.
 */
async function esbuildWithWasm(ctx, { entry, outDir, platform }) {
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: [path.join(ctx.appDir, "entries", entry)],
    outdir: outDir,
    bundle: true,
    format: "esm",
    platform,
    minify: true,
    logLevel: "silent",
  });
  await copyFile(
    path.join(ctx.appDir, "node_modules", "runkv", "dist", "runkv_bg.wasm"),
    path.join(outDir, "runkv_bg.wasm"),
  );
}

/** An esbuild bundle of a small browser app, run in a Chromium page. */
export const esbuildBrowser = {
  name: "esbuild-browser",
  async run(ctx) {
    const outDir = path.join(ctx.appDir, "esbuild-browser");
    await esbuildWithWasm(ctx, { entry: "bundler/main.mjs", outDir, platform: "browser" });
    await writeFile(
      path.join(outDir, "index.html"),
      `<!doctype html>
<meta charset="utf-8">
<title>runkv conformance: esbuild bundle</title>
<script type="module" src="./main.js"></script>
`,
    );
    const site = await ctx.site();
    return runInPage(
      ctx,
      "esbuild-browser",
      `${site.url}/esbuild-browser/index.html`,
      () => typeof globalThis.runConformance === "function",
      (config) => globalThis.runConformance(config),
    );
  },
};

/**
 * An esbuild bundle for Node (as serverless functions are deployed): one ES module file
 * with the scenarios and the package inlined, run by Node.
 */
export const esbuildNode = {
  name: "esbuild-node",
  capabilities: ["env"],
  async run(ctx) {
    const outDir = path.join(ctx.appDir, "esbuild-node");
    await esbuildWithWasm(ctx, { entry: "cli.mjs", outDir, platform: "node" });
    return runEntryProcess(
      process.execPath,
      [path.join(outDir, "cli.js")],
      ctx,
      "esbuild-node",
    );
  },
};

export const allRuntimes = [
  nodeEsm,
  nodeCjs,
  deno,
  denoNoEnv,
  bun,
  bunCjs,
  workerd,
  chromiumPage,
  chromiumWorker,
  viteBundle,
  esbuildBrowser,
  esbuildNode,
];
