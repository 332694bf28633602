/**
 * REST for the execution ledger (scope traces:read): list with filters and a cursor, fetch one record,
 * verify the tenant's chain, and export it as JSON Lines. The same ledger as `invoke executions` and the
 * MCP tools; a key only ever sees its own tenant's records.
 */
import { Elysia } from "elysia";
import { NotFound } from "../errors.ts";
import { parseRecordFilters } from "../records/model.ts";
import type { Services } from "../services.ts";
import { restCaller, type AddressOf } from "./rest-access.ts";

/** Lines are sent in chunks of about this many bytes. */
const EXPORT_CHUNK_BYTES = 64 * 1024;

/** The execution-record routes. */
export function executionRoutes(services: Services, addressOf: AddressOf) {
  const reader = (request: Request) => restCaller(services, request, () => addressOf(request), "traces:read").scope;
  const ledger = services.records;

  return new Elysia({ name: "execution-routes" })
    .get("/v1/executions", ({ request, query }) => ledger.list(reader(request).tenantId, parseRecordFilters(textParams(query))))
    .get("/v1/executions/verify", ({ request }) => ledger.verify(reader(request).tenantId))
    .get("/v1/executions/export", ({ request, query }) => {
      const { tenantId } = reader(request);
      const { limit: _limit, cursor: _cursor, ...filters } = parseRecordFilters(textParams(query));
      return new Response(ndjsonStream(ledger.exportLines(tenantId, filters)), { headers: { "content-type": "application/x-ndjson" } });
    })
    .get("/v1/executions/:id", ({ request, params }) => {
      const record = ledger.get(reader(request).tenantId, params.id);
      // Another tenant's record is as absent as one that never existed.
      if (!record) throw new NotFound(`no execution record ${params.id}`, "execution_not_found");
      return record;
    });
}

/** Query parameters given once as text; a repeated parameter keeps its first value. */
function textParams(query: Record<string, unknown>): Record<string, string | undefined> {
  const params: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(query)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === "string") params[name] = first;
  }
  return params;
}

/** A byte stream of `lines`, each ended by a newline, read from the ledger only as the client takes them. */
function ndjsonStream(lines: Iterable<string>): ReadableStream<Uint8Array> {
  const iterator = lines[Symbol.iterator]();
  const encoder = new TextEncoder();
  return new ReadableStream({
    pull(controller) {
      let chunk = "";
      while (chunk.length < EXPORT_CHUNK_BYTES) {
        const next = iterator.next();
        if (next.done) {
          if (chunk.length > 0) controller.enqueue(encoder.encode(chunk));
          controller.close();
          return;
        }
        chunk += `${next.value}\n`;
      }
      controller.enqueue(encoder.encode(chunk));
    },
    cancel() {
      iterator.return?.();
    },
  });
}
