/** The demo company (`--demo`): a small, coherent tenant so seed 000's brain example answers out of the box. Shipped inside the binary. */
import type { TenantScope } from "../storage/sqlite/tenant-scope.ts";
import demo from "./demo-company.json";
import type { BrainService, EntityInput, RelationInput } from "./service.ts";

/** Loads the demo company into the scope's tenant; loading it again changes nothing. */
export function loadDemoCompany(brain: BrainService, scope: TenantScope) {
  const entities = brain.upsertEntities(scope, demo.entities as EntityInput[]);
  const relations = brain.upsertRelations(scope, demo.relations as RelationInput[]);
  return { entities, relations };
}
