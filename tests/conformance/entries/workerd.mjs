// Entry for workerd: a module worker. Each request runs the scenarios named in its body
// (one at a time, so per-request limits never add up across scenarios) and answers with the
// results as JSON. `GET /` lists the scenario names. The worker's env carries RUNKV_URL and
// RUNKV_TOKEN as bindings, the way a deployed Worker receives its settings.

import * as sdk from "runkv";
import { runScenarios, scenarios } from "../scenarios.mjs";

export default {
  async fetch(request, env) {
    const host = { name: "workerd", bindings: env };
    if (request.method === "GET") {
      return Response.json(
        scenarios.filter((s) => !s.applies || s.applies(host)).map((s) => s.name),
      );
    }
    const { config, only } = await request.json();
    return Response.json(await runScenarios(sdk, config, host, { only }));
  },
};
