/**
 * Serving for real: HTTPS with the operator's certificate (re-read on SIGHUP), the client address
 * behind trusted reverse proxies, the hardened systemd unit, the container image's Dockerfile and the
 * release binaries. Servers are spawned as `bun src/cli.ts serve`; certificates are made with openssl.
 * Tools a check needs (systemd-analyze, qemu-aarch64-static) are installed by .ci/run: missing in CI is a
 * failure, elsewhere the check is skipped with the reason printed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:tls";
import { join } from "node:path";
import pkg from "../../package.json";
import { addressRanges } from "../../src/address-ranges.ts";
import { clientAddressOf } from "../../src/http/client-address.ts";
import { buildRelease, RELEASE_TARGETS } from "../../scripts/release.ts";
import { tempDir } from "../support/harness.ts";
import { CLI, REPO_ROOT, isAlive, runCli, runProcess, spawnProcess, startServer, type RunningProcess } from "../support/process.ts";

/** Debian's systemd package; qemu-user-static with libc6-arm64-cross (the AArch64 loader and glibc). */
const SYSTEMD_ANALYZE = Bun.which("systemd-analyze");
const QEMU_AARCH64 = Bun.which("qemu-aarch64-static");
const AARCH64_SYSROOT = "/usr/aarch64-linux-gnu";

/** A tool a check needs: outside CI a missing one skips the check (named in the test's title). */
function required(path: string | null, name: string): string {
  if (path === null) throw new Error(`${name} is missing: .ci/run installs it in CI`);
  return path;
}

