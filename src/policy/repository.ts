/**
 * What the policy room keeps in a store: each tenant's policy versions (drafts, the one active version,
 * superseded ones). Version 0, the built-in default pack, is never stored. Every method is scoped to
 * the tenant it names; each write is one atomic step.
 */

/** A stored policy version. */
export interface StoredPolicyVersion {
  /** Unique across tenants: compiled policies are cached by it. */
  id: string;
  /** 1, 2, 3… per tenant. */
  version: number;
  status: "draft" | "active" | "superseded";
  source: string;
  comment: string | null;
  createdBy: string | null;
  createdAt: number;
  publishedBy: string | null;
  publishedAt: number | null;
}

/** A new version's fields. */
export interface NewPolicyVersion {
  source: string;
  comment: string | null;
  createdBy: string | null;
  createdAt: number;
}

/** Policy versions per tenant. */
export interface PolicyRepository {
  /** The tenant's active version, or undefined while the default pack is in force (asked on every governed call). */
  active(tenantId: string): Promise<Pick<StoredPolicyVersion, "id" | "version" | "source"> | undefined>;
  /** One version of the tenant, or undefined. */
  find(tenantId: string, version: number): Promise<StoredPolicyVersion | undefined>;
  /** Every version of the tenant, newest first. */
  list(tenantId: string): Promise<StoredPolicyVersion[]>;
  /**
   * Stores a version numbered one past the tenant's highest, as a draft, or already published (the
   * active one superseded) when `publish` is given: numbering, storing and publishing are one step.
   */
  add(tenantId: string, draft: NewPolicyVersion, publish?: { by: string | null; at: number }): Promise<StoredPolicyVersion>;
  /**
   * `add` and publish, in one step, only while `replacing` is still the active version (0: none, the
   * default pack): undefined, and nothing stored, when another version became active meanwhile.
   */
  replaceActive(tenantId: string, draft: NewPolicyVersion, publish: { by: string | null; at: number }, replacing: number): Promise<StoredPolicyVersion | undefined>;
  /**
   * Makes `version` the tenant's active one and the active one superseded, in one step; an already active
   * version is left as it is. Undefined when the tenant has no such version.
   */
  publish(tenantId: string, version: number, by: string | null, at: number): Promise<StoredPolicyVersion | undefined>;
  /** The most recently published superseded version other than `except`, or undefined. */
  previousPublished(tenantId: string, except: number): Promise<number | undefined>;
}
