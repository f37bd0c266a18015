// Runs the JavaScript snippets of the package's README (pkg/README.md) against the stub
// server, so that what the npm page tells a user works as written. Requests to the example
// API host (https://api.example.com) are answered by a stand-in that counts them.
// Run: node --test tests/pkg/readme.mjs   (needs the built pkg/)
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startStub } from "./stub-server.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// Inside the checkout, so that `import "runkv"` resolves to the workspace's link to pkg/.
const work = join(root, "tests", "artifacts", "pkg-readme");
mkdirSync(work, { recursive: true });

const text = readFileSync(join(root, "pkg", "README.md"), "utf8");
const snippets = [...text.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1].replace(/^  /gm, ""));

// Loaded before each snippet: the example API, answering with how often it was asked.
const preload = join(work, "example-api.mjs");
writeFileSync(
  preload,
  `const realFetch = globalThis.fetch;
let calls = 0;
globalThis.fetch = (input, init) => {
  if (String(input).startsWith("https://api.example.com/")) {
    calls += 1;
    return Promise.resolve(Response.json({ forecast: "sunny", apiCalls: calls }));
  }
  return realFetch(input, init);
};
`,
);

let stub;
before(async () => {
  stub = await startStub();
});
after(() => stub.close());

async function runSnippet(name, code) {
  const file = join(work, `${name}.mjs`);
  writeFileSync(file, code);
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", preload, file], {
    env: { ...process.env, RUNKV_URL: stub.url, RUNKV_TOKEN: stub.token },
  });
  return stdout.trim().split("\n");
}

const find = (needle) => {
  const found = snippets.find((s) => s.includes(needle));
  assert.ok(found, `README has no snippet with ${needle}`);
  return found;
};

test("every snippet is checked below", () => {
  assert.equal(snippets.length, 5);
});

test("quick start", async () => {
  const lines = await runSnippet("use", find('new KVStore("my-app")'));
  assert.deepEqual(lines, ["hello", "null"]);
});

test("caching an external API's response", async () => {
  const lines = await runSnippet("forecast", find("async function forecast"));
  assert.equal(lines.length, 2);
  assert.equal(lines[0], lines[1], "the second answer is the cached first one");
  assert.match(lines[0], /apiCalls: 1/);
});

test("caching an expensive computation", async () => {
  const lines = await runSnippet("report", find("async function report"));
  assert.deepEqual(lines, ["{ seed: 3, total: 15000001 }", "{ seed: 3, total: 15000001 }"]);
  const stored = stub.requests.filter((r) => r.url.startsWith("/set/reports/"));
  assert.equal(stored.length, 1, "computed once, read back the second time");
});

test("conditional writes", async () => {
  const lines = await runSnippet("counter", find("async function increment"));
  assert.deepEqual(lines, ["3"]);
});

test("a Cloudflare Worker", async () => {
  writeFileSync(join(work, "worker-module.mjs"), find("export default"));
  // The Worker gets its settings from its env, not from the process environment.
  const driver = `import worker from "./worker-module.mjs";
const env = { RUNKV_URL: process.env.RUNKV_URL, RUNKV_TOKEN: process.env.RUNKV_TOKEN };
delete process.env.RUNKV_URL;
delete process.env.RUNKV_TOKEN;
for (let i = 0; i < 2; i++) {
  console.log(await (await worker.fetch(new Request("http://worker/"), env)).text());
}
`;
  const lines = await runSnippet("worker", driver);
  assert.deepEqual(lines, ["hit number 1", "hit number 2"]);
});
