// The talosconfig as talosctl writes it, endpoints as talosctl takes them, and which Talos API a
// command picks from its flags and environment.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTalosconfig, TalosconfigError } from "../../src/talos/talosconfig";
import { EndpointError, parseEndpoint } from "../../src/talos/target";
import { ConnectFlagError, NoTalosApiError, resolveTarget } from "../../src/talos/connect";
import { makeTestPki, talosconfigText, type TestPki } from "./talos-api/certs";

let pki: TestPki;
let dir: string;

beforeAll(() => {
  pki = makeTestPki();
  dir = mkdtempSync(join(tmpdir(), "fos1-talosconfig-"));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (b: Buffer) => b.toString("base64");

function problem(text: string, context?: string): string {
  try {
    parseTalosconfig(text, "talosconfig", context);
  } catch (err) {
    if (err instanceof TalosconfigError) return err.message;
    throw err;
  }
  throw new Error("parsed without a problem");
}

describe("parseTalosconfig", () => {
  test("the current context: endpoints, nodes, and the PEM with Talos's Ed25519 key label made PKCS#8's", () => {
    const text = talosconfigText("router", {
      router: { endpoints: ["192.168.99.1"], nodes: ["192.168.99.1"], ca: pki.ca.cert, client: pki.client },
      other: { endpoints: ["10.0.0.1"], ca: pki.otherCa.cert, client: pki.otherClient },
    });
    expect(text).toContain(b64(Buffer.from("-----BEGIN ED25519 PRIVATE KEY-----")).slice(0, 40));
    const ctx = parseTalosconfig(text, "talosconfig");
    expect(ctx.name).toBe("router");
    expect(ctx.endpoints).toEqual(["192.168.99.1"]);
    expect(ctx.nodes).toEqual(["192.168.99.1"]);
    expect(ctx.tls.ca.equals(pki.ca.cert)).toBe(true);
    expect(ctx.tls.cert.equals(pki.client.cert)).toBe(true);
    expect(ctx.tls.key.equals(pki.client.key)).toBe(true);
  });

  test("--context picks another one; nodes may be left out", () => {
    const text = talosconfigText("router", {
      router: { endpoints: ["192.168.99.1"], ca: pki.ca.cert, client: pki.client },
      lab: { endpoints: ["10.0.0.1:50001"], ca: pki.otherCa.cert, client: pki.otherClient },
    });
    const ctx = parseTalosconfig(text, "talosconfig", "lab");
    expect(ctx).toMatchObject({ name: "lab", endpoints: ["10.0.0.1:50001"], nodes: [] });
  });

  const base = (extra: string) =>
    `context: router\ncontexts:\n  router:\n    endpoints: [192.168.99.1]\n    ca: ${b64(pki.ca.cert)}\n    crt: ${b64(pki.client.cert)}\n${extra}`;

  test("each problem names file, line:col and field", () => {
    expect(problem("context: [")).toMatch(/^talosconfig:1:\d+: not valid YAML/);
    expect(problem("context: router\n")).toBe("talosconfig:1:1: contexts: no contexts: the file needs contexts.<name> with endpoints, ca, crt and key");
    expect(problem(base(`    key: ${b64(pki.client.key)}\n`).replace("context: router", "context: lab"))).toBe(
      'talosconfig:1:10: context: names context "lab", which the file does not have; contexts in the file: router',
    );
    expect(problem(base(`    key: ${b64(pki.client.key)}\n`), "lab")).toBe('talosconfig:1:1: no context "lab"; contexts in the file: router');
    expect(problem(base(`    key: ${b64(pki.client.key)}\n`).replace("[192.168.99.1]", "[]"))).toBe(
      "talosconfig:4:16: contexts.router.endpoints: a list of at least one apid address is needed (e.g. [192.168.1.1]), or give -e ENDPOINT",
    );
    expect(problem(base(""))).toBe("talosconfig:4:5: contexts.router.key: missing: the base64 of the private key");
    expect(problem(base("    key: '******'\n"))).toBe("talosconfig:7:10: contexts.router.key: is redacted; use the talosconfig with its secrets");
    expect(problem(base("    key: not base64!\n"))).toBe("talosconfig:7:10: contexts.router.key: is not base64 (talosctl writes the private key base64-encoded)");
    expect(problem(base(`    key: ${b64(pki.client.cert)}\n`))).toBe("talosconfig:7:10: contexts.router.key: does not decode to a PEM private key");
  });

  test("an Omni context (auth instead of a client certificate) is refused with the reason", () => {
    expect(problem(base("    auth: {siderov1: {identity: me@example.com}}\n"))).toContain('this context authenticates with "auth" (Omni), which fos1 does not speak');
  });
});

describe("parseEndpoint", () => {
  test.each([
    ["192.168.1.1", { host: "192.168.1.1", port: 50000 }],
    ["192.168.1.1:50001", { host: "192.168.1.1", port: 50001 }],
    ["router.lan", { host: "router.lan", port: 50000 }],
    ["fd00::1", { host: "fd00::1", port: 50000 }],
    ["[fd00::1]:443", { host: "fd00::1", port: 443 }],
  ])("%s", (text, expected) => expect(parseEndpoint(text)).toEqual(expected));

  test.each(["https://10.0.0.1", "10.0.0.1:0", "10.0.0.1:70000", "[10.0.0.1]:50000", "a b", ""])("%p is refused with what is allowed", (text) => {
    expect(() => parseEndpoint(text)).toThrow(EndpointError);
    expect(() => parseEndpoint(text)).toThrow(/give an address or name, optionally with a port/);
  });
});

describe("resolveTarget", () => {
  test("--socket is machined on this node, and does not mix with apid's flags", async () => {
    expect(await resolveTarget({ socket: "/run/m.sock" }, {})).toEqual({ kind: "socket", path: "/run/m.sock" });
    expect(resolveTarget({ socket: "/run/m.sock", endpoint: "10.0.0.1" }, {})).rejects.toThrow(ConnectFlagError);
    expect(resolveTarget({ socket: "m.sock" }, {})).rejects.toThrow("--socket takes an absolute path");
  });

  test("the talosconfig of $TALOSCONFIG, with -e and -n overriding its endpoints and nodes", async () => {
    const file = join(dir, "config");
    writeFileSync(file, talosconfigText("router", { router: { endpoints: ["192.168.99.1", "192.168.99.2"], nodes: ["192.168.99.1"], ca: pki.ca.cert, client: pki.client } }));
    const fromFile = await resolveTarget({}, { TALOSCONFIG: file });
    expect(fromFile).toMatchObject({ kind: "apid", host: "192.168.99.1", port: 50000, nodes: ["192.168.99.1"], credentialsFrom: `context "router" of ${file}` });
    const overridden = await resolveTarget({ talosconfig: file, endpoint: "[fd00::1]:50001", nodes: "a,b" }, {});
    expect(overridden).toMatchObject({ kind: "apid", host: "fd00::1", port: 50001, nodes: ["a", "b"] });
    expect(resolveTarget({ talosconfig: file, nodes: "a,,b" }, {})).rejects.toThrow("-n takes node addresses or names separated by commas");
  });

  test("~/.talos/config by default; neither it nor machined's socket: says what to give", async () => {
    const home = mkdtempSync(join(dir, "home-"));
    const err = await resolveTarget({}, { HOME: home }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoTalosApiError);
    expect((err as Error).message).toContain(`no talosconfig at ${join(home, ".talos", "config")}`);
    expect(resolveTarget({ talosconfig: join(home, "absent") }, {})).rejects.toThrow(`cannot read talosconfig ${join(home, "absent")}: no such file`);
  });
});
