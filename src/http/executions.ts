/**
 * REST for the execution ledger (scope traces:read): list with filters and a cursor, fetch one record,
 * verify the tenant's chain against its signed checkpoint, and export it as JSON Lines. The same ledger
 * as `invoke executions` and the MCP tools; a key only ever sees its own tenant's records.
 */
import { createPublicKey } from "node:crypto";
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { NotFound } from "../errors.ts";
import { ExecutionRecordSchema, parseRecordFilters, RecordFiltersInput } from "../records/model.ts";
import { auditTenantOnly } from "../records/audit.ts";
import { checkpointFilePath } from "../records/checkpoints.ts";
import type { Services } from "../services.ts";
import { rest, restAccess, type AddressOf } from "./rest-access.ts";

/** The listing's filters, as query parameters; the export takes them without the page. */
const ListQuery = Type.Object(RecordFiltersInput);
const ExportQuery = Type.Omit(ListQuery, ["limit", "cursor"]);

/** Lines are sent in chunks of about this many bytes. */
const EXPORT_CHUNK_BYTES = 64 * 1024;

/** The execution-record routes. */
export function executionRoutes(services: Services, addressOf: AddressOf) {
  const ledger = services.records;
  const publicKey = createPublicKey(services.keys.publicKeyPem);
  const checkpointPath = checkpointFilePath(services.config.checkpoints, services.store.path);
  const verifyTenant = (tenantId: string) => auditTenantOnly({ records: ledger, directory: services.directory, checkpointPath, publicKey }, tenantId);

  return new Elysia({ name: "execution-routes" })
    .use(restAccess(services, addressOf))
    .get("/v1/executions", ({ caller, query }) => ledger.list(caller.tenantId, parseRecordFilters(textParams(query))), rest("traces:read", { summary: "List execution records", query: ListQuery }))
    // The caller's tenant only, held to its newest signed checkpoint; other tenants are never named.
    .get("/v1/executions/verify", ({ caller }) => verifyTenant(caller.tenantId), rest("traces:read", { summary: "Verify the ledger", description: "The tenant's chain against its newest signed checkpoint." }))
    .get("/v1/executions/export", ({ caller, query }) => {
      const { limit: _limit, cursor: _cursor, ...filters } = parseRecordFilters(textParams(query));
      return new Response(ndjsonStream(ledger.exportLines(caller.tenantId, filters)), { headers: { "content-type": "application/x-ndjson" } });
    }, rest("traces:read", { summary: "Export execution records", description: "JSON Lines, one record a line.", query: ExportQuery, contentType: "application/x-ndjson", response: Type.String() }))
    .get("/v1/executions/:id", async ({ caller, params }) => {
      const record = await ledger.get(caller.tenantId, params.id);
      // Another tenant's record is as absent as one that never existed.
      if (!record) throw new NotFound(`no execution record ${params.id}`, "execution_not_found");
      return record;
    }, rest("traces:read", { summary: "Show an execution record", response: ExecutionRecordSchema }));
}

/** The validated query as the text filters `parseRecordFilters` reads (the CLI's flags are text too). */
function textParams(query: Record<string, string | number | undefined>): Record<string, string | undefined> {
  const params: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params[name] = String(value);
  return params;
}

/** A byte stream of `lines`, each ended by a newline, read from the ledger only as the client takes them. */
function ndjsonStream(lines: AsyncIterable<string>): ReadableStream<Uint8Array> {
  const iterator = lines[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  return new ReadableStream({
    async pull(controller) {
      let chunk = "";
      while (chunk.length < EXPORT_CHUNK_BYTES) {
        const next = await iterator.next();
        if (next.done) {
          if (chunk.length > 0) controller.enqueue(encoder.encode(chunk));
          controller.close();
          return;
        }
        chunk += `${next.value}\n`;
      }
      controller.enqueue(encoder.encode(chunk));
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}
