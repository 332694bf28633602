/** `invoke.whoami`: the caller as Invoke sees it, including what its key allows and its rate-limit headroom. */
import { Type } from "@sinclair/typebox";
import { defineTool } from "./tool.ts";

const WhoamiOutput = Type.Object({
  tenant: Type.Object({ id: Type.String(), name: Type.String() }),
  user: Type.Object({ id: Type.String(), email: Type.String(), role: Type.String() }),
  key: Type.Object({
    id: Type.String(),
    name: Type.String(),
    profile: Type.String(),
    expires_at: Type.Union([Type.String({ description: "ISO 8601" }), Type.Null()]),
  }),
  scopes: Type.Array(Type.String(), { description: "The key's profile scopes, cut down to the user's role." }),
  allowed_tools: Type.Array(Type.String(), { description: "Globs over the tools that touch company data or production systems." }),
  read_only: Type.Boolean(),
  rate_limit: Type.Object({
    limit: Type.Integer({ description: "Requests per window." }),
    remaining: Type.Integer({ description: "Requests left now." }),
    window_seconds: Type.Integer(),
  }),
});

export const whoamiTool = defineTool({
  name: "invoke.whoami",
  title: "Who am I",
  description:
    "Describe the caller as Invoke sees it: tenant, user and role, the API key in use (profile, expiry), its scopes and allowed tools, whether it is read-only, and the rate-limit headroom. Call this first to learn what you may do.",
  scope: "tools:read",
  readOnly: true,
  touchesCompanyData: false,
  input: Type.Object({}, { additionalProperties: false }),
  output: WhoamiOutput,
  uses: ["gate"],
  handler: (_args, { caller, gate }) => ({
    tenant: { id: caller.tenantId, name: caller.tenantName },
    user: { id: caller.userId, email: caller.email, role: caller.role },
    key: {
      id: caller.keyId,
      name: caller.keyName,
      profile: caller.profile,
      expires_at: caller.expiresAt === null ? null : new Date(caller.expiresAt).toISOString(),
    },
    scopes: [...caller.scopes],
    allowed_tools: [...caller.allowedTools],
    read_only: caller.readOnly,
    rate_limit: gate.headroom(caller),
  }),
});
