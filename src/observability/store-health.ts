/** What readiness asks of the store: whether it takes writes now, and whether it is migrated to the schema this build writes. */

/** The store's state at one moment. */
export interface StoreState {
  /** The schema version the store has (null when it cannot be read). */
  schemaVersion: number | null;
  /** The schema version this build writes. */
  expectedSchemaVersion: number;
  /** Whether it takes writes (what every recorded call needs), with why not. */
  writable: boolean;
  detail?: string;
}

/** The store's health check. */
export interface StoreHealth {
  state(): Promise<StoreState>;
}
