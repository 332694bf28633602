/** `invoke serve`: the HTTP server. Bootstraps an empty database and prints its admin key once. */
import { bootstrapIfEmpty } from "../governance/bootstrap.ts";
import { createApp } from "../http/app.ts";
import { logInfo } from "../log.ts";
import { installDemo } from "../demo.ts";
import { firstTenantId } from "../governance/directory.ts";
import { createServices, startBackground } from "../services.ts";
import { createTracing } from "../observability/tracing.ts";
import { TenantScope } from "../storage/tenant-scope.ts";
import { openStore } from "../storage/db.ts";
import { VERSION } from "../version.ts";
import type { Command } from "./command.ts";
import { configFlag, dbFlag, demoFlag, loadConfig } from "./shared.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "Run the HTTP server: the MCP endpoint (POST /v1/mcp), discovery (GET /v1/mcp) and health checks.",
  flags: {
    host: { type: "string", env: "INVOKE_HOST", value: "HOST", help: "Address to bind (default 127.0.0.1; use 0.0.0.0 to listen on all interfaces)." },
    port: { type: "string", env: "INVOKE_PORT", value: "PORT", help: "Port to listen on; 0 picks a free one (default 8787)." },
    db: dbFlag,
    config: configFlag,
    demo: demoFlag,
  },
  details: "On an empty database, serve creates tenant \"default\", user admin@localhost (role admin) and an admin API key, printed once.",
  async run(values) {
    const config = await loadConfig(values);
    const store = openStore(config.db);
    const bootstrap = bootstrapIfEmpty(store);
    if (bootstrap) {
      console.log(
        [
          `Created tenant "default" with admin user admin@localhost in ${config.db}.`,
          `Admin API key (shown once; store it now): ${bootstrap.admin_key}`,
          "",
        ].join("\n"),
      );
    }
    // Listen for stop signals before announcing readiness: a supervisor may signal as soon as it reads that line.
    const stopped = new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logInfo(`${signal} received, stopping`);
        resolve();
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
    });
    const tracing = await createTracing({ endpoint: config.tracing.endpoint, serviceName: config.tracing.serviceName, headers: config.tracing.headers });
    const services = createServices({ store, config, tracing });
    if (values.demo) {
      const loaded = installDemo(services.brain, new TenantScope(store, firstTenantId(store)));
      console.log(
        `Demo company loaded: ${loaded.entities.inserted} new, ${loaded.entities.updated} updated entities; ${loaded.relations.added} new relations; connector "database" on ${loaded.database}.`,
      );
    }
    const stopBackground = await startBackground(services);
    const app = createApp({ services });
    app.listen({ hostname: config.host, port: config.port });
    const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${app.server!.port}`;
    console.log(`Invoke ${VERSION} listening on ${url} (MCP endpoint ${url}/v1/mcp, database ${config.db})`);
    await stopped;
    await app.stop();
    await stopBackground();
    await tracing.shutdown();
    store.close();
    return 0;
  },
};
