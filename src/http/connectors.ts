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
import { restCaller, type AddressOf } from "./rest-access.ts";

const EnableBody = Type.Object(
  { tools: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: "Globs over the connector's tool names (without the connector prefix)." }) },
  { additionalProperties: false },
);

/** The connector routes. */
export function connectorRoutes(services: Services, addressOf: AddressOf) {
  const reader = (request: Request) => restCaller(services, request, () => addressOf(request), "tools:read");
  const admin = (request: Request) => restCaller(services, request, () => addressOf(request), "admin");
  const connectors = services.connectors;

  return new Elysia({ name: "connector-routes" })
    .get("/v1/connectors", ({ request }) => ({ connectors: connectors.listConnectors(reader(request).scope) }))
    .get("/v1/connectors/:name", ({ request, params }) => connectors.view(reader(request).scope, params.name))
    .post("/v1/connectors", async ({ request, body }) => json(await connectors.add(admin(request).scope, body, "api"), 201), { body: NewConnector })
    .delete("/v1/connectors/:name", ({ request, params }) => connectors.remove(admin(request).scope, params.name))
    .post("/v1/connectors/:name/tools/enable", ({ request, params, body }) => {
      const { caller, scope } = admin(request);
      return connectors.enableTools(scope, params.name, body.tools, caller.email);
    }, { body: EnableBody });
}
