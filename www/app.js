// The demo page. Every runner is a dedicated Web Worker (runner-worker.js) with its own
// KVStore and its own WebAssembly instance; this module only draws panels and sends each
// worker the operations a user asks for. Nothing here talks to the store directly.

const NAMESPACE = "demo";
const FIRST_RUNNERS = 3;
const BOARD_INTERVAL_MS = 2000;
const LOG_LENGTH = 8;
const WRONG_TOKEN = "not-a-valid-token";
// Long enough that every runner reads the value before it expires, short enough to watch.
const TTL_DEMO_SECS = 4;
// Nothing listens on port 2 and only root could bind it, so a connection there is refused at
// once, exactly as for a stopped server. (Browsers block some low ports outright, which would
// be a different failure; 2 is not one of them.)
const STOPPED_SERVER_URL = "http://127.0.0.1:2";

const settings = readSettings();
const runners = [];
let nextNumber = 1;

/**
 * The API is the server that served this page; the token comes from the fragment
 * (`#token=...`), which browsers never send to any server, or from the form. The page takes no
 * server address from its URL, so that a crafted link cannot send the token elsewhere.
 */
function readSettings() {
  const params = new URLSearchParams(location.hash.slice(1));
  return {
    url: location.origin,
    token: params.get("token") || sessionStorage.getItem("runkv-demo-token") || "",
  };
}

