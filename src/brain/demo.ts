/** The demo company (`--demo`): a small, coherent tenant so seed 000's brain example answers out of the box. Shipped inside the binary. */
import demo from "./demo-company.json";
import type { EntityInput, RelationInput } from "./model.ts";
import type { BrainService } from "./service.ts";

/** Loads the demo company into the tenant; loading it again changes nothing. */
export async function loadDemoCompany(brain: BrainService, tenantId: string) {
  const entities = await brain.upsertEntities(tenantId, demo.entities as EntityInput[]);
  const relations = await brain.upsertRelations(tenantId, demo.relations as RelationInput[]);
  return { entities, relations };
}
