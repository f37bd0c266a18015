// How the JavaScript test harnesses start Debian's Chromium headless.
//
// The background-networking flags matter on machines without outside network access:
// without them Chromium keeps opening connections that are refused, many at a time.

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
