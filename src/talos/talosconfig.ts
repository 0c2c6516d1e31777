// The talosconfig file talosctl writes (YAML): the current `context`, and `contexts.<name>` with
// `endpoints` (apid addresses), `nodes` (where requests go), and `ca`, `crt`, `key` — base64 of
// the PEM of the cluster's OS CA and of a client certificate and its key. Parsing is pure; every
// problem names the file, line:col and field.
import { homedir } from "node:os";
import { join } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { locate, formatPath, type FieldPath } from "../api/problems";
import type { ClientTls } from "./target";
import { yamlErrorText } from "./yaml-error";

export interface TalosContext {
  name: string;
  endpoints: string[];
  nodes: string[];
  tls: ClientTls;
}

export class TalosconfigError extends Error {}

/** Where talosctl looks: $TALOSCONFIG, else ~/.talos/config. */
export function defaultTalosconfigPath(env: Record<string, string | undefined> = process.env): string {
  return env.TALOSCONFIG || join(env.HOME || homedir(), ".talos", "config");
}

/** The context `name` (else the file's current one) of a talosconfig's text. */
export function parseTalosconfig(text: string, file: string, name?: string): TalosContext {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const source = { file, document: 1, doc, lineCounter };
  const fail = (path: FieldPath, message: string): never => {
    const at = locate(source, path);
    throw new TalosconfigError(`${[file, at?.line, at?.col].filter((x) => x !== undefined).join(":")}: ${path.length ? `${formatPath(path)}: ` : ""}${message}`);
  };
  if (doc.errors.length) {
    const pos = lineCounter.linePos(doc.errors[0]!.pos[0]);
    throw new TalosconfigError(`${file}:${pos.line}:${pos.col}: not valid YAML: ${yamlErrorText(doc.errors[0]!)}`);
  }
  const config = doc.toJS() as unknown;
  if (!isRecord(config)) return fail([], "a talosconfig is a mapping with context and contexts (as talosctl writes it)");
  const contexts = config.contexts;
  if (!isRecord(contexts) || !Object.keys(contexts).length) return fail(["contexts"], "no contexts: the file needs contexts.<name> with endpoints, ca, crt and key");
  const chosen = name ?? config.context;
  if (typeof chosen !== "string" || !chosen) return fail(["context"], `no current context; pick one with --context (contexts: ${Object.keys(contexts).join(", ")})`);
  const context = contexts[chosen];
  if (!isRecord(context)) {
    const known = `contexts in the file: ${Object.keys(contexts).join(", ")}`;
    return name === undefined ? fail(["context"], `names context "${chosen}", which the file does not have; ${known}`) : fail([], `no context "${chosen}"; ${known}`);
  }
  const at = (...path: FieldPath): FieldPath => ["contexts", chosen, ...path];
  const endpoints = stringList(context.endpoints);
  if (!endpoints?.length) return fail(at("endpoints"), "a list of at least one apid address is needed (e.g. [192.168.1.1]), or give -e ENDPOINT");
  const nodes = context.nodes === undefined ? [] : stringList(context.nodes);
  if (!nodes) return fail(at("nodes"), "must be a list of node addresses or names");
  const pem = (field: "ca" | "crt" | "key", kind: RegExp, what: string): Buffer => {
    const value = context[field];
    if (typeof value !== "string" || !value) {
      if (field !== "ca" && isRecord(context.auth)) return fail(at(field), `missing: this context authenticates with "auth" (Omni), which fos1 does not speak; use a talosconfig with a client certificate`);
      return fail(at(field), `missing: the base64 of the ${what}`);
    }
    if (/^\*+$/.test(value)) return fail(at(field), "is redacted; use the talosconfig with its secrets");
    if (!/^[A-Za-z0-9+/=\s]+$/.test(value)) return fail(at(field), `is not base64 (talosctl writes the ${what} base64-encoded)`);
    const decoded = Buffer.from(value, "base64");
    if (!kind.test(decoded.toString("latin1"))) return fail(at(field), `does not decode to a PEM ${what}`);
    return decoded;
  };
  const ca = pem("ca", /-----BEGIN CERTIFICATE-----/, "CA certificate");
  const cert = pem("crt", /-----BEGIN CERTIFICATE-----/, "client certificate");
  const key = pem("key", /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/, "private key");
  return { name: chosen, endpoints, nodes, tls: { ca, cert, key: asPkcs8Label(key) } };
}

// Talos writes its Ed25519 keys as PKCS#8 under the label "ED25519 PRIVATE KEY", which Go reads
// but OpenSSL/BoringSSL do not: the same bytes under the standard PKCS#8 label.
function asPkcs8Label(pem: Buffer): Buffer {
  return Buffer.from(pem.toString("latin1").replace(/-----(BEGIN|END) ED25519 PRIVATE KEY-----/g, "-----$1 PRIVATE KEY-----"), "latin1");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === "string" && x.length > 0) ? (v as string[]) : undefined;
}
