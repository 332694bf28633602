/**
 * Key profiles and scopes: data, defined once. A key names one profile; what it may do is the
 * profile's grant cut down to what its user's role allows, so a key never exceeds its user.
 */
import { SCOPES, type Role, type Scope } from "./caller.ts";


const READ_SCOPES: Scope[] = ["tools:read", "brain:read", "policy:simulate", "traces:read", "approvals:read", "observability:read", "governance:read"];

/** The most each role may hold, whatever the key's profile says. */
export const ROLE_CEILINGS: Record<Role, ReadonlySet<Scope>> = {
  viewer: new Set(READ_SCOPES),
  editor: new Set<Scope>([...READ_SCOPES, "tools:call"]),
  admin: new Set<Scope>(SCOPES),
};

/** A requests-per-window budget. */
export interface RateLimit {
  requests: number;
  per_seconds: number;
}

/** A key profile as `GET /v1/mcp/key-profiles` shows it. */
export interface KeyProfile {
  name: string;
  description: string;
  scopes: Scope[];
  /** Globs over tool names; they limit the tools that touch company data or production systems. */
  allowed_tools: string[];
  /** Read-only keys call only tools that Invoke itself classifies read-only. */
  read_only: boolean;
  /** The weakest role whose users may hold a key of this profile. */
  min_role: Role;
  /** Overrides the server-wide rate limit for keys of this profile. */
  rate_limit?: RateLimit;
}

/** The profiles, in order of increasing power. `mcp_readonly` is exactly seed 000's. */
export const PROFILES: readonly KeyProfile[] = [
  {
    name: "mcp_readonly",
    description: "For MCP clients such as Claude Desktop: inspect, query the company brain, simulate policy. Calls no production tool.",
    scopes: READ_SCOPES,
    allowed_tools: ["invoke.company_brain.query"],
    read_only: true,
    min_role: "viewer",
  },
  {
    name: "operator",
    description: "For agents that act: everything mcp_readonly may do, plus calling production tools (each call still passes policy and approvals).",
    scopes: [...READ_SCOPES, "tools:call"],
    allowed_tools: ["*"],
    read_only: false,
    min_role: "editor",
  },
  {
    name: "admin",
    description: "For administrators and their scripts: every scope, including users, keys, policies and approvals.",
    scopes: [...SCOPES],
    allowed_tools: ["*"],
    read_only: false,
    min_role: "admin",
  },
];

const BY_NAME = new Map(PROFILES.map((profile) => [profile.name, profile]));

/** The profile called `name`, if any. */
export function findProfile(name: string): KeyProfile | undefined {
  return BY_NAME.get(name);
}

/** The scopes a key of `profile` held by a user of `role` really has. */
export function effectiveScopes(profile: KeyProfile, role: Role): ReadonlySet<Scope> {
  const ceiling = ROLE_CEILINGS[role];
  return new Set(profile.scopes.filter((scope) => ceiling.has(scope)));
}
