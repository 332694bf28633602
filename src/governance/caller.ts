/** The authenticated caller of a request, as every later decision (authorisation, policy, records) sees it. */

/** Every scope Invoke knows. */
export const SCOPES = [
  "tools:read",
  "tools:call",
  "brain:read",
  "brain:write",
  "policy:simulate",
  "policy:write",
  "traces:read",
  "approvals:read",
  "approvals:decide",
  "observability:read",
  "governance:read",
  "admin",
] as const;
export type Scope = (typeof SCOPES)[number];

/** A user's role in its tenant, weakest first. */
export const ROLES = ["viewer", "editor", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: resolved from an API key, never from anything else the network sends. */
export interface Caller {
  tenantId: string;
  tenantName: string;
  userId: string;
  email: string;
  role: Role;
  keyId: string;
  keyName: string;
  profile: string;
  expiresAt: number | null;
  /** The profile's scopes cut down to the role's ceiling. */
  scopes: ReadonlySet<Scope>;
  /** Globs over the names of tools that touch company data or production systems. */
  allowedTools: readonly string[];
  readOnly: boolean;
}

/** The tenant an operation acts in, by id: the caller's, never one a request names. */
export interface TenantRef {
  readonly tenantId: string;
}

/** Whether `role` is at least `minimum`. */
export function roleAtLeast(role: Role, minimum: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(minimum);
}

/** Whether `value` names a role. */
export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}
