/** The authenticated caller of a request, as every later decision (authorisation, policy, records) sees it. */

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
}

/** Whether `role` is at least `minimum`. */
export function roleAtLeast(role: Role, minimum: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(minimum);
}
