/**
 * `invoke connectors …`: a tenant's connectors on the local database — list and inspect them (each is
 * started here to report its health and tools), add and remove them, and enable (pin) upstream tools.
 * A running server takes the changes within seconds (it reconciles its connectors with the store).
 * Changes are recorded in the execution ledger as admin mutations, as over REST. `rotate-key` renews the
 * key that seals connector secrets at rest (every tenant's): a running server follows it on its own.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { ConnectorView } from "../connectors/service.ts";
import { addSecretKey, dropOldSecretKeys } from "../governance/key-file.ts";
import type { NewConnector } from "../connectors/model.ts";
import type { TenantRef } from "../governance/caller.ts";
import type { Services } from "../services.ts";
import { CommandFailure, UsageError, type Command } from "./command.ts";
import { configFlag, dbFlag, jsonFlag, output, recordedChange, tenantFlag, withServices } from "./shared.ts";

const SUBCOMMANDS = ["list", "show", "add", "remove", "enable", "rotate-key"];

function describe(connector: ConnectorView): string {
  const health = connector.health.healthy ? "healthy" : `unhealthy${connector.health.detail ? ` (${connector.health.detail})` : ""}`;
  const tools = connector.tools.map((tool) => `    ${tool.status.padEnd(11)} ${connector.name}.${tool.name}${tool.read_only ? "  (read-only)" : ""}`);
  return [`${connector.name}  ${connector.type}  from ${connector.origin}  ${health}`, ...tools].join("\n");
}

/** The connector definition of `add`: the argument or `--file` (YAML or JSON), the same body as POST /v1/connectors. */
function definition(text: string | undefined, file: string | undefined): NewConnector {
  if ((text === undefined) === (file === undefined)) throw new UsageError("add needs the connector as an argument (JSON or YAML) or --file PATH, not both");
  let source = text;
  if (file !== undefined) {
    try {
      source = readFileSync(file, "utf8");
    } catch (error) {
      throw new CommandFailure(`cannot read ${file}: ${(error as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(source!);
  } catch (error) {
    throw new UsageError(`the connector is not valid JSON or YAML: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError("the connector must be an object with name and type");
  return parsed as NewConnector;
}

/** Runs a change and records it, failed or not, as the REST route doing the same work records its own. */
function change<T>(services: Services, tenant: TenantRef, route: string, params: Record<string, unknown>, body: unknown, work: () => Promise<T>): Promise<T> {
  return recordedChange(services, tenant, { client: "invoke connectors (cli)", route, params, body }, work);
}

export const connectorsCommand: Command = {
  name: "connectors",
  summary: "List, add, remove connectors and enable (pin) their tools.",
  args: `<${SUBCOMMANDS.join("|")}> [NAME] [TOOL…]`,
  flags: {
    db: dbFlag,
    config: { ...configFlag, help: "The server's configuration file: the key file beside it is the one rotate-key renews (else INVOKE_KEY_FILE, else <db>.keys)." },
    tenant: tenantFlag,
    file: { type: "string", value: "PATH", help: "The connector to add, as YAML or JSON (add)." },
    as: { type: "string", env: "INVOKE_AS", value: "EMAIL", help: "Who approves the tool definitions (enable); kept with each pin. Default: cli." },
    json: jsonFlag,
  },
  details: [
    "  invoke connectors list                       starts each connector here to show its health and tools",
    "  invoke connectors show NAME",
    "  invoke connectors add --file fs.yaml         or: invoke connectors add '{\"name\":\"fs\",\"type\":\"mcp_stdio\",\"command\":\"npx\",…}'",
    "  invoke connectors remove NAME                connectors from the config file are removed there",
    "  invoke connectors enable NAME 'read_*' …     pins the tools' current definitions (also re-approves quarantined ones)",
    "  invoke connectors rotate-key                 a new key in the key file seals every connector's secrets, all tenants; old keys are dropped",
    "",
    "A running server picks up these changes within a few seconds.",
  ].join("\n"),
  async run(values, positionals) {
    const [sub, name, ...rest] = positionals;
    if (sub === undefined || !SUBCOMMANDS.includes(sub)) throw new UsageError(`expected one of: ${SUBCOMMANDS.join(", ")}`);
    if (["show", "remove", "enable"].includes(sub) && !name) throw new UsageError(`${sub} needs a connector NAME`);
    if (sub === "enable" && rest.length === 0) throw new UsageError("enable needs the tools to enable: names or globs, e.g. 'read_*'");
    switch (sub) {
      case "list":
        return withServices(values, async (services, tenant) => {
          await services.connectors.reconcile(tenant.tenantId);
          const list = await services.connectors.listConnectors(tenant);
          return output(values, { connectors: list }, list.length === 0 ? "No connectors." : list.map(describe).join("\n"));
        });
      case "show":
        return withServices(values, async (services, tenant) => {
          await services.connectors.reconcile(tenant.tenantId);
          const connector = await services.connectors.view(tenant, name!);
          return output(values, connector, describe(connector));
        });
      case "add": {
        const input = definition(name, values.file as string | undefined);
        return withServices(values, async (services, tenant) => {
          const connector = await change(services, tenant, "POST /v1/connectors", {}, input, () => services.connectors.add(tenant, input, "operator"));
          const next = connector.tools.some((tool) => tool.status === "available") ? `\nEnable its tools with: invoke connectors enable ${connector.name} TOOL…` : "";
          return output(values, connector, `${describe(connector)}${next}`);
        });
      }
      case "remove":
        return withServices(values, async (services, tenant) => {
          await services.connectors.reconcile(tenant.tenantId);
          const removed = await change(services, tenant, "DELETE /v1/connectors/:name", { name }, null, () => services.connectors.remove(tenant, name!));
          return output(values, removed, `Removed connector ${name}.`);
        });
      case "rotate-key":
        return withServices(values, async (services) => {
          const { path, secretKeys } = services.keys;
          const retired = secretKeys.map((key) => key.id);
          // New key first, so that a server sealing meanwhile already uses it; the old keys go only once nothing needs them.
          const current = addSecretKey(path).secretKeys[0]!.id;
          const resealed = await services.connectors.resealAll();
          dropOldSecretKeys(path);
          return output(values, { key_id: current, resealed, retired }, `Connector secrets of ${resealed} connector${resealed === 1 ? "" : "s"} sealed with key ${current}; retired ${retired.join(", ")} (${path}).`);
        });
      default:
        return withServices(values, async (services, tenant) => {
          await services.connectors.reconcile(tenant.tenantId);
          const approvedBy = (values.as as string | undefined) ?? "cli";
          const connector = await change(services, tenant, "POST /v1/connectors/:name/tools/enable", { name }, { tools: rest }, () =>
            services.connectors.enableTools(tenant, name!, rest, approvedBy),
          );
          return output(values, connector, describe(connector));
        });
    }
  },
};