const $ = (selector, root = document) => root.querySelector(selector);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function formatMs(ms) {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** Shows JSON values indented and anything else as it is. */
function formatValue(value) {
  const trimmed = value.trimStart();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return value;
}

function shorten(text, max = 80) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/** One runner: its worker, its panel and the state a user sees in it. */
class Runner {
  constructor(number) {
    this.number = number;
    this.name = `Runner ${number}`;
    this.pending = new Map();
    this.nextCall = 1;
    this.lastRead = null;
    this.inFlight = 0; // operations awaiting the worker; the panel shows "busy" while any do
    this.drills = { "wrong-token": false, "server-down": false };

    this.panel = this.#buildPanel();
    this.worker = new Worker(new URL("./runner-worker.js", import.meta.url), {
      type: "module",
      name: `runner-${number}`,
    });
    this.worker.onmessage = (event) => this.#receive(event.data);
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.#setStatus(`worker failed: ${event.message || "could not load"}`, "bad");
    };
    this.ready = this.call("configure", this.#connection()).then((reply) => {
      if (reply.ok) {
        this.#setStatus(`ready · wasm instance in ${formatMs(reply.result.loadMs)}`, "good");
      } else {
        this.#setStatus(`could not start: ${reply.error.code}`, "bad");
        this.showError(reply.error);
      }
      return reply;
    });
  }

  /** Sends one operation to the worker; resolves with `{ ok, result, error, ms }`. */
  call(op, args = {}) {
    const id = this.nextCall++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage({ id, op, args });
    });
  }

  remove() {
    this.worker.terminate();
    for (const resolve of this.pending.values()) {
      resolve({ ok: false, error: { code: "removed", message: "runner removed" }, ms: 0 });
    }
    this.pending.clear();
    this.panel.remove();
  }

  /** The settings this runner's KVStore is built with, drills applied. */
  #connection() {
    return {
      namespace: NAMESPACE,
      url: this.drills["server-down"] ? STOPPED_SERVER_URL : settings.url,
      // Without a token the store is given none, so its calls fail with config_missing,
      // the package's own explanation, rather than with an empty token.
      token: this.drills["wrong-token"] ? WRONG_TOKEN : settings.token || undefined,
    };
  }

  reconfigure() {
    return this.call("configure", this.#connection());
  }

  #receive(message) {
    const resolve = this.pending.get(message.id);
    if (resolve) {
      this.pending.delete(message.id);
      resolve(message);
    }
  }

  #buildPanel() {
    const panel = $("#runner-template").content.firstElementChild.cloneNode(true);
    panel.id = `runner-${this.number}`;
    panel.dataset.testid = `runner-${this.number}`;
    $(".runner-name", panel).textContent = this.name;
    $(".value", panel).value = `hello from ${this.name}`;
    for (const radio of panel.querySelectorAll(".mode input")) {
      radio.name = `mode-${this.number}`;
    }

    $(".remove", panel).addEventListener("click", () => removeRunner(this));
    for (const button of panel.querySelectorAll("[data-action]")) {
      button.addEventListener("click", () => this.#onAction(button.dataset.action));
    }
    for (const box of panel.querySelectorAll("[data-drill]")) {
      box.addEventListener("change", () => {
        this.drills[box.dataset.drill] = box.checked;
        panel.classList.toggle("drilling", Object.values(this.drills).some(Boolean));
        this.reconfigure();
      });
    }
    return panel;
  }

  get key() {
    return $(".key", this.panel).value;
  }

  async #onAction(action) {
    const key = this.key;
    if (action === "read") return this.read(key);
    if (action === "delete") return this.run("delete", { key });
    if (action === "write-large") {
      return this.run("setLarge", { key, bytes: 3 * 1024 * 1024 }, "set 3 MB");
    }

    const args = this.#valueArgs(key);
    if (!args) return;
    if (action === "write-if") {
      // Conditional on what this runner saw: the version it last read of this key, or, if
      // it last saw the key absent (or never read it), that the key still does not exist.
      const seen = this.lastRead && this.lastRead.key === key ? this.lastRead.version : null;
      if (seen) args.ifVersion = seen;
      else args.ifAbsent = true;
    }
    return this.write(args);
  }

  /** The value and TTL typed into the panel, or null after showing why they are invalid. */
  #valueArgs(key) {
    const text = $(".value", this.panel).value;
    const json = $('[data-testid="mode-json"]', this.panel).checked;
    const ttlText = $(".ttl-input", this.panel).value.trim();
    const args = { key, json };

    if (json) {
      try {
        args.value = JSON.parse(text);
      } catch (error) {
        this.showError({ code: "invalid_json", message: `not valid JSON: ${error.message}` });
        return null;
      }
    } else {
      args.value = text;
    }
    if (ttlText) args.ttl = Number(ttlText);
    return args;
  }

  write(args) {
    let label = "set";
    if (args.ifVersion) label = `set if v${args.ifVersion}`;
    else if (args.ifAbsent) label = "set if absent";
    return this.run("set", args, label);
  }

  async read(key) {
    const reply = await this.run("get", { key });
    if (reply.ok) this.#showRead(key, reply.result, reply.ms);
    return reply;
  }

  /** Runs one operation in the worker and records its outcome in the panel. */
  async run(op, args, label = op) {
    this.inFlight += 1;
    this.panel.classList.add("busy");
    const reply = await this.call(op, args);
    this.inFlight -= 1;
    this.panel.classList.toggle("busy", this.inFlight > 0);

    if (reply.ok) {
      this.clearError();
      this.#log(label, args.key, describeResult(op, reply.result), reply.ms, "ok");
    } else {
      this.showError(reply.error);
      this.#log(label, args.key, reply.error.code, reply.ms, "failed");
    }
    return reply;
  }

  #showRead(key, entry, ms) {
    this.lastRead = { key, version: entry ? entry.version : null };
    const box = $(".read", this.panel);
    box.classList.toggle("absent", !entry);
    $(".read-key", this.panel).textContent = key;
    const version = $(".version", this.panel);
    version.textContent = entry ? `version ${entry.version}` : "";
    version.dataset.version = entry ? entry.version : "";
    $(".latency", this.panel).textContent = formatMs(ms);
    $(".read-value", this.panel).textContent = entry ? formatValue(entry.value) : "not found";
  }

  showError(error) {
    const box = $(".error", this.panel);
    box.hidden = false;
    $(".error-code", box).textContent = error.code;
    const status = error.status ? ` (HTTP ${error.status})` : "";
    $(".error-message", box).textContent = `${error.message}${status}`;
  }

  clearError() {
    $(".error", this.panel).hidden = true;
  }

  #setStatus(text, kind) {
    const status = $(".status", this.panel);
    status.textContent = text;
    status.dataset.kind = kind;
  }

  #log(op, key, outcome, ms, kind) {
    const log = $(".log", this.panel);
    const item = document.createElement("li");
    item.className = kind;
    for (const [cls, text] of [
      ["op", op],
      ["key", key],
      ["outcome", outcome],
      ["ms", formatMs(ms)],
    ]) {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      item.append(span);
    }
    log.prepend(item);
    while (log.children.length > LOG_LENGTH) log.lastElementChild.remove();
  }
}

function describeResult(op, result) {
  if (op === "get") return result ? `v${result.version}` : "not found";
  if (op === "delete") return "deleted";
  return result && result.version ? `→ v${result.version}` : "ok";
}

function addRunner() {
  const runner = new Runner(nextNumber++);
  runners.push(runner);
  $("#runners").append(runner.panel);
  return runner;
}

function removeRunner(runner) {
  runner.remove();
  runners.splice(runners.indexOf(runner), 1);
}

function story(text) {
  $("#story").textContent = text;
}

/** Writes a value with a short TTL, reads it everywhere, waits it out, and reads it again. */
async function ttlDemo() {
  const [writer] = runners;
  if (!writer) return story("Add a runner first.");
  const key = "ttl-demo";

  story(`${writer.name} writes "${key}" with a TTL of ${TTL_DEMO_SECS} s…`);
  const value = `written at ${new Date().toLocaleTimeString()}`;
  const written = await writer.write({ key, value, ttl: TTL_DEMO_SECS });
  if (!written.ok) return story(`${writer.name} could not write "${key}".`);
  const writtenAt = performance.now();
  await Promise.all(runners.map((runner) => runner.read(key)));

  // Counted from the acknowledged write, plus a second: the server expires the value
  // TTL seconds after it applied the write, which is a little before the answer arrived.
  const readAt = writtenAt + (TTL_DEMO_SECS + 1) * 1000;
  for (let left = readAt - performance.now(); left > 0; left = readAt - performance.now()) {
    story(`Every runner has read "${key}". Reading again in ${Math.ceil(left / 1000)} s…`);
    await sleep(Math.min(left, 1000));
  }
  await Promise.all(runners.map((runner) => runner.read(key)));
  story(`${TTL_DEMO_SECS + 1} s later every runner reads "${key}" as not found: it expired.`);
}

