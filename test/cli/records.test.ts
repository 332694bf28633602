/**
 * Every admin change made with the CLI leaves an execution record, as the same change over REST
 * does, naming the operating-system user who made it; `invoke executions export` shows them all.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { tempDir } from "../support/harness.ts";
import { CLI, initDatabase, runCli } from "../support/process.ts";

describe("CLI admin changes", () => {
  test("appear in invoke executions export with the operating-system user", async () => {
    using dir = tempDir();
    const db = ["--db", join(dir.path, "invoke.db")];
    await initDatabase(CLI, db);
    const policy = join(dir.path, "policy.yaml");
    writeFileSync(policy, "version: 1\nrules:\n  - {id: r, effect: deny, reason: r, match: {action: a.b}}\n");
    const data = join(dir.path, "brain.jsonl");
    writeFileSync(data, `${JSON.stringify({ type: "customer", key: "acme", name: "Acme" })}\n`);
    const changes: string[][] = [
      ["users", "create", "ops@example.com", "--role", "admin"],
      ["keys", "create", "--user", "ops@example.com", "--name", "ops", "--profile", "admin"],
      ["policy", "publish", policy],
      ["policy", "rollback"],
      ["brain", "import", data],
      ["groups", "create", "finance"],
    ];
    for (const args of changes) expect({ args, code: (await runCli([...args, ...db])).exitCode }).toEqual({ args, code: 0 });
    const exported = (await runCli(["executions", "export", ...db])).stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { kind?: string; tool?: string; client_name?: string | null; status?: string });
    const mutations = exported.filter((record) => record.kind === "admin_mutation");
    expect(mutations.map((record) => record.tool)).toEqual(
      expect.arrayContaining(["POST /v1/beta/users", "POST /v1/beta/users/:userId/keys", "POST /v1/policies", "POST /v1/policies/rollback", "invoke brain import", "POST /v1/beta/groups"]),
    );
    for (const record of mutations) expect(record.client_name).toContain(`as ${userInfo().username}`);
    expect(mutations.every((record) => record.status === "ok")).toBe(true);
  });
});
