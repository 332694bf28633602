/** `invoke.whoami`: the caller as Invoke sees it. */
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
});

export const whoamiTool = defineTool({
  name: "invoke.whoami",
  title: "Who am I",
  description:
    "Describe the caller as Invoke sees it: tenant, user and role, and the API key in use (its profile and expiry). Call this first to learn what you may do.",
  scope: "tools:read",
  readOnly: true,
  touchesCompanyData: false,
  input: Type.Object({}, { additionalProperties: false }),
  output: WhoamiOutput,
  handler: (_args, { caller }) => ({
    tenant: { id: caller.tenantId, name: caller.tenantName },
    user: { id: caller.userId, email: caller.email, role: caller.role },
    key: {
      id: caller.keyId,
      name: caller.keyName,
      profile: caller.profile,
      expires_at: caller.expiresAt === null ? null : new Date(caller.expiresAt).toISOString(),
    },
  }),
});
