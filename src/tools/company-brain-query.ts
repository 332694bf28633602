/** `invoke.company_brain.query`: ranked company entities with their related entities joined (seed 000). */
import { Type } from "@sinclair/typebox";
import { defineTool } from "./tool.ts";

const Attributes = Type.Record(Type.String(), Type.Unknown());
const Slug = { minLength: 1, maxLength: 100, pattern: "^[a-z][a-z0-9_]*$" };

/** The query's arguments, shared with `POST /v1/brain/query`. */
export const BrainQueryInput = Type.Object(
  {
    query: Type.String({ minLength: 1, maxLength: 10_000 }),
    entity_type: Type.Optional(Type.String(Slug)),
    join_to: Type.Optional(
      Type.Object(
        { entity_type: Type.String(Slug), relation: Type.Optional(Type.String(Slug)), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) },
        { additionalProperties: false },
      ),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "Hits per page (default 10)." })),
    cursor: Type.Optional(Type.String({ description: "next_cursor of the previous page." })),
  },
  { additionalProperties: false },
);

export const companyBrainQueryTool = defineTool({
  name: "invoke.company_brain.query",
  title: "Query the company brain",
  description:
    'Search the company brain (customers, contacts, invoices, …) before acting. Words are ANDed; "quoted words" match a phrase; a trailing * matches a prefix. Filter by entity_type; join_to attaches each hit\'s related entities of a type (both directions), e.g. {"query":"Acme","entity_type":"customer","join_to":{"entity_type":"invoice"}}.',
  scope: "brain:read",
  readOnly: true,
  touchesCompanyData: true,
  input: BrainQueryInput,
  output: Type.Object({
    results: Type.Array(
      Type.Object({
        type: Type.String(),
        key: Type.String(),
        name: Type.String(),
        attributes: Attributes,
        source: Type.Union([Type.String(), Type.Null()]),
        updated_at: Type.String(),
        score: Type.Number({ description: "BM25 relevance; higher is better." }),
        related: Type.Optional(
          Type.Array(
            Type.Object({
              type: Type.String(),
              key: Type.String(),
              name: Type.String(),
              attributes: Attributes,
              relation: Type.String(),
              direction: Type.Union([Type.Literal("outgoing"), Type.Literal("incoming")]),
            }),
          ),
        ),
      }),
    ),
    next_cursor: Type.Optional(Type.String()),
  }),
  uses: ["brain"],
  handler: (args, { caller, brain }) => brain.query(caller.tenantId, args),
});
