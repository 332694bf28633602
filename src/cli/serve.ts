/**
 * `invoke serve`: the HTTP(S) server. Bootstraps an empty database and prints its admin key once; with
 * a certificate and key it serves HTTPS and reads both files again on SIGHUP.
 */
import { bootstrapIfEmpty } from "../governance/bootstrap.ts";
import { createApp, type App } from "../http/app.ts";
import { logInfo } from "../log.ts";
import { readTls, type TlsFiles, type TlsMaterial } from "../http/tls.ts";
import { firstTenantId } from "../governance/directory.ts";
import { startBackground } from "../background.ts";
import { createServices } from "../services.ts";
import { createTracing } from "../observability/tracing.ts";
import { openStore } from "../storage/sqlite/db.ts";
import { sqliteRepositories } from "../storage/sqlite/index.ts";
import { VERSION } from "../version.ts";
import { StartupError } from "../errors.ts";
import { UsageError, type Command } from "./command.ts";
import { configFlag, dbFlag, demoFlag, loadConfig, startupDone } from "./shared.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "Run the HTTP server: the MCP endpoint (POST /v1/mcp), discovery (GET /v1/mcp) and health checks.",
  flags: {
    host: { type: "string", env: "INVOKE_HOST", value: "HOST", help: "Address to bind (default 127.0.0.1; use 0.0.0.0 to listen on all interfaces)." },
    port: { type: "string", env: "INVOKE_PORT", value: "PORT", help: "Port to listen on; 0 picks a free one (default 8787)." },
    db: dbFlag,
    config: configFlag,
    demo: demoFlag,
    "tls-cert": { type: "string", env: "INVOKE_TLS_CERT", value: "FILE", help: "Serve HTTPS with this PEM certificate (chain, leaf first); with --tls-key. Re-read on SIGHUP." },
    "tls-key": { type: "string", env: "INVOKE_TLS_KEY", value: "FILE", help: "The certificate's PEM private key (unencrypted); with --tls-cert. Re-read on SIGHUP." },
  },
  details: "On an empty database, serve creates tenant \"default\", user admin@localhost (role admin) and an admin API key, printed once.",
  async run(values) {
    const config = await loadConfig(values);
    const tlsFiles = tlsFilesFrom(values, config.tls);
    // Checked before anything is opened: a bad certificate is one line, not a half-started server.
    let tls = tlsFiles && readTls(tlsFiles);
    const store = openStore(config.db);
    const bootstrap = await bootstrapIfEmpty(sqliteRepositories(store).directory);
    if (bootstrap) {
      console.log(
        [
          `Created tenant "default" with admin user admin@localhost (user id ${bootstrap.user_id}) in ${config.db}.`,
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
      // The demo company and its database are loaded only for --demo, not on every start.
      const { installDemo } = await import("../demo.ts");
      const loaded = await installDemo({ ...services, connectorStore: sqliteRepositories(store).connectors, storePath: store.path }, { tenantId: await firstTenantId(services.directory) });
      console.log(
        `Demo company loaded: ${loaded.entities.inserted} new, ${loaded.entities.updated} updated entities; ${loaded.relations.added} new relations; connector "database" on ${loaded.database}${loaded.policyVersion === undefined ? "" : `; demo policy published as version ${loaded.policyVersion}`}.`,
      );
    }
    const stopBackground = await startBackground(services);
    const app = createApp({ services });
    // Bun shares a port between processes (SO_REUSEPORT) unless told not to: a second server would silently take half the connections.
    // Bodies are buffered only up to twice the limit: declared lengths in between still get the JSON 413.
    const listenOptions = { hostname: config.host, reusePort: false, maxRequestBodySize: config.maxBodyBytes * 2 };
    try {
      app.listen({ ...listenOptions, port: config.port, ...(tls && { tls: { cert: tls.cert, key: tls.key } }) });
    } catch (error) {
      await stopBackground();
      await tracing.shutdown();
      store.close();
      throw new StartupError(await bindFailure(config.host, config.port, error));
    }
    startupDone();
    const url = `${tls ? "https" : "http"}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${app.server!.port}`;
    if (tls) logInfo(`TLS certificate ${tls.fingerprint} (valid to ${tls.validTo})`);
    // Always handled: a supervisor's reload (systemd's ExecReload) must never end the process.
    process.on("SIGHUP", () => {
      if (tlsFiles) tls = reloadTls(app, listenOptions, tlsFiles, tls!);
      else logInfo("SIGHUP received: nothing to reload (no TLS certificate configured)");
    });
    console.log(`Invoke ${VERSION} listening on ${url} (MCP endpoint ${url}/v1/mcp, database ${config.db})`);
    await stopped;
    await app.stop();
    await stopBackground();
    await tracing.shutdown();
    store.close();
    return 0;
  },
};

/** The certificate and key files from the flags (or INVOKE_TLS_*), else the config file; both or neither. */
function tlsFilesFrom(values: Record<string, string | boolean | undefined>, fromConfig: TlsFiles | undefined): TlsFiles | undefined {
  const cert = (values["tls-cert"] as string | undefined) ?? fromConfig?.cert;
  const key = (values["tls-key"] as string | undefined) ?? fromConfig?.key;
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new UsageError("--tls-cert and --tls-key go together: give both (or tls: {cert, key} in the config)");
  return { cert, key };
}

/**
 * SIGHUP: serve the certificate and key files' current pair and return it. Bun's `server.reload()` keeps
 * the TLS context it started with, so a new listener replaces the old one on the same port: the old one
 * stops accepting at once and finishes its in-flight requests. A pair that fails its checks is logged and
 * the served one kept.
 */
function reloadTls(app: App, listenOptions: { hostname: string; reusePort: boolean; maxRequestBodySize: number }, files: TlsFiles, served: TlsMaterial): TlsMaterial {
  let next: TlsMaterial;
  try {
    next = readTls(files);
  } catch (error) {
    logInfo(`SIGHUP: TLS not reloaded, still serving certificate ${served.fingerprint}: ${(error as Error).message}`);
    return served;
  }
  const previous = app.server!;
  const port = previous.port;
  void previous.stop(false);
  try {
    app.server = Bun.serve({ ...listenOptions, port, tls: { cert: next.cert, key: next.key }, fetch: (request) => app.fetch(request) });
  } catch (error) {
    // The port was free an instant ago: only another process taking it in between gets here.
    logInfo(`SIGHUP: cannot listen on port ${port} again (${(error as Error).message.split("\n")[0]}); stopping`);
    process.kill(process.pid, "SIGTERM");
    return served;
  }
  logInfo(`SIGHUP: TLS certificate reloaded: ${next.fingerprint} (valid to ${next.validTo})`);
  return next;
}

/** One line saying why the server could not bind `host:port` (Bun reports an unknown host as a busy port). */
async function bindFailure(host: string, port: number, error: unknown): Promise<string> {
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const [{ isIP }, { lookup }] = await Promise.all([import("node:net"), import("node:dns/promises")]);
  if (isIP(host) === 0) {
    const resolved = await lookup(host).then(() => true, () => false);
    if (!resolved) return `cannot listen on ${where}: the host name ${host} does not resolve to an address`;
  }
  switch ((error as { code?: string }).code) {
    case "EADDRINUSE":
      return `cannot listen on ${where}: the port is already in use (by another Invoke or another program); choose another with --port`;
    case "EADDRNOTAVAIL":
      return `cannot listen on ${where}: ${host} is not an address of this machine`;
    case "EACCES":
    case "EPERM":
      return `cannot listen on ${where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`;
    default:
      return `cannot listen on ${where}: ${String((error as Error).message ?? error).split("\n")[0]}`;
  }
}
