/**
 * The secret values of each tenant's connectors (passwords, header values, secret environment values),
 * so that an argument, error or log line holding one is redacted even when nothing about its shape
 * says "secret". Kept per tenant: redacting another tenant's value would tell a reader it is one.
 * Values are only added while the process runs (a removed connector's old secrets stay hidden).
 */

/** Each tenant's known secret values. */
export class KnownSecrets {
  private readonly byTenant = new Map<string, Set<string>>();
  private readonly lists = new Map<string, readonly string[]>();
  private everyone: readonly string[] | undefined;

  /** Remembers `values` as secrets of `tenantId`. */
  add(tenantId: string, values: Iterable<string>): void {
    let set = this.byTenant.get(tenantId);
    for (const value of values) {
      if (value.length === 0) continue;
      if (set === undefined) this.byTenant.set(tenantId, (set = new Set()));
      if (set.has(value)) continue;
      set.add(value);
      this.lists.delete(tenantId);
      this.everyone = undefined;
    }
  }

  /** The tenant's secrets, longest first (so a longer secret is replaced before a shorter one inside it). */
  of(tenantId: string): readonly string[] {
    let list = this.lists.get(tenantId);
    if (list === undefined) {
      list = [...(this.byTenant.get(tenantId) ?? [])].sort((a, b) => b.length - a.length);
      this.lists.set(tenantId, list);
    }
    return list;
  }

  /** Every tenant's secrets: for the operator's logs, which belong to no tenant. */
  all(): readonly string[] {
    this.everyone ??= [...new Set([...this.byTenant.values()].flatMap((set) => [...set]))].sort((a, b) => b.length - a.length);
    return this.everyone;
  }
}
