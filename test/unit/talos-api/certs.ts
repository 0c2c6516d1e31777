// Certificates for the tests, made with openssl the way Talos makes its own: an Ed25519 OS CA,
// apid's server certificate (SAN IP 127.0.0.1) and an os:admin client certificate from it, plus
// a second, unrelated CA with a client certificate of its own (another cluster's).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";

export interface Pem {
  cert: Buffer;
  key: Buffer;
}

export interface TestPki {
  ca: Pem;
  server: Pem;
  client: Pem;
  /** Another cluster: a CA and a client certificate it issued. */
  otherCa: Pem;
  otherClient: Pem;
}

function openssl(dir: string, args: string[]) {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr.toString()}`);
}

function makeCa(dir: string, name: string, organization: string): Pem {
  openssl(dir, ["genpkey", "-algorithm", "ed25519", "-out", `${name}.key`]);
  openssl(dir, ["req", "-x509", "-new", "-key", `${name}.key`, "-subj", `/O=${organization}`, "-days", "1", "-out", `${name}.crt`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature"]);
  return { cert: readFileSync(join(dir, `${name}.crt`)), key: readFileSync(join(dir, `${name}.key`)) };
}

function issue(dir: string, ca: string, name: string, subject: string, extensions: string): Pem {
  openssl(dir, ["genpkey", "-algorithm", "ed25519", "-out", `${name}.key`]);
  openssl(dir, ["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-days", "1", "-extfile", `${name}.ext`, "-out", `${name}.crt`]);
  return { cert: readFileSync(join(dir, `${name}.crt`)), key: readFileSync(join(dir, `${name}.key`)) };
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "fos1-talos-pki-"));
  try {
    const ca = makeCa(dir, "ca", "talos");
    const server = issue(dir, "ca", "apid", "/CN=apid", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    const client = issue(dir, "ca", "admin", "/O=os:admin", "extendedKeyUsage=clientAuth\n");
    const otherCa = makeCa(dir, "other-ca", "another-cluster");
    const otherClient = issue(dir, "other-ca", "other-admin", "/O=os:admin", "extendedKeyUsage=clientAuth\n");
    return { ca, server, client, otherCa, otherClient };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Talos's label for a PKCS#8 Ed25519 key, as talosctl writes it into a talosconfig. */
export function talosKeyPem(pkcs8: Buffer): Buffer {
  return Buffer.from(pkcs8.toString().replace(/-----(BEGIN|END) PRIVATE KEY-----/g, "-----$1 ED25519 PRIVATE KEY-----"));
}

export interface ContextSpec {
  endpoints: string[];
  nodes?: string[];
  ca: Buffer;
  client: Pem;
}

/** A talosconfig as talosctl writes it: base64 PEM, the key under Talos's Ed25519 label. */
export function talosconfigText(current: string, contexts: Record<string, ContextSpec>): string {
  const b64 = (b: Buffer) => b.toString("base64");
  return stringify({
    context: current,
    contexts: Object.fromEntries(
      Object.entries(contexts).map(([name, c]) => [
        name,
        { endpoints: c.endpoints, ...(c.nodes ? { nodes: c.nodes } : {}), ca: b64(c.ca), crt: b64(c.client.cert), key: b64(talosKeyPem(c.client.key)) },
      ]),
    ),
  });
}
