// End-to-end test of the demo page in headless Chromium.
//
// Starts a real runkv-server on a free loopback port the way `make demo` does (embedded
// store, the demo at `/`, no token configured so the server generates one and prints the
// URL to open), opens that URL, and drives the page: cross-runner reads, the failure drills,
// the conflict and TTL demos, and a Node runner from examples/ sharing values with the page.
// Saves screenshots to tests/artifacts/ (demo.png, demo-end.png, demo-no-token.png).
//
// Usage: node tests/e2e/demo.test.mjs   (after `cargo build -p runkv-server` and
// scripts/build-pkg.sh; `make test` does both)
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../lib/chromium.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const serverBin = process.env.RUNKV_SERVER_BIN ?? join(root, "target", "debug", "runkv-server");
const artifacts = join(root, "tests", "artifacts");
// Waits for the page are generous: the first wasm compile in a cold browser on a loaded
// two-core machine can take seconds. They bound a hang; they do not measure anything.
const WAIT_MS = 30_000;

const work = mkdtempSync(join(tmpdir(), "runkv-e2e-"));
const children = [];
let browser;

/** Starts runkv-server and resolves with the `open:` URL and the token it printed. */
async function startServer() {
  const env = { ...process.env, RUST_LOG: "warn" };
  for (const name of Object.keys(env)) if (name.startsWith("RUNKV_")) delete env[name];
  const child = spawn(
    serverBin,
    ["--listen", "127.0.0.1:0", "--data-dir", join(work, "data"), "--www", join(root, "www")],
    { env, stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(child);

  const printed = {};
  const lines = readline.createInterface({ input: child.stdout });
  await new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`runkv-server exited with ${code}`)));
    lines.on("line", (line) => {
      const [label, ...rest] = line.split(" ");
      if (label === "token:") printed.token = rest.join(" ");
      if (label === "open:") printed.open = rest.join(" ");
      if (line.startsWith("runkv-server listening on ")) {
        printed.base = line.slice("runkv-server listening on ".length);
        resolve();
      }
    });
  });
  if (!printed.token || !printed.open) {
    throw new Error("runkv-server did not print the token and the URL to open");
  }
  return printed;
}