/** A self-signed certificate for 127.0.0.1 and its key, written as `<name>.crt` and `<name>.key` in `dir`. */
function makeCertificate(dir: string, name: string): { cert: string; key: string; pem: string; fingerprint: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const made = Bun.spawnSync({
    cmd: ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${name}`, "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    stderr: "pipe",
  });
  if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
  const pem = readFileSync(cert, "utf8");
  return { cert, key, pem, fingerprint: new X509Certificate(pem).fingerprint256 };
}

/** The SHA-256 fingerprint of the certificate a TLS server on `port` presents. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    });
    socket.on("error", reject);
  });
}

/** Spawns `serve` with `args` and waits for its "listening on https://…" line. */
async function startHttps(args: string[]): Promise<RunningProcess & { url: string; port: number }> {
  const server = spawnProcess([...CLI, "serve", "--port", "0", ...args]);
  const line = await server.waitForLine((candidate) => candidate.includes("listening on https://"), 'the "listening on https://" line').catch(async (error) => {
    await server[Symbol.asyncDispose]();
    throw error;
  });
  const url = /listening on (https:\/\/\S+?:\d+)/.exec(line)![1]!;
  return Object.assign(server, { url, port: Number(new URL(url).port) });
}

describe("HTTPS", () => {
  test("serves the certificate, and on SIGHUP the new pair on the same port; a bad pair keeps the old one", async () => {
    using dir = tempDir();
    const first = makeCertificate(dir.path, "first");
    const second = makeCertificate(dir.path, "second");
    const served = { cert: join(dir.path, "served.crt"), key: join(dir.path, "served.key") };
    writeFileSync(served.cert, first.pem);
    writeFileSync(served.key, readFileSync(first.key));
    await using server = await startHttps(["--db", join(dir.path, "invoke.db"), "--tls-cert", served.cert, "--tls-key", served.key]);

    const health = await fetch(`${server.url}/healthz`, { tls: { ca: first.pem } });
    expect(health.status).toBe(200);
    expect(await servedFingerprint(server.port)).toBe(first.fingerprint);
    // Self-signed: the first certificate is its own only trust anchor.
    expect(fetch(`${server.url}/healthz`, { tls: { ca: second.pem } })).rejects.toThrow();

    writeFileSync(served.cert, second.pem);
    writeFileSync(served.key, readFileSync(second.key));
    server.kill("SIGHUP");
    await server.stderr.waitFor((line) => line.includes(`TLS certificate reloaded: ${second.fingerprint}`), "the reload line");
    expect(await servedFingerprint(server.port)).toBe(second.fingerprint);
    expect((await fetch(`${server.url}/healthz`, { tls: { ca: second.pem } })).status).toBe(200);

    // A key that does not match: logged, and the served pair stays.
    writeFileSync(served.key, readFileSync(first.key));
    server.kill("SIGHUP");
    const refused = await server.stderr.waitFor((line) => line.includes("TLS not reloaded"), "the refusal line");
    expect(refused).toContain("does not match the certificate");
    expect(await servedFingerprint(server.port)).toBe(second.fingerprint);
    expect((await fetch(`${server.url}/healthz`, { tls: { ca: second.pem } })).status).toBe(200);
  }, 30_000);

  test("the config's tls: {cert, key} serves HTTPS too", async () => {
    using dir = tempDir();
    const pair = makeCertificate(dir.path, "config");
    const config = join(dir.path, "invoke.yaml");
    writeFileSync(config, `tls:\n  cert: ${pair.cert}\n  key: ${pair.key}\n`);
    await using server = await startHttps(["--db", join(dir.path, "invoke.db"), "--config", config]);
    expect(await servedFingerprint(server.port)).toBe(pair.fingerprint);
  }, 20_000);

  test("unreadable, mismatched or half-given files stop serve with one line", async () => {
    using dir = tempDir();
    const a = makeCertificate(dir.path, "a");
    const b = makeCertificate(dir.path, "b");
    const db = join(dir.path, "invoke.db");
    const missing = await runCli(["serve", "--port", "0", "--db", db, "--tls-cert", join(dir.path, "nope.crt"), "--tls-key", a.key]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(missing.stderr).toContain("nope.crt: it does not exist");
    const mismatched = await runCli(["serve", "--port", "0", "--db", db, "--tls-cert", a.cert, "--tls-key", b.key]);
    expect(mismatched.exitCode).toBe(1);
    expect(mismatched.stderr).toContain(`the TLS key ${b.key} does not match the certificate ${a.cert}`);
    const notPem = await runCli(["serve", "--port", "0", "--db", db, "--tls-cert", a.key, "--tls-key", a.key]);
    expect(notPem.stderr).toContain("is not a PEM certificate");
    const half = await runCli(["serve", "--port", "0", "--db", db], { env: { ...process.env, INVOKE_TLS_CERT: a.cert } as Record<string, string> });
    expect(half.exitCode).toBe(2);
    expect(half.stderr).toContain("--tls-cert and --tls-key go together");
    expect(existsSync(db)).toBe(false);
  }, 30_000);
});

/** POSTs a keyless JSON-RPC ping with `headers`; the status says whether the per-address bucket had room (401) or not (429). */
async function keylessStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${url}/v1/mcp`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json", ...headers }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
  await response.body?.cancel();
  return response.status;
}

/** A server allowing 3 keyless requests per address per hour, trusting `proxies`. */
async function limitedServer(dir: string, proxies: string[]) {
  const config = join(dir, "invoke.yaml");
  writeFileSync(config, `rate_limit: {requests: 3, per_seconds: 3600}\ntrusted_proxies: ${JSON.stringify(proxies)}\nlog: {level: "off"}\n`);
  return startServer([...CLI, "serve", "--port", "0", "--db", join(dir, "invoke.db"), "--config", config]);
}

describe("trusted_proxies", () => {
  test("from an untrusted peer, forwarding headers are ignored: every request shares the peer's bucket", async () => {
    using dir = tempDir();
    await using server = await limitedServer(dir.path, ["192.0.2.10", "10.0.0.0/8"]);
    const statuses = [];
    for (let i = 1; i <= 4; i++) statuses.push(await keylessStatus(server.url, { "x-forwarded-for": `203.0.113.${i}`, forwarded: `for=198.51.100.${i}` }));
    expect(statuses).toEqual([401, 401, 401, 429]);
  }, 20_000);

  test("from a trusted peer, the right-most untrusted hop is the client: its own bucket, forged hops on its left change nothing", async () => {
    using dir = tempDir();
    await using server = await limitedServer(dir.path, ["127.0.0.0/8", "::1", "10.0.0.0/8"]);
    // Six clients behind the proxy: each has a bucket of its own, so none is limited.
    const clients = [];
    for (let i = 1; i <= 6; i++) clients.push(await keylessStatus(server.url, { "x-forwarded-for": `203.0.113.${i}` }));
    expect(clients).toEqual([401, 401, 401, 401, 401, 401]);
    // One client forging a different left-most hop each time, through a second trusted proxy (10.1.2.3): one bucket.
    const forged = [];
    for (let i = 1; i <= 4; i++) forged.push(await keylessStatus(server.url, { "x-forwarded-for": `6.6.6.${i}, 198.51.100.7, 10.1.2.3` }));
    expect(forged).toEqual([401, 401, 401, 429]);
    // RFC 7239 Forwarded, when no X-Forwarded-For is sent.
    const forwarded = [];
    for (let i = 1; i <= 4; i++) forwarded.push(await keylessStatus(server.url, { forwarded: `for=6.6.6.${i}, for="[2001:db8::7]:4711";proto=https` }));
    expect(forwarded).toEqual([401, 401, 401, 429]);
  }, 20_000);

  test("the rules on one request each", () => {
    const trusted = addressRanges(["10.0.0.0/8", "fd00::/8"]);
    const headers = (init: Record<string, string>) => new Headers(init);
    expect(clientAddressOf(undefined, headers({ "x-forwarded-for": "1.2.3.4" }), trusted)).toBeUndefined();
    expect(clientAddressOf("192.0.2.1", headers({ "x-forwarded-for": "1.2.3.4" }), trusted)).toBe("192.0.2.1");
    expect(clientAddressOf("::ffff:10.0.0.1", headers({ "x-forwarded-for": "1.2.3.4:5555" }), trusted)).toBe("1.2.3.4");
    expect(clientAddressOf("fd00::1", headers({ "x-forwarded-for": "1.2.3.4, 10.9.9.9" }), trusted)).toBe("1.2.3.4");
    // Everything trusted: the left-most hop; garbage or "unknown": the nearest address to its right.
    expect(clientAddressOf("10.0.0.1", headers({ "x-forwarded-for": "10.0.0.3, 10.0.0.2" }), trusted)).toBe("10.0.0.3");
    expect(clientAddressOf("10.0.0.1", headers({ "x-forwarded-for": "1.2.3.4, unknown, 10.0.0.2" }), trusted)).toBe("10.0.0.2");
    expect(clientAddressOf("10.0.0.1", headers({}), trusted)).toBe("10.0.0.1");
    expect(clientAddressOf("10.0.0.1", headers({ forwarded: 'for=_hidden, for="[2001:DB8::1]"' }), trusted)).toBe("2001:db8::1");
  });

  test("an entry that is no address or CIDR stops serve with one line naming it", async () => {
    using dir = tempDir();
    const config = join(dir.path, "invoke.yaml");
    writeFileSync(config, 'trusted_proxies: ["10.0.0.0/8", "proxy.internal"]\n');
    const result = await runCli(["serve", "--port", "0", "--db", join(dir.path, "invoke.db"), "--config", config]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain('/trusted_proxies/1: "proxy.internal" is not an IP address or a CIDR');
  });

  test("SIGHUP without TLS is logged and does not stop the server", async () => {
    using dir = tempDir();
    await using server = await startServer([...CLI, "serve", "--port", "0", "--db", join(dir.path, "invoke.db")]);
    server.kill("SIGHUP");
    await server.stderr.waitFor((line) => line.includes("nothing to reload"), "the SIGHUP line");
    expect(isAlive(server.pid)).toBe(true);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 20_000);
});

describe("deploy/invoke.service", () => {
  const unit = readFileSync(join(REPO_ROOT, "deploy", "invoke.service"), "utf8");
  const directives = new Map<string, string>();
  for (const line of unit.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) directives.set(match[1]!, match[2]!);
  }

  test("is hardened, and leaves MemoryDenyWriteExecute off for the JIT", () => {
    expect(directives.get("User")).toBe("invoke");
    expect(directives.get("ProtectSystem")).toBe("strict");
    expect(directives.get("ReadWritePaths")).toBe("/var/lib/invoke");
    expect(directives.get("StateDirectory")).toBe("invoke");
    expect(directives.get("NoNewPrivileges")).toBe("yes");
    expect(directives.get("PrivateTmp")).toBe("yes");
    expect(directives.get("ProtectHome")).toBe("yes");
    expect(directives.get("CapabilityBoundingSet")).toBe("");
    expect(directives.get("RestrictAddressFamilies")).toBe("AF_INET AF_INET6 AF_UNIX");
    expect(directives.get("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
    expect(directives.get("ExecStart")).toContain("--db /var/lib/invoke/");
    expect(directives.has("MemoryDenyWriteExecute")).toBe(false);
  });

  test.skipIf(SYSTEMD_ANALYZE === null && !process.env.CI)("passes systemd-analyze verify (skipped where Debian's systemd is not installed)", async () => {
    const analyze = required(SYSTEMD_ANALYZE, "systemd-analyze");
    using dir = tempDir();
    // verify checks that ExecStart's program exists: point it at one that does.
    const copy = join(dir.path, "invoke.service");
    writeFileSync(copy, unit.replaceAll("/usr/local/bin/invoke", process.execPath));
    const result = await runProcess([analyze, "verify", copy], { env: { ...process.env, SYSTEMD_LOG_COLOR: "0" } as Record<string, string> });
    expect(result.exitCode).toBe(0);
    // verify exits 0 on directives it cannot parse; it names the file on every complaint.
    expect(result.stderr.split("\n").filter((line) => line.includes("invoke.service"))).toEqual([]);
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
  const instructions = dockerfile
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((line) => /^[A-Z]+\s/.test(line));
  const stages = instructions.map((line, index) => ({ line, index })).filter(({ line }) => line.startsWith("FROM "));
  const runtime = instructions.slice(stages.at(-1)!.index);
  const last = (keyword: string) => runtime.filter((line) => line.startsWith(`${keyword} `)).at(-1);

  test("builds in one stage with npm run build and runs the binary as a non-root user in another", () => {
    expect(stages).toHaveLength(2);
    expect(stages[0]!.line).toMatch(/^FROM node:\S+ AS build$/);
    expect(instructions).toContain("RUN npm ci --no-audit --no-fund --loglevel=warn");
    expect(instructions.some((line) => line.startsWith("RUN npm run build"))).toBe(true);
    // What `npm run build` writes is what the runtime stage copies.
    const outfile = /--outfile (\S+)/.exec(pkg.scripts.build)![1]!;
    expect(runtime.some((line) => line === `COPY --from=build /src/${outfile} /usr/local/bin/invoke`)).toBe(true);
    const user = last("USER")?.slice(5).trim();
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user!.split(":")[0]!);
  });

  test("stops with SIGTERM through an init, keeps the store on a volume, exposes 8787 and checks /healthz", () => {
    expect(last("STOPSIGNAL")).toBe("STOPSIGNAL SIGTERM");
    expect(last("ENTRYPOINT")).toStartWith('ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/invoke"]');
    expect(last("VOLUME")).toBe('VOLUME ["/var/lib/invoke"]');
    expect(last("EXPOSE")).toBe("EXPOSE 8787");
    expect(last("HEALTHCHECK")).toContain("/healthz");
    expect(readFileSync(join(REPO_ROOT, ".dockerignore"), "utf8").split("\n")).toContain("node_modules");
  });

  test("its HEALTHCHECK command passes against a serving Invoke and fails without one", async () => {
    const command = JSON.parse(/CMD (\[.*\])$/.exec(last("HEALTHCHECK")!)![1]!) as string[];
    using dir = tempDir();
    await using server = await startServer([...CLI, "serve", "--port", "0", "--db", join(dir.path, "invoke.db")]);
    const port = new URL(server.url).port;
    expect((await runProcess(command, { env: { PATH: process.env.PATH ?? "", INVOKE_PORT: port } })).exitCode).toBe(0);
    server.kill("SIGTERM");
    await server.waitForExit();
    expect((await runProcess(command, { env: { PATH: process.env.PATH ?? "", INVOKE_PORT: port } })).exitCode).not.toBe(0);
  }, 20_000);
});

describe("npm run release", () => {
  let out: ReturnType<typeof tempDir>;
  let files: string[];

  beforeAll(async () => {
    out = tempDir();
    files = await buildRelease(Object.keys(RELEASE_TARGETS), out.path, () => {});
  }, 180_000);
  afterAll(() => out?.[Symbol.dispose]());

  test("SHA256SUMS lists every binary with its digest", () => {
    const lines = readFileSync(join(out.path, "SHA256SUMS"), "utf8").trimEnd().split("\n");
    expect(lines.map((line) => line.split("  ")[1])).toEqual(files);
    expect(files).toEqual(["invoke-linux-x64", "invoke-linux-arm64", "invoke-linux-x64-musl", "invoke-linux-arm64-musl", "invoke-darwin-arm64"]);
    for (const line of lines) {
      const [digest, file] = line.split("  ");
      expect(createHash("sha256").update(readFileSync(join(out.path, file!))).digest("hex")).toBe(digest!);
    }
  });

  test("each binary is for its platform", () => {
    const header = (file: string) => readFileSync(join(out.path, file)).subarray(0, 20);
    // ELF e_machine (bytes 18-19): 0x3e x86-64, 0xb7 AArch64; Mach-O 64-bit: CF FA ED FE, CPU type 0x0100000c (arm64).
    expect(header("invoke-linux-x64").readUInt16LE(18)).toBe(0x3e);
    expect(header("invoke-linux-x64-musl").readUInt16LE(18)).toBe(0x3e);
    expect(header("invoke-linux-arm64").readUInt16LE(18)).toBe(0xb7);
    expect(header("invoke-linux-arm64-musl").readUInt16LE(18)).toBe(0xb7);
    expect(header("invoke-darwin-arm64").readUInt32LE(0)).toBe(0xfeedfacf);
    expect(header("invoke-darwin-arm64").readUInt32LE(4)).toBe(0x0100000c);
  });

  test.if(process.platform === "linux" && process.arch === "x64")("the linux-x64 binary answers version", async () => {
    const result = await runProcess([join(out.path, "invoke-linux-x64"), "version"]);
    expect(result.stdout.trim()).toBe(`invoke ${pkg.version}`);
  });

  test.skipIf(QEMU_AARCH64 === null && !process.env.CI)("the linux-arm64 binary answers version under qemu (skipped where qemu-user-static is not installed)", async () => {
    const qemu = required(QEMU_AARCH64, "qemu-aarch64-static");
    expect(existsSync(join(AARCH64_SYSROOT, "lib", "ld-linux-aarch64.so.1"))).toBe(true);
    const result = await runProcess([qemu, "-L", AARCH64_SYSROOT, join(out.path, "invoke-linux-arm64"), "version"], { timeoutMs: 60_000 });
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe(`invoke ${pkg.version}`);
  }, 70_000);
});
