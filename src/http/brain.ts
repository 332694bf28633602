/**
 * REST for the company brain: bulk upsert of entities and relations (all or nothing) and deletion
 * (scope brain:write: admin keys), and the query the MCP tool answers (scope brain:read).
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { applyExport } from "../brain/importer.ts";
import { EntityInput, RelationInput } from "../brain/service.ts";
import type { Services } from "../services.ts";
import { BrainQueryInput } from "../tools/company-brain-query.ts";
import { restCaller, type AddressOf } from "./rest-access.ts";

const EntityRef = Type.Object({ type: Type.String({ minLength: 1 }), key: Type.String({ minLength: 1 }) }, { additionalProperties: false });

/** The brain routes. */
export function brainRoutes(services: Services, addressOf: AddressOf) {
  const brain = services.brain;
  return new Elysia({ name: "brain-routes" })
    .post(
      "/v1/brain/entities",
      ({ request, body }) => {
        const { scope } = restCaller(services, request, () => addressOf(request), "brain:write");
        return applyExport(brain, scope, { entities: body.entities, relations: body.relations ?? [], skipped: [] }, "request body");
      },
      {
        body: Type.Object(
          { entities: Type.Array(EntityInput, { maxItems: 10_000 }), relations: Type.Optional(Type.Array(RelationInput, { maxItems: 30_000 })) },
          { additionalProperties: false },
        ),
      },
    )
    .post(
      "/v1/brain/relations",
      ({ request, body }) => brain.upsertRelations(restCaller(services, request, () => addressOf(request), "brain:write").scope, body.relations),
      { body: Type.Object({ relations: Type.Array(RelationInput, { maxItems: 30_000 }) }, { additionalProperties: false }) },
    )
    .delete(
      "/v1/brain/entities",
      ({ request, body }) => brain.deleteEntities(restCaller(services, request, () => addressOf(request), "brain:write").scope, body.entities),
      { body: Type.Object({ entities: Type.Array(EntityRef, { maxItems: 10_000 }) }, { additionalProperties: false }) },
    )
    .post("/v1/brain/query", ({ request, body }) => brain.query(restCaller(services, request, () => addressOf(request), "brain:read").scope, body), {
      body: BrainQueryInput,
    });
}
