// Runs the README's snippets, so that what it tells a user is what works.
//
// Every code block in README.md is preceded by a marker, `<!-- readme-test: NAME -->`, that
// names the check below which exercises it; a block without a known marker fails the test.
// The blocks run as written, with two kinds of stand-ins that a user's machine provides
// differently: `runkv-server` on PATH is the debug build, and requests to the example API
// host (https://api.example.com) go to a fake upstream on loopback that counts them.
//
// Usage: node --test tests/readme.test.mjs   (needs target/debug/runkv-server and the built
// pkg/, and PostgreSQL on 127.0.0.1:5432 for the scale-out snippet)
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import readline from "node:readline";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const serverBin = process.env.RUNKV_SERVER_BIN ?? join(root, "target", "debug", "runkv-server");
const postgresUrl =
  process.env.RUNKV_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const run = promisify(execFile);

/** The README's code blocks: `{ marker, lang, code }` in order. */
function readmeBlocks() {
  const text = readFileSync(join(root, "README.md"), "utf8");
  const blocks = [];
  const fence = /(?:<!-- readme-test: ([\w-]+)[^>]*-->\n)?```(\w*)\n([\s\S]*?)```/g;
  for (const match of text.matchAll(fence)) {
    blocks.push({ marker: match[1] ?? null, lang: match[2], code: match[3] });
  }
  return blocks;
}

const blocks = readmeBlocks();
const block = (marker) => {
  const found = blocks.find((b) => b.marker === marker);
  assert.ok(found, `README has no block marked ${marker}`);
  return found.code;
};

const work = mkdtempSync(join(tmpdir(), "runkv-readme-"));
const binDir = join(work, "bin");
const project = join(work, "project");
const processes = [];
let server; // { url, token }
let upstream; // { url, hits }

/** Starts a process and resolves once it printed `count` listening lines. */
function startListening(command, args, options, count = 1) {
  // Its own process group, so that stopping it also stops what a shell block started.
  const child = spawn(command, args, {
    ...options,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  processes.push(child);
  const urls = [];
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const stdout = [];
  return new Promise((resolve, reject) => {
    child.on("exit", (code) =>
      reject(new Error(`${command} exited with ${code} before listening:\n${stderr}`)),
    );
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      stdout.push(line);
      const match = /^runkv-server listening on (\S+)$/.exec(line);
      if (match) urls.push(match[1]);
      if (urls.length === count) resolve({ child, urls, stdout });
    });
  });
}

function stop(child) {
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, "SIGTERM"); // the whole group: a shell and the servers it started
    } catch {
      child.kill("SIGTERM");
    }
  }
}

async function freePort() {
  const probe = createNetServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function request(url, token, method = "GET", body = undefined) {
  const response = await fetch(url, {
    method,
    body,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  return { status: response.status, body: await response.json() };
}

/** Runs a JavaScript block as a module of the project the README's install made. */
async function runModule(name, code) {
  const file = join(project, `${name}.mjs`);
  writeFileSync(file, code);
  const { stdout } = await run(process.execPath, ["--import", "./fake-upstream.mjs", file], {
    cwd: project,
    env: {
      ...process.env,
      RUNKV_URL: server.url,
      RUNKV_TOKEN: server.token,
      README_TEST_UPSTREAM: upstream.url,
    },
  });
  return stdout;
}

/** A shell for the README's shell blocks: runkv-server and an openssl that records tokens. */
function shellEnv(extra = {}) {
  const env = { ...process.env, PATH: `${binDir}:${process.env.PATH}`, ...extra };
  for (const name of Object.keys(env)) {
    if (name.startsWith("RUNKV_") && !(name in extra)) delete env[name];
  }
  return env;
}

function recordedTokens() {
  try {
    return readFileSync(join(work, "openssl.log"), "utf8").trim().split("\n");
  } catch {
    return [];
  }
}

before(async () => {
  // runkv-server on PATH, and an openssl that also writes what it prints to a log, so the
  // test learns the tokens the blocks generate while the blocks run unchanged.
  rmSync(binDir, { recursive: true, force: true });
  await run("mkdir", ["-p", binDir, project]);
  symlinkSync(serverBin, join(binDir, "runkv-server"));
  const openssl = (await run("sh", ["-c", "command -v openssl"])).stdout.trim();
  writeFileSync(
    join(binDir, "openssl"),
    `#!/bin/sh\n"${openssl}" "$@" | tee -a "${join(work, "openssl.log")}"\n`,
  );
  chmodSync(join(binDir, "openssl"), 0o755);

  const token = randomBytes(16).toString("hex");
  const started = await startListening(
    serverBin,
    ["--listen", "127.0.0.1:0", "--data-dir", join(work, "data")],
    { env: shellEnv({ RUNKV_TOKEN: token, RUST_LOG: "warn" }) },
  );
  server = { url: started.urls[0], token };

  const hits = new Map();
  const fake = createServer((req, res) => {
    const url = new URL(req.url, "http://upstream");
    hits.set(url.pathname + url.search, (hits.get(url.pathname + url.search) ?? 0) + 1);
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ city: url.searchParams.get("city"), sky: "clear", high: 24 }));
  });
  await new Promise((resolve) => fake.listen(0, "127.0.0.1", resolve));
  upstream = { url: `http://127.0.0.1:${fake.address().port}`, hits, server: fake };

  // Requests to the example API host go to the fake upstream; everything else is untouched.
  writeFileSync(
    join(project, "fake-upstream.mjs"),
    `const realFetch = globalThis.fetch;
const host = "https://api.example.com";
globalThis.fetch = (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (url.startsWith(host + "/")) {
    return realFetch(process.env.README_TEST_UPSTREAM + url.slice(host.length), init);
  }
  return realFetch(input, init);
};
`,
  );
});

