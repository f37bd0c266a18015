// Entry for a dedicated module Web Worker: runs the scenarios when the page posts the
// configuration and posts the results back.

import * as sdk from "runkv";
import { runScenarios } from "../scenarios.mjs";

self.onmessage = async (event) => {
  const config = event.data;
  self.postMessage(await runScenarios(sdk, config, { name: config.runtime }));
};
self.postMessage("ready");
