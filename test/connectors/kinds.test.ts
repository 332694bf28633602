/** Connector kinds: start-up loads no connector client; each kind loads its own on first use. */
import { expect, it } from "bun:test";
import { join } from "node:path";

const SRC = join(import.meta.dir, "../../src");
const CLIENTS = /\/src\/connectors\/(mcp|database|postgres-engine|sqlite-engine)\.ts$/;

/** The connector client modules loaded after `script` ran in a fresh process. */
async function clientsLoadedBy(script: string): Promise<string[]> {
  const code = `${script}\nconsole.log(JSON.stringify(Object.keys(require.cache).filter((path) => ${CLIENTS}.test(path)).map((path) => path.slice(path.lastIndexOf("/") + 1)).sort()));`;
  const child = Bun.spawn([process.execPath, "-e", code], { cwd: SRC, stdout: "pipe", stderr: "inherit" });
  const out = await new Response(child.stdout).text();
  expect(await child.exited).toBe(0);
  return JSON.parse(out);
}

it("loads no connector client when the services are wired", async () => {
  expect(await clientsLoadedBy(`await import(${JSON.stringify(join(SRC, "services.ts"))});`)).toEqual([]);
});

it("loads a kind's client when a connector of that kind is created, and only that one", async () => {
  const create = `const { kindOf } = await import(${JSON.stringify(join(SRC, "connectors/model.ts"))});
const spec = { type: "mcp_http", url: "http://127.0.0.1:1/mcp" };
await kindOf(spec).create("up", spec, { log() {} });`;
  expect(await clientsLoadedBy(create)).toEqual(["mcp.ts"]);
});