after(async () => {
  for (const child of processes) stop(child);
  upstream?.server.close();
  await new Promise((resolve) => setTimeout(resolve, 200));
  rmSync(work, { recursive: true, force: true });
});

test("every code block in the README is exercised by this test", () => {
  const known = new Set([
    "ci",
    "install",
    "cache-api",
    "cache-computation",
    "counter",
    "worker",
    "typescript",
    "server-token",
    "tokens-file",
    "server-tokens-file",
    "postgres-three",
    "curl",
  ]);
  for (const { marker, code } of blocks) {
    assert.ok(known.has(marker), `README block without a known readme-test marker:\n${code}`);
  }
  const markers = blocks.map((b) => b.marker);
  for (const name of known) {
    if (name !== "ci") assert.ok(markers.includes(name), `README lost the block ${name}`);
  }
});

test("every relative link and script the README names exists", () => {
  const text = readFileSync(join(root, "README.md"), "utf8");
  const links = [...text.matchAll(/\]\(([^)#]+)(?:#[^)]*)?\)/g)].map((m) => m[1]);
  const scripts = [...text.matchAll(/`((?:node )?((?:bench|scripts|tests|examples)\/[\w./-]+))/g)]
    .map((m) => m[2]);
  for (const path of [...links.filter((link) => !/^[a-z]+:/.test(link)), ...scripts]) {
    assert.ok(existsSync(join(root, path)), `README names ${path}, which does not exist`);
  }
});

test("the two commands are Makefile targets and CI runs the test command", () => {
  const makefile = readFileSync(join(root, "Makefile"), "utf8");
  const commands = blocks.filter((b) => b.marker === "ci").map((b) => b.code.trim());
  assert.deepEqual(commands, ["make demo", "make test"]);
  for (const target of ["demo", "test"]) {
    assert.match(makefile, new RegExp(`^${target}:`, "m"), `Makefile has no ${target} target`);
  }
  assert.match(readFileSync(join(root, ".ci", "run"), "utf8"), /^make test\b/m);
});

test("the commands are idempotent: after setup, nothing is left to install", async () => {
  // make test ran scripts/setup.sh --test before this test; a second run must find
  // everything in place. --check reports what it would install and installs nothing.
  const { stdout } = await run(join(root, "scripts", "setup.sh"), ["--test", "--check"]).catch(
    (error) => assert.fail(`setup would install something:\n${error.stdout}${error.stderr}`),
  );
  assert.doesNotMatch(stdout, /would install/);
});

test("the package installs from pkg/ as the README says", async () => {
  const command = block("install").trim().replace("/path/to/runkv", root);
  await run("sh", ["-c", `${command} --no-audit --no-fund`], { cwd: project });
  const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
  assert.ok(manifest.dependencies?.runkv, "runkv is not a dependency after the install");
});

test("caching an external API's response asks the API once", async () => {
  const stdout = await runModule("cache-api", block("cache-api"));
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 2, stdout);
  assert.equal(lines[0], lines[1], "the cached answer differs from the API's");
  assert.match(lines[0], /Lyon/);
  assert.equal(upstream.hits.get("/forecast?city=Lyon"), 1, "API requests");
});

test("caching an expensive computation computes once", async () => {
  const stdout = await runModule("cache-computation", block("cache-computation"));
  assert.match(stdout, /computed 1 time\(s\)/);
  assert.match(stdout, /total: 50/);
});

test("the conditional counter loses no increment", async () => {
  const stdout = await runModule("counter", block("counter"));
  assert.equal(stdout.trim(), "10");
});

test("a Workers-style handler reads its settings from env", async () => {
  const file = join(project, "worker.mjs");
  writeFileSync(file, block("worker"));
  const { default: worker } = await import(pathToFileURL(file).href);
  const env = { RUNKV_URL: server.url, RUNKV_TOKEN: server.token };
  const first = await worker.fetch(new Request("http://edge/"), env);
  const second = await worker.fetch(new Request("http://edge/"), env);
  assert.equal(await first.text(), "hit 1\n");
  assert.equal(await second.text(), "hit 2\n");
});

test("the TypeScript example type-checks strictly and loads a session", async () => {
  const source = join(project, "session.mts");
  writeFileSync(source, block("typescript"));
  const bin = (name) => join(root, "node_modules", ".bin", name);
  await run(
    bin("tsc"),
    ["--noEmit", "--strict", "--module", "nodenext", "--target", "es2022", "session.mts"],
    { cwd: project },
  ).catch((error) => assert.fail(`tsc:\n${error.stdout}${error.stderr}`));

  // Run it too: types stripped by esbuild, against the real server.
  await run(bin("esbuild"), [source, "--log-level=warning", `--outfile=${project}/session.mjs`]);
  const { loadSession } = await import(pathToFileURL(join(project, "session.mjs")).href);
  const stored = { user: "ada", expires: 1_900_000_000 };
  const body = JSON.stringify(stored);
  await request(`${server.url}/set/sessions/session%2Fabc`, server.token, "PUT", body);
  process.env.RUNKV_URL = server.url;
  process.env.RUNKV_TOKEN = server.token;
  try {
    assert.deepEqual(await loadSession("abc"), stored);
    assert.equal(await loadSession("nobody"), null);
  } finally {
    delete process.env.RUNKV_URL;
    delete process.env.RUNKV_TOKEN;
  }
});

test("the wire protocol's curl commands set, get and delete", async () => {
  const { stdout } = await run("bash", ["-euo", "pipefail", "-c", block("curl")], {
    env: { ...process.env, RUNKV_URL: server.url, RUNKV_TOKEN: server.token },
  });
  const answers = stdout.replace(/}\s*{/g, "}\n{").split("\n").map((line) => JSON.parse(line));
  assert.equal(answers.length, 3, stdout);
  assert.match(answers[0].version, /^\d+$/);
  assert.deepEqual(answers[1], { value: "hello", version: answers[0].version });
  assert.deepEqual(answers[2], { deleted: true });
});

test("the server starts with a generated RUNKV_TOKEN and refuses other tokens", async () => {
  const dir = mkdtempSync(join(work, "token-"));
  const before = recordedTokens().length;
  const { child, urls, stdout } = await startListening("bash", ["-c", block("server-token")], {
    cwd: dir,
    env: shellEnv({ RUNKV_LISTEN: "127.0.0.1:0" }),
  });
  try {
    const token = recordedTokens()[before];
    assert.match(token ?? "", /^[0-9a-f]{64}$/);
    assert.ok(!stdout.some((line) => line.startsWith("token:")), "it generated its own token");
    const url = `${urls[0]}/set/demo/readme`;
    assert.equal((await request(url, token, "PUT", "x")).status, 200);
    assert.equal((await request(url, "wrong", "PUT", "x")).status, 401);
  } finally {
    stop(child);
  }
});

test("the tokens file grants what the README says", async () => {
  const dir = mkdtempSync(join(work, "tokens-"));
  writeFileSync(join(dir, "tokens.toml"), block("tokens-file"));
  const { child, urls } = await startListening("bash", ["-c", block("server-tokens-file")], {
    cwd: dir,
    env: shellEnv({ RUNKV_LISTEN: "127.0.0.1:0" }),
  });
  const at = (ns, key) => `${urls[0]}/${ns}/${key}`;
  try {
    for (const ns of ["demo", "cache-pages"]) {
      const set = await request(at(`set/${ns}`, "k"), "secret-1", "PUT", "v");
      assert.equal(set.status, 200, `secret-1 writes ${ns}`);
    }
    const elsewhere = await request(at("set/other", "k"), "secret-1", "PUT", "v");
    assert.equal(elsewhere.status, 403, "secret-1 writes other");
    assert.equal(elsewhere.body.code, "forbidden");

    const read = await request(at("get/demo", "k"), "secret-2");
    assert.deepEqual([read.status, read.body.value], [200, "v"], "secret-2 reads demo");
    const write = await request(at("set/demo", "k"), "secret-2", "PUT", "w");
    assert.equal(write.status, 403, "secret-2 writes demo");
    assert.equal((await request(at("get/demo", "k"), "nobody")).status, 401);
  } finally {
    stop(child);
  }
});

test("three servers on one PostgreSQL database share values", async () => {
  // The block as written, on free ports and in a schema of its own so that runs never meet.
  const schema = `readme_${process.pid}_${randomBytes(4).toString("hex")}`;
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  let script = block("postgres-three").replace(postgresUrl, `${postgresUrl}?schema=${schema}`);
  assert.ok(script.includes(schema), `the block does not use ${postgresUrl}`);
  ["7071", "7072", "7073"].forEach((port, i) => {
    script = script.replace(`127.0.0.1:${port}`, `127.0.0.1:${ports[i]}`);
  });

  const before = recordedTokens().length;
  const { child, urls } = await startListening(
    "bash",
    ["-c", `${script}\nwait`],
    { env: shellEnv({ RUST_LOG: "warn" }) },
    3,
  );
  try {
    const token = recordedTokens()[before];
    const [first, second, third] = urls.sort();
    const written = await request(`${first}/set/demo/shared`, token, "PUT", "from one");
    assert.equal(written.status, 200, JSON.stringify(written.body));
    for (const other of [second, third]) {
      const read = await request(`${other}/get/demo/shared`, token);
      assert.deepEqual(read.body, { value: "from one", version: written.body.version });
    }
  } finally {
    stop(child);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await run("psql", [postgresUrl, "-qc", `DROP SCHEMA IF EXISTS ${schema} CASCADE`]);
  }
});
