// The pure parts of the agent's credential: machined's .tar.gz (src/talos/kubeconfig-archive.ts),
// the TokenRequest and its answer, the renewal time (src/cluster/agent-token.ts), and
// `fos1 agent`'s flags for reaching the cluster.
import { describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { CredentialError, issuedToken, renewalTime, tokenRequest } from "../../src/cluster/agent-token";
import { kubeconfigFromArchive, KubeconfigArchiveError } from "../../src/talos/kubeconfig-archive";
import { fos1 } from "../helpers/fos1";

/** One ustar entry as Go's archive/tar writes machined's (name, size, type 0), then the end blocks. */
function ustar(name: string, content: string, type = "0"): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write("0000600\0", 100);
  header.write(`${Buffer.byteLength(content).toString(8).padStart(11, "0")}\0`, 124);
  header.write(type, 156);
  header.write("ustar\x0000", 257);
  const body = Buffer.alloc(Math.ceil(Buffer.byteLength(content) / 512) * 512);
  body.write(content);
  return Buffer.concat([header, body]);
}
const archive = (...entries: Buffer[]) => gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]));

describe("machined's kubeconfig archive", () => {
  test("the file named kubeconfig, after any other entry", () => {
    expect(kubeconfigFromArchive(archive(ustar("README", "x".repeat(600)), ustar("kubeconfig", "apiVersion: v1\n")))).toBe("apiVersion: v1\n");
  });

  test("not gzip, or no kubeconfig in it: a clear error that quotes nothing of the content", () => {
    expect(() => kubeconfigFromArchive(Buffer.from("apiVersion: v1"))).toThrow(KubeconfigArchiveError);
    expect(() => kubeconfigFromArchive(Buffer.from("apiVersion: v1"))).toThrow(/not gzip/);
    expect(() => kubeconfigFromArchive(archive(ustar("other", "secret-key")))).toThrow("machined's Kubeconfig answer is not a .tar.gz holding a file named kubeconfig: no such file in it");
  });
});

describe("the token", () => {
  const at = Date.parse("2026-03-01T00:00:00Z");

  test("asks for the lifetime given, never under kube-apiserver's 10 minutes", () => {
    expect(tokenRequest(3600).spec).toEqual({ audiences: [], expirationSeconds: 3600 });
    expect(() => tokenRequest(60)).toThrow("at least 600");
  });

  test("is renewed at 80% of the lifetime the server gave, not the one asked for", () => {
    const t = issuedToken({ token: "t", expirationTimestamp: new Date(at + 1000_000) }, at);
    expect(renewalTime(t)).toBe(at + 800_000);
  });

  test("an answer without a token or expiry, or already expired by this clock, is an error", () => {
    expect(() => issuedToken({ expirationTimestamp: new Date(at + 1000) }, at)).toThrow(CredentialError);
    expect(() => issuedToken({ token: "t" }, at)).toThrow("no expirationTimestamp");
    expect(() => issuedToken({ token: "t", expirationTimestamp: new Date(at - 1000) }, at)).toThrow("check the clocks");
  });
});

describe("fos1 agent's flags for the cluster", () => {
  test.each([
    [["--cluster", "talos", "--kubeconfig", "k"], "give one"],
    [["--cluster", "aws"], "--cluster takes talos"],
    [["--talos-socket", "/x.sock"], "it needs --cluster talos"],
    [["--cluster", "talos", "--talos-socket", "x.sock"], "absolute path"],
    [["--node", "r1"], "it needs --kubeconfig FILE or --cluster talos"],
  ])("%p is refused before anything starts", async (args, message) => {
    const r = await fos1(["agent", "-f", "/nonexistent.yaml", ...args]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
