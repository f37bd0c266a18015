#!/usr/bin/env node
// A runner outside the browser. Start several in terminals against one server:
//
//   RUNKV_URL=http://127.0.0.1:7070 RUNKV_TOKEN=... node examples/runner.mjs --name alice
//
// Each one writes a heartbeat under `runner/<name>` in the `demo` namespace, keeps its name in
// a shared roster (the key `runners`, updated with conditional writes so that runners joining
// at the same moment do not erase each other), and prints what changed since its last look:
// the other runners' heartbeats and the keys it watches (by default `greeting`, the key the
// demo page's panels write). The demo page lists these runners under "Runners outside the
// browser".
import { parseArgs } from "node:util";
import { KVStore } from "runkv";

const usage = `usage: node examples/runner.mjs [options]

  --name NAME        this runner's name (default: node-<pid>)
  --url URL          server URL (default: $RUNKV_URL)
  --token TOKEN      token (default: $RUNKV_TOKEN)
  --namespace NS     namespace shared with the demo page (default: demo)
  --interval SECS    seconds between heartbeats (default: 2)
  --watch KEY        a key to print when it changes; repeatable (default: greeting)
  --rounds N         stop after N heartbeats (default: run until Ctrl-C)`;

let flags;
try {
  ({ values: flags } = parseArgs({
    options: {
      name: { type: "string", default: `node-${process.pid}` },
      url: { type: "string" },
      token: { type: "string" },
      namespace: { type: "string", default: "demo" },
      interval: { type: "string", default: "2" },
      watch: { type: "string", multiple: true, default: ["greeting"] },
      rounds: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }));
} catch (error) {
  console.error(`${error.message}\n\n${usage}`);
  process.exit(2);
}
if (flags.help) {
  console.log(usage);
  process.exit(0);
}

const name = flags.name;
const intervalMs = Number(flags.interval) * 1000;
const rounds = flags.rounds === undefined ? Infinity : Number(flags.rounds);
if (!(intervalMs > 0) || !(rounds > 0)) {
  console.error(usage);
  process.exit(2);
}
// A heartbeat outlives a few missed rounds, then expires: a runner that was killed without
// leaving the roster shows up as gone instead of lingering with a stale value.
const heartbeatTtl = Math.max(10, Math.ceil((intervalMs * 5) / 1000));

// Without --url or --token, KVStore reads RUNKV_URL and RUNKV_TOKEN from the environment.
const options = {};
if (flags.url) options.url = flags.url;
if (flags.token) options.token = flags.token;
const kv = new KVStore(flags.namespace, options);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const seen = new Map(); // key -> last version printed

function say(text) {
  const time = new Date().toTimeString().slice(0, 8);
  console.log(`${time} [${name}] ${text}`);
}

function explain(error) {
  return error && error.code ? `${error.code}: ${error.message}` : String(error);
}

/**
 * Applies `change` to the roster with a compare-and-set loop: read it with its version, write
 * it back only if nobody wrote in between, and start over if somebody did.
 */
async function updateRoster(change) {
  for (;;) {
    const entry = await kv.getEntry("runners");
    const roster = entry ? JSON.parse(entry.value) : {};
    change(roster);
    const condition = entry ? { ifVersion: entry.version } : { ifAbsent: true };
    try {
      await kv.setJson("runners", roster, condition);
      return;
    } catch (error) {
      if (error.code !== "version_conflict") throw error;
    }
  }
}

async function heartbeat(count) {
  const value = { from: name, count, at: new Date().toISOString() };
  const started = performance.now();
  await kv.setJson(`runner/${name}`, value, { ttl: heartbeatTtl });
  const ms = (performance.now() - started).toFixed(1);
  say(`wrote runner/${name} = ${JSON.stringify(value)} (${ms} ms)`);
}

/** Prints every watched key and every other runner's heartbeat whose version changed. */
async function look() {
  const roster = (await kv.getJson("runners")) ?? {};
  const keys = [
    ...flags.watch,
    ...Object.keys(roster)
      .filter((other) => other !== name)
      .map((other) => `runner/${other}`),
  ];
  const entries = await Promise.all(keys.map((key) => kv.getEntry(key)));
  keys.forEach((key, i) => {
    const entry = entries[i];
    const version = entry ? entry.version : null;
    if (seen.has(key) && seen.get(key) === version) return;
    seen.set(key, version);
    if (entry) say(`read ${key} = ${entry.value} (version ${entry.version})`);
    else say(`read ${key}: not found`);
  });
}

async function leave() {
  await updateRoster((roster) => delete roster[name]);
  await kv.delete(`runner/${name}`);
  say("left the roster");
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    stopping = true;
  });
}

/** The names in the roster whose heartbeat expired: runners that stopped without leaving. */
async function goneRunners() {
  const roster = (await kv.getJson("runners")) ?? {};
  const others = Object.keys(roster).filter((other) => other !== name);
  const beats = await Promise.all(others.map((other) => kv.getEntry(`runner/${other}`)));
  return others.filter((_, i) => beats[i] === null);
}

try {
  await heartbeat(0);
  const gone = await goneRunners();
  await updateRoster((roster) => {
    for (const other of gone) delete roster[other];
    roster[name] = { joined: new Date().toISOString() };
  });
  if (gone.length) say(`removed runners that stopped without leaving: ${gone.join(", ")}`);
} catch (error) {
  say(`could not join: ${explain(error)}`);
  process.exit(1);
}
say(`joined the roster in namespace "${flags.namespace}"`);

// A failed round is reported and the next one tried: stopping the server, or revoking the
// token, shows up here as an error line per round until it is fixed.
for (let count = 1; count <= rounds && !stopping; count++) {
  try {
    await look();
    await sleep(intervalMs);
    if (stopping) break;
    await heartbeat(count);
  } catch (error) {
    say(`error: ${explain(error)}`);
    await sleep(intervalMs);
  }
}

try {
  await look();
  await leave();
} catch (error) {
  say(`error while leaving: ${explain(error)}`);
  process.exitCode = 1;
}