/** Two runners update one key; the one holding an old version loses its conditional write. */
async function conflictDemo() {
  if (runners.length < 2) return story("The conflict needs two runners: add one.");
  const [first, second] = runners;
  const key = "conflict-demo";

  await first.write({ key, value: `draft by ${first.name}` });
  const read = await first.read(key);
  if (!read.ok || !read.result) return story(`${first.name} could not read "${key}".`);
  const seen = read.result.version;
  const newer = await second.write({ key, value: `edit by ${second.name}` });
  const lost = await first.write({ key, value: `late edit by ${first.name}`, ifVersion: seen });

  const newerVersion = newer.ok && newer.result?.version ? ` (v${newer.result.version})` : "";
  story(
    lost.ok
      ? `${first.name}'s conditional write went through: nothing changed "${key}" in between.`
      : `${first.name} read v${seen}, ${second.name} wrote a newer version${newerVersion}, so ` +
          `${first.name}'s write "if still v${seen}" lost with ${lost.error.code}.`,
  );
}

let boardBusy = false;

/** Shows the Node runners (examples/runner.mjs): a roster key and one key per runner. */
async function refreshBoard() {
  const reader = runners.find((runner) => !Object.values(runner.drills).some(Boolean));
  const rows = $("#board-rows");
  if (!reader || boardBusy || document.visibilityState === "hidden" || !settings.token) return;

  // One refresh at a time: against a stopped server a refresh lasts as long as the
  // package's retries, longer than the interval.
  boardBusy = true;
  const reply = await reader.call("board");
  boardBusy = false;
  rows.replaceChildren();
  if (!reply.ok) {
    if (reply.error.code === "unauthorized") showTokenRejected();
    rows.append(messageRow(`${reader.name} could not read the roster: ${reply.error.code}`));
    return;
  }
  if (reply.result.length === 0) {
    rows.append(messageRow("No runner has joined yet."));
    return;
  }
  for (const { name, entry } of reply.result) {
    const value = entry ? shorten(entry.value) : "gone (its value expired)";
    rows.append(boardRow([name, value, entry ? `v${entry.version}` : "", reader.name]));
  }
}

function boardRow(cells) {
  const row = document.createElement("tr");
  for (const text of cells) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.append(cell);
  }
  return row;
}

/** A row across the whole table, for a message instead of a runner. */
function messageRow(text) {
  const row = document.createElement("tr");
  row.className = "empty";
  const cell = document.createElement("td");
  cell.colSpan = 4;
  cell.textContent = text;
  row.append(cell);
  return row;
}

/**
 * The server refused the token of a runner that is not drilling a wrong token: most often a
 * token from an earlier start, since the server generates a new one each time it starts.
 */
function showTokenRejected() {
  const notice = $("#token-missing");
  $("h2", notice).textContent = "Token rejected";
  $("p", notice).textContent =
    "The server does not know this token. Without a configured token it generates a new " +
    "one at every start: open the URL it printed last, or paste that token here.";
  notice.hidden = false;
}

function showConnection() {
  $("#server-url").textContent = settings.url;
  $("#namespace").textContent = NAMESPACE;
  $("#token-state").textContent = settings.token ? `•••• ${settings.token.slice(-4)}` : "none";
  $("#token-missing").hidden = Boolean(settings.token);
  // The real token, not a placeholder: the page's own user is the one copying it.
  $("#node-command").textContent =
    `RUNKV_URL=${settings.url} RUNKV_TOKEN=${settings.token || "<token>"} ` +
    `node examples/runner.mjs --name alice`;
}

function start() {
  showConnection();
  $("#add-runner").addEventListener("click", addRunner);
  $("#read-all").addEventListener("click", () => runners.forEach((r) => r.read(r.key)));
  $("#ttl-demo").addEventListener("click", ttlDemo);
  $("#conflict-demo").addEventListener("click", conflictDemo);
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    settings.token = $("#token-input").value.trim();
    sessionStorage.setItem("runkv-demo-token", settings.token);
    showConnection();
    runners.forEach((runner) => runner.reconfigure());
  });
  window.addEventListener("hashchange", () => {
    Object.assign(settings, readSettings());
    showConnection();
    runners.forEach((runner) => runner.reconfigure());
  });

  for (let i = 0; i < FIRST_RUNNERS; i++) addRunner();
  setInterval(refreshBoard, BOARD_INTERVAL_MS);
  refreshBoard();
}

start();
