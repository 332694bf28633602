/** `invoke brain import` for JSON Lines and CSV: summaries, idempotence, all-or-nothing refusals naming the line. */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { tempDir } from "../support/harness.ts";
import { CLI, initDatabase, runCli } from "../support/process.ts";

function counts(db: string): { entities: number; relations: number } {
  const sqlite = new Database(db, { readonly: true });
  try {
    return sqlite.query("SELECT (SELECT count(*) FROM brain_entities) AS entities, (SELECT count(*) FROM brain_relations) AS relations").get() as never;
  } finally {
    sqlite.close();
  }
}

describe("invoke brain import", () => {
  test("imports CSV files with relations by key column, and re-importing changes nothing", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    await Bun.write(join(dir.path, "customers.csv"), "key,name,industry\nC1,Acme Corp,steel\nC2,Beta LLC,\n");
    await Bun.write(join(dir.path, "invoices.csv"), "key,name,amount,customer_key\nI1,Invoice 1,100,C1\nI2,Invoice 2,200,C1\nI3,Invoice 3,50,\n");
    expect((await runCli(["brain", "import", join(dir.path, "customers.csv"), "--type", "customer", "--db", db])).stdout).toContain("2 inserted");
    const invoices = ["brain", "import", join(dir.path, "invoices.csv"), "--type", "invoice", "--relations", "customer_key=customer:billed_by", "--db", db, "--json"];
    const first = JSON.parse((await runCli(invoices)).stdout);
    expect(first).toMatchObject({ entities: { inserted: 3 }, relations: { added: 2 }, skipped: [{ line: 4 }] });
    const again = JSON.parse((await runCli(invoices)).stdout);
    expect(again).toMatchObject({ entities: { inserted: 0, updated: 0, unchanged: 3 }, relations: { added: 0 } });
    expect(counts(db)).toEqual({ entities: 5, relations: 2 });
  });

  test("imports JSON Lines with entities and relations", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    const file = join(dir.path, "export.jsonl");
    await Bun.write(
      file,
      [
        '{"type":"customer","key":"C1","name":"Acme","attributes":{"tier":"gold"}}',
        "",
        '{"type":"contact","key":"P1","name":"Wile"}',
        '{"from":{"type":"contact","key":"P1"},"relation":"works_at","to":{"type":"customer","key":"C1"}}',
        '{"type":"contact","key":"P1","name":"Wile E. Coyote"}',
      ].join("\n"),
    );
    const result = await runCli(["brain", "import", file, "--db", db, "--json"]);
    expect(JSON.parse(result.stdout)).toMatchObject({ entities: { inserted: 2 }, relations: { added: 1 }, skipped: [{ line: 3, reason: "superseded by line 5 (same type and key)" }] });
    const sqlite = new Database(db, { readonly: true });
    expect(sqlite.query("SELECT name FROM brain_entities WHERE key = 'P1'").get()).toEqual({ name: "Wile E. Coyote" });
    sqlite.close();
  });

  test.each([
    ["a line that is not JSON", "bad.jsonl", '{"type":"customer","key":"C1","name":"A"}\n{oops\n', [], "line 2: not valid JSON"],
    ["an entity without a key", "bad.jsonl", '{"type":"customer","key":"C1","name":"A"}\n{"type":"customer","name":"B"}\n', [], "line 2: entity /key"],
    ["a relation to a missing entity", "bad.csv", "key,name,customer_key\nI1,Inv,NOPE\n", ["--type", "invoice", "--relations", "customer_key=customer:billed_by"], "no customer with key NOPE"],
    ["a CSV row without a name", "bad.csv", "key,name\nK1,\n", ["--type", "customer"], "line 2: /name"],
  ])("refuses %s, naming it, and applies nothing of the file", async (_name, fileName, content, extra, message) => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    const file = join(dir.path, fileName);
    await Bun.write(file, content);
    const result = await runCli(["brain", "import", file, ...extra, "--db", db]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain("nothing imported");
    expect(counts(db)).toEqual({ entities: 0, relations: 0 });
  });

  test.each([
    [["brain", "import"], "FILE"],
    [["brain", "import", "x.csv"], "--type"],
    [["brain", "import", "x.csv", "--type", "invoice", "--relations", "customer_key"], "COLUMN=TYPE:RELATION"],
  ])("%j is a usage error", async (args, fragment) => {
    const result = await runCli(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(fragment);
  });
});
