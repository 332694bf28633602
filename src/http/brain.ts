/**
 * REST for the company brain: bulk upsert of entities and relations (all or nothing) and deletion
 * (scope brain:write: admin keys), and the query the MCP tool answers (scope brain:read).
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { EntityInput, RelationInput } from "../brain/model.ts";
import type { Services } from "../services.ts";
import { BrainQueryInput } from "../tools/company-brain-query.ts";
import { validBody } from "./request-body.ts";
import { rest, restAccess, type AddressOf } from "./rest-access.ts";

const EntityRef = Type.Object({ type: Type.String({ minLength: 1 }), key: Type.String({ minLength: 1 }) }, { additionalProperties: false });
const UpsertBody = Type.Object(
  { entities: Type.Array(EntityInput, { maxItems: 10_000 }), relations: Type.Optional(Type.Array(RelationInput, { maxItems: 30_000 })) },
  { additionalProperties: false },
);
const RelationsBody = Type.Object({ relations: Type.Array(RelationInput, { maxItems: 30_000 }) }, { additionalProperties: false });
const DeleteBody = Type.Object({ entities: Type.Array(EntityRef, { maxItems: 10_000 }) }, { additionalProperties: false });

/** The brain routes. */
export function brainRoutes(services: Services, addressOf: AddressOf) {
  const brain = services.brain;
  return new Elysia({ name: "brain-routes" })
    .use(restAccess(services, addressOf))
    .post("/v1/brain/entities", async ({ caller, body }) => {
      const input = validBody(UpsertBody, body);
      // The importer (and its CSV parser) loads at the first upsert, not at start-up.
      const { applyExport } = await import("../brain/importer.ts");
      return applyExport(brain, caller.tenantId, { entities: input.entities, relations: input.relations ?? [], skipped: [] }, "request body");
    }, rest("brain:write", { summary: "Upsert entities and relations", description: "All or nothing.", body: UpsertBody }))
    .post("/v1/brain/relations", ({ caller, body }) => brain.upsertRelations(caller.tenantId, validBody(RelationsBody, body).relations), rest("brain:write", { summary: "Upsert relations", body: RelationsBody }))
    .delete("/v1/brain/entities", ({ caller, body }) => brain.deleteEntities(caller.tenantId, validBody(DeleteBody, body).entities), rest("brain:write", { summary: "Delete entities", body: DeleteBody }))
    .post("/v1/brain/query", ({ caller, body }) => brain.query(caller.tenantId, validBody(BrainQueryInput, body)), rest("brain:read", { summary: "Query the brain", description: "The same query as the MCP tool.", body: BrainQueryInput, mutation: false }));
}
