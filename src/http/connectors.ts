/**
 * REST for connectors (admin key; reads: scope tools:read): add, remove, inspect, and enable (pin)
 * upstream tools — which is also how a quarantined tool's new definition is approved. A connector added
 * here may reach only what the operator's `tenant_connectors` allows.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { NewConnector } from "../connectors/model.ts";
import type { Services } from "../services.ts";
import { json } from "./respond.ts";
import { validBody } from "./request-body.ts";
import { rest, restAccess, type AddressOf } from "./rest-access.ts";

const EnableBody = Type.Object(
  { tools: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 500, description: "Globs over the connector's tool names (without the connector prefix)." }) },
  { additionalProperties: false },
);

/** The connector routes. */
export function connectorRoutes(services: Services, addressOf: AddressOf) {
  const connectors = services.connectors;

  return new Elysia({ name: "connector-routes" })
    .use(restAccess(services, addressOf))
    .get("/v1/connectors", async ({ caller }) => ({ connectors: await connectors.listConnectors(caller) }), rest("tools:read", { summary: "List connectors" }))
    .get("/v1/connectors/:name", ({ caller, params }) => connectors.view(caller, params.name), rest("tools:read", { summary: "Show a connector and its tools" }))
    .post(
      "/v1/connectors",
      async ({ caller, body }) => json(await connectors.add(caller, validBody(NewConnector, body), "api"), 201),
      rest("admin", { summary: "Add a connector", description: "It may reach only what the operator's tenant_connectors allows.", body: NewConnector, status: 201 }),
    )
    .delete("/v1/connectors/:name", ({ caller, params }) => connectors.remove(caller, params.name), rest("admin", { summary: "Remove a connector" }))
    .post(
      "/v1/connectors/:name/tools/enable",
      ({ caller, params, body }) => connectors.enableTools(caller, params.name, validBody(EnableBody, body).tools, caller.email),
      rest("admin", { summary: "Enable (pin) tools", description: "Also approves a quarantined tool's new definition.", body: EnableBody }),
    );
}
