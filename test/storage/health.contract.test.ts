/** The store's own contract: a freshly opened store takes writes and has the schema this build writes (what readiness reports). */
import { expect, it } from "bun:test";
import { describeStores } from "./contract.ts";

describeStores("health", (open) => {
  it("reports a fresh store writable and migrated", async () => {
    const store = open();
    try {
      const state = await store.repositories.storeHealth.state();
      expect(state).toEqual({ schemaVersion: state.expectedSchemaVersion, expectedSchemaVersion: expect.any(Number), writable: true });
      expect(state.expectedSchemaVersion).toBeGreaterThan(0);
    } finally {
      store.close();
    }
  });
});