/** Runs examples/runner.mjs; resolves with everything it printed once it exits. */
function runNodeRunner(base, token, args) {
  const child = spawn(process.execPath, [join(root, "examples", "runner.mjs"), ...args], {
    env: { ...process.env, RUNKV_URL: base, RUNKV_TOKEN: token },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const done = new Promise((resolve) => child.on("exit", (code) => resolve({ code, output })));
  return { child, done, output: () => output };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const runner = (page, n) => page.getByTestId(`runner-${n}`);
const inRunner = (page, n, id) => runner(page, n).getByTestId(id);

async function waitReady(page, n) {
  await runner(page, n)
    .locator('[data-testid="status"][data-kind="good"]')
    .waitFor({ timeout: WAIT_MS });
}

/** Clicks an action in runner n and waits until its log shows the operation's outcome. */
async function act(page, n, action) {
  const log = inRunner(page, n, "log").locator("li");
  const before = await log.count();
  const previous = before ? await log.first().textContent() : null;
  await inRunner(page, n, action).click();
  await page.waitForFunction(
    ([selector, count, text]) => {
      const items = document.querySelectorAll(selector);
      return items.length > count || (items.length && items[0].textContent !== text);
    },
    [`[data-testid="runner-${n}"] [data-testid="log"] li`, before, previous],
    { timeout: WAIT_MS },
  );
}

async function errorCode(page, n) {
  const box = inRunner(page, n, "error");
  if (await box.isHidden()) return null;
  return (await inRunner(page, n, "error-code").textContent()).trim();
}

async function readShown(page, n) {
  return {
    value: await inRunner(page, n, "read-value").textContent(),
    version: await inRunner(page, n, "read-version").getAttribute("data-version"),
  };
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function assertEqual(actual, expected, what) {
  if (actual !== expected) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

const tests = [];
const test = (name, body) => tests.push({ name, body });

let server;
let page;

test("the printed URL opens the demo with three ready runners", async () => {
  await page.goto(server.open);
  for (const n of [1, 2, 3]) await waitReady(page, n);
  assert(await page.getByTestId("token-missing").isHidden(), "the page asks for a token");
  assertEqual(await page.getByTestId("server-url").textContent(), server.base, "server shown");
});

test("without a token the page asks for one and the runners say why they fail", async () => {
  const bare = await browser.newPage();
  try {
    await bare.goto(server.base + "/");
    await bare.getByTestId("token-missing").waitFor({ timeout: WAIT_MS });
    await waitReady(bare, 1);
    await act(bare, 1, "read");
    assertEqual(await errorCode(bare, 1), "config_missing", "error code");
    mkdirSync(artifacts, { recursive: true });
    await bare.screenshot({ path: join(artifacts, "demo-no-token.png") });
  } finally {
    await bare.close();
  }
});

test("a token from an earlier start is reported as rejected, not as ready", async () => {
  const stale = await browser.newPage();
  try {
    await stale.goto(server.base + "/#token=token-from-an-earlier-start");
    const notice = stale.getByTestId("token-missing");
    await notice.getByText("Token rejected").waitFor({ timeout: WAIT_MS });
  } finally {
    await stale.close();
  }
});

test("a value written in runner 1 is read by runners 2 and 3 with the same version", async () => {
  const key = `e2e/${randomBytes(4).toString("hex")}`;
  const value = `hello from runner 1 at ${new Date().toISOString()}`;
  for (const n of [1, 2, 3]) await inRunner(page, n, "key").fill(key);
  await inRunner(page, 1, "value").fill(value);

  await act(page, 1, "write");
  assertEqual(await errorCode(page, 1), null, "error after the write");
  await act(page, 1, "read");
  const written = await readShown(page, 1);
  assertEqual(written.value, value, "runner 1 reads its own write");
  assert(/^\d+$/.test(written.version ?? ""), `runner 1 shows no version: ${written.version}`);

  for (const n of [2, 3]) {
    await act(page, n, "read");
    assertEqual(await errorCode(page, n), null, `error in runner ${n}`);
    const shown = await readShown(page, n);
    assertEqual(shown.value, value, `value read by runner ${n}`);
    assertEqual(shown.version, written.version, `version read by runner ${n}`);
  }
});

test("a JSON value is written with setJson and shown parsed", async () => {
  const key = `e2e/json-${randomBytes(4).toString("hex")}`;
  await inRunner(page, 2, "key").fill(key);
  await inRunner(page, 2, "mode-json").check();
  await inRunner(page, 2, "value").fill('{"city":"Lyon","temperature":21.5}');
  await act(page, 2, "write");
  assertEqual(await errorCode(page, 2), null, "error after the JSON write");

  await inRunner(page, 3, "key").fill(key);
  await act(page, 3, "read");
  const shown = await readShown(page, 3);
  assertEqual(JSON.parse(shown.value).city, "Lyon", "JSON read by runner 3");
});

test("invalid JSON is refused in the panel before anything is sent", async () => {
  await inRunner(page, 2, "value").fill("{not json");
  await inRunner(page, 2, "write").click();
  assertEqual(await errorCode(page, 2), "invalid_json", "error code");
  await inRunner(page, 2, "mode-text").check();
  await inRunner(page, 2, "value").fill("hello from Runner 2");
});

test("a wrong token shows unauthorized in that runner only", async () => {
  await runner(page, 2).locator("summary").click();
  await inRunner(page, 2, "wrong-token").check();
  await act(page, 2, "read");
  assertEqual(await errorCode(page, 2), "unauthorized", "error code in runner 2");
  const message = await inRunner(page, 2, "error-message").textContent();
  assert(message.includes("401"), `the message does not name the status: ${message}`);

  await act(page, 3, "read");
  assertEqual(await errorCode(page, 3), null, "error in runner 3");

  await inRunner(page, 2, "wrong-token").uncheck();
  await act(page, 2, "read");
  assertEqual(await errorCode(page, 2), null, "error in runner 2 after the drill");
});

test("a 3 MB value shows value_too_large", async () => {
  await runner(page, 3).locator("summary").click();
  await act(page, 3, "write-large");
  assertEqual(await errorCode(page, 3), "value_too_large", "error code in runner 3");
});

test("a stopped server shows a network error", async () => {
  await inRunner(page, 3, "server-down").check();
  await act(page, 3, "read");
  assertEqual(await errorCode(page, 3), "network", "error code in runner 3");
  await inRunner(page, 3, "server-down").uncheck();
});

test("a conditional write loses to a newer version with version_conflict", async () => {
  await page.getByTestId("conflict-demo").click();
  await page.getByTestId("story").filter({ hasText: "lost with" }).waitFor({ timeout: WAIT_MS });
  assertEqual(await errorCode(page, 1), "version_conflict", "error code in runner 1");
});

test("a value with a 4 s TTL is read, then expires", async () => {
  await page.getByTestId("ttl-demo").click();
  const story = page.getByTestId("story");
  await story.filter({ hasText: "Reading again" }).waitFor({ timeout: WAIT_MS });
  for (const n of [1, 2, 3]) {
    assertEqual(await inRunner(page, n, "read-key").textContent(), "ttl-demo", "key read");
    const version = await inRunner(page, n, "read-version").getAttribute("data-version");
    assert(/^\d+$/.test(version), `runner ${n} did not read the value before it expired`);
  }
  await story.filter({ hasText: "expired" }).waitFor({ timeout: WAIT_MS });
  for (const n of [1, 2, 3]) {
    assertEqual(await inRunner(page, n, "read-value").textContent(), "not found", `runner ${n}`);
  }
});

test("runners can be added and removed", async () => {
  await page.getByTestId("add-runner").click();
  await waitReady(page, 4);
  await inRunner(page, 4, "remove").click();
  assertEqual(await runner(page, 4).count(), 0, "runner 4 panels");
});

test("a Node runner and the page see each other's writes", async () => {
  const greeting = `hello node, from the page ${randomBytes(3).toString("hex")}`;
  const node = runNodeRunner(server.base, server.token, ["--name", "e2e-node", "--interval", "1"]);

  // The page lists the Node runner once it joined the roster.
  const board = page.getByTestId("board");
  await board.getByText("e2e-node", { exact: true }).waitFor({ timeout: WAIT_MS });

  // The page writes the key the Node runner watches, and the runner prints it.
  for (const n of [1, 2, 3]) await inRunner(page, n, "key").fill("greeting");
  await inRunner(page, 1, "value").fill(greeting);
  await act(page, 1, "write");
  const deadline = Date.now() + WAIT_MS;
  while (!node.output().includes(greeting) && Date.now() < deadline) await sleep(100);
  assert(
    node.output().includes(greeting),
    `the runner never printed the page's value:\n${node.output()}`,
  );

  await page.getByTestId("read-all").click();
  await inRunner(page, 3, "read-value").filter({ hasText: greeting }).waitFor({ timeout: WAIT_MS });
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, "demo.png"), fullPage: true });

  // Stopped with a signal, the runner leaves the roster and exits cleanly.
  node.child.kill("SIGINT");
  const { code, output } = await node.done;
  assertEqual(code, 0, `runner exit code (output:\n${output})`);
  assert(output.includes("left the roster"), `the runner did not leave the roster:\n${output}`);
});

async function main() {
  if (!existsSync(serverBin)) throw new Error(`${serverBin} is missing: build it first`);
  // The page loads the package from www/vendor/: copy the current build there, so that the
  // test never runs the page against an older build than pkg/dist.
  execFileSync(process.execPath, [join(root, "scripts", "vendor-pkg.mjs")], { stdio: "inherit" });
  server = await startServer();
  browser = await chromium.launchPersistentContext(join(work, "profile"), {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1360, height: 1000 },
    args: CHROMIUM_ARGS,
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));

  let passed = 0;
  let failed = 0;
  for (const { name, body } of tests) {
    try {
      await body();
      assertEqual(pageErrors.length, 0, `uncaught errors in the page: ${pageErrors.join("; ")}`);
      passed++;
      console.log(`ok - ${name}`);
    } catch (error) {
      failed++;
      pageErrors.length = 0;
      console.log(`not ok - ${name}\n  ${String(error.stack ?? error).split("\n").join("\n  ")}`);
    }
  }

  // The page as the tests left it; demo.png is the one taken mid-run, with a Node runner.
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, "demo-end.png"), fullPage: true });
  console.log(`screenshots: ${join(artifacts, "demo.png")}, demo-end.png, demo-no-token.png`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0;
}

let ok = false;
try {
  ok = await main();
} catch (error) {
  console.log(`e2e: ${error.stack ?? error}`);
  console.log(`0 passed, ${tests.length} failed`);
} finally {
  await browser?.close().catch(() => {});
  // The server must have stopped before its data directory goes.
  await Promise.all(
    children
      .filter((child) => child.exitCode === null && child.signalCode === null)
      .map((child) => new Promise((resolve) => child.once("exit", resolve).kill("SIGTERM"))),
  );
  rmSync(work, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
