// The rules Talos applies to a system extension before it installs it, as its source states
// them at release v1.13.9 (pkg/machinery/extensions: load.go, validate.go, extensions.go, and
// services/services.go for the extension service spec). Pure: the caller reads the files.
// Stricter than Talos in two places, both on purpose: unknown fields are errors (Talos's
// decoder ignores them, so a typo would silently do nothing), and the world-writable check
// really looks at permission bits (Talos's walk tests fs.DirEntry.Type(), which carries none).
import { parse as parseYaml } from "yaml";

/** The Talos release these rules were read from, and the one fos1's image is built on. */
export const TALOS_RELEASE = "v1.13.9";

/** Where files of an extension's rootfs may live (extensions.go, AllowedPaths). */
export const ALLOWED_PATHS = [
  "/etc/cri/conf.d",
  "/usr/lib/firmware",
  "/usr/lib/modules",
  "/usr/lib/ld-linux-x86-64.so.2",
  "/usr/lib/ld-linux-aarch64.so.1",
  "/usr/bin/ldconfig",
  "/etc/ld.so.conf",
  "/etc/ld.so.cache",
  "/usr/bin/nvidia-modprobe",
  "/usr/bin/nvidia-pcc",
  "/usr/bin/nvidia-smi",
  "/usr/bin/nvidia-ctk",
  "/usr/bin/nvidia-cdi-hook",
  "/usr/bin/nvme",
  "/usr/lib/udev/rules.d",
  "/usr/local",
  "/usr/share/glvnd",
  "/usr/share/egl",
  "/etc/vulkan",
];

export type EntryType = "directory" | "file" | "symlink" | "special";

/** One entry of the rootfs, as lstat sees it; path is absolute inside the rootfs ("/usr/…"). */
export interface RootfsEntry {
  path: string;
  type: EntryType;
  /** Permission bits (mode & 0o7777). */
  mode: number;
}

export interface Problem {
  /** The file the problem is in, or the rootfs path it is about. */
  where: string;
  message: string;
}

// ---- rootfs contents (validate.go, validateContents)

export function checkContents(entries: RootfsEntry[]): Problem[] {
  const problems: Problem[] = [];
  for (const e of entries) {
    // A symlink's own mode is always 0777 on Linux and means nothing.
    if (e.type !== "symlink" && e.mode & 0o002) problems.push({ where: e.path, message: `is world-writable (mode ${e.mode.toString(8).padStart(4, "0")}); Talos allows no world-writable file or directory` });
    if (e.type === "special") problems.push({ where: e.path, message: "is a special file (device, socket or fifo); Talos allows only directories, regular files and symlinks" });
    if (e.type !== "directory" && !ALLOWED_PATHS.some((p) => e.path === p || e.path.startsWith(`${p}/`))) {
      problems.push({ where: e.path, message: `is outside the paths Talos allows in an extension (${ALLOWED_PATHS.join(", ")})` });
    }
  }
  return problems;
}

// ---- manifest.yaml (load.go, metadata.go, validate.go validateConstraints)

export function checkManifest(text: string, talosVersion: string, file = "manifest.yaml"): Problem[] {
  const problems: Problem[] = [];
  const add = (message: string) => problems.push({ where: file, message });
  const doc = parseMapping(text, add);
  if (!doc) return problems;
  unknownKeys(doc, ["version", "metadata"], "", add);
  if (doc.version !== "v1alpha1") add(`version must be "v1alpha1" (the only manifest version Talos reads); got ${JSON.stringify(doc.version)}`);
  const meta = doc.metadata;
  if (!isMapping(meta)) {
    add("metadata must be a mapping with name, version, author, description and compatibility");
    return problems;
  }
  unknownKeys(meta, ["name", "version", "author", "description", "compatibility", "extraInfo"], "metadata.", add);
  for (const key of ["name", "version", "author", "description"]) {
    if (typeof meta[key] !== "string" || meta[key] === "") add(`metadata.${key} must be a non-empty string`);
  }
  const constraint = isMapping(meta.compatibility) && isMapping(meta.compatibility.talos) ? meta.compatibility.talos.version : undefined;
  if (typeof constraint !== "string" || constraint === "") {
    add("metadata.compatibility.talos.version must be a version constraint such as \">= v1.13.0\"");
    return problems;
  }
  const range = parseRange(constraint);
  if (typeof range === "string") add(`metadata.compatibility.talos.version: ${range}`);
  else if (!range(parseVersion(talosVersion) ?? [0, 0, 0])) add(`metadata.compatibility.talos.version "${constraint}" excludes Talos ${talosVersion}, the release fos1 is built for`);
  return problems;
}

// ---- the extension service spec (services/services.go, Spec.Validate)

const RESTART_KINDS = ["always", "never", "untilSuccess"];
const NETWORK_STATUSES = ["addresses", "connectivity", "hostname", "etcfiles"];
const SERVICE_NAME = /^[-_a-z0-9]+$/;

/** fileName is the spec's base name without .yaml: Talos names the service after the file. */
export function checkServiceSpec(text: string, fileName: string, file: string): Problem[] {
  const problems: Problem[] = [];
  const add = (message: string) => problems.push({ where: file, message });
  const doc = parseMapping(text, add);
  if (!doc) return problems;
  unknownKeys(doc, ["name", "container", "depends", "restart", "logToConsole"], "", add);
  if (typeof doc.name !== "string" || !SERVICE_NAME.test(doc.name)) add(`name must match [-_a-z0-9]+; got ${JSON.stringify(doc.name)}`);
  else if (doc.name !== fileName) add(`name "${doc.name}" must be the file's name "${fileName}" (its root is usr/local/lib/containers/${fileName})`);
  if (!RESTART_KINDS.includes(doc.restart as string)) add(`restart must be one of ${RESTART_KINDS.join(", ")}; got ${JSON.stringify(doc.restart)}`);
  checkContainer(doc.container, add);
  if (doc.depends !== undefined) {
    if (!Array.isArray(doc.depends)) add("depends must be a list");
    else doc.depends.forEach((d, i) => checkDependency(d, `depends[${i}]`, add));
  }
  return problems;
}

function checkContainer(c: unknown, add: (m: string) => void): void {
  if (!isMapping(c)) {
    add("container must be a mapping with at least entrypoint");
    return;
  }
  unknownKeys(c, ["entrypoint", "environment", "environmentFile", "args", "mounts", "security"], "container.", add);
  if (typeof c.entrypoint !== "string" || c.entrypoint === "") add("container.entrypoint must be the path of the program inside the service's root");
  if (c.args !== undefined && !isStringList(c.args)) add("container.args must be a list of strings");
  if (c.environment !== undefined && (!isStringList(c.environment) || c.environment.some((e) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(e)))) add("container.environment must be a list of KEY=value strings");
  if (c.mounts !== undefined) {
    if (!Array.isArray(c.mounts)) add("container.mounts must be a list");
    else c.mounts.forEach((m, i) => checkMount(m, `container.mounts[${i}]`, add));
  }
  if (c.security !== undefined) {
    if (!isMapping(c.security)) add("container.security must be a mapping");
    else unknownKeys(c.security, ["writeableSysfs", "maskedPaths", "readonlyPaths", "writeableRootfs", "rootfsPropagation"], "container.security.", add);
  }
}

function checkMount(m: unknown, at: string, add: (m: string) => void): void {
  if (!isMapping(m)) {
    add(`${at} must be a mapping with source, destination, type and options`);
    return;
  }
  unknownKeys(m, ["source", "destination", "type", "options", "uidMappings", "gidMappings"], `${at}.`, add);
  for (const key of ["source", "destination"]) {
    if (typeof m[key] !== "string" || !(m[key] as string).startsWith("/")) add(`${at}.${key} must be an absolute path; got ${JSON.stringify(m[key])}`);
  }
  if (typeof m.type !== "string" || m.type === "") add(`${at}.type must be a mount type such as bind`);
  if (m.options !== undefined && !isStringList(m.options)) add(`${at}.options must be a list of strings`);
}

function checkDependency(d: unknown, at: string, add: (m: string) => void): void {
  if (!isMapping(d)) {
    add(`${at} must be a mapping with exactly one of service, path, network, time, configuration`);
    return;
  }
  unknownKeys(d, ["service", "path", "network", "time", "configuration"], `${at}.`, add);
  const set = Object.entries(d).filter(([, v]) => v !== undefined && v !== false && v !== "" && !(Array.isArray(v) && v.length === 0));
  if (set.length !== 1) add(`${at} must set exactly one of service, path, network, time, configuration; sets ${set.length === 0 ? "none" : set.map(([k]) => k).join(" and ")}`);
  if (d.path !== undefined && (typeof d.path !== "string" || !d.path.startsWith("/"))) add(`${at}.path must be absolute; got ${JSON.stringify(d.path)}`);
  if (d.network !== undefined && (!isStringList(d.network) || d.network.some((s) => !NETWORK_STATUSES.includes(s)))) add(`${at}.network must list some of ${NETWORK_STATUSES.join(", ")}`);
  for (const key of ["time", "configuration"]) if (d[key] !== undefined && typeof d[key] !== "boolean") add(`${at}.${key} must be true or false`);
}

// ---- version constraints, as blang/semver's ParseRange reads them after Talos drops the "v"s

type Version = [number, number, number];

function parseVersion(s: string): Version | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$/.exec(s);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return 0;
}

const OPERATORS: Record<string, (c: number) => boolean> = {
  ">=": (c) => c >= 0,
  "<=": (c) => c <= 0,
  ">": (c) => c > 0,
  "<": (c) => c < 0,
  "==": (c) => c === 0,
  "=": (c) => c === 0,
  "!=": (c) => c !== 0,
  "": (c) => c === 0,
};

/** A predicate over versions, or what is wrong with the constraint. */
export function parseRange(constraint: string): ((v: Version) => boolean) | string {
  const alternatives: ((v: Version) => boolean)[] = [];
  for (const alt of constraint.split("||")) {
    // blang/semver allows a space between operator and version (">= 1.13.0").
    const parts = alt.trim().replace(/(>=|<=|!=|==|>|<|=)\s+/g, "$1").split(/\s+/).filter(Boolean);
    if (parts.length === 0) return `"${constraint}" has an empty alternative`;
    const checks: ((v: Version) => boolean)[] = [];
    for (const part of parts) {
      const m = /^(>=|<=|!=|==|>|<|=)?(.*)$/.exec(part);
      const bound = parseVersion(m?.[2] ?? "");
      if (!m || !bound) return `"${part}" in "${constraint}" is not an operator (>=, <=, >, <, =, !=) and a version x.y.z`;
      const op = OPERATORS[m[1] ?? ""] as (c: number) => boolean;
      checks.push((v) => op(compare(v, bound)));
    }
    alternatives.push((v) => checks.every((c) => c(v)));
  }
  return (v) => alternatives.some((a) => a(v));
}

// ---- helpers

type Mapping = Record<string, unknown>;

function isMapping(v: unknown): v is Mapping {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

function parseMapping(text: string, add: (m: string) => void): Mapping | null {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    add(`is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    return null;
  }
  if (!isMapping(doc)) {
    add("must be a YAML mapping");
    return null;
  }
  return doc;
}

function unknownKeys(m: Mapping, allowed: string[], prefix: string, add: (m: string) => void): void {
  for (const k of Object.keys(m)) if (!allowed.includes(k)) add(`unknown field "${prefix}${k}"; allowed here: ${allowed.join(", ")}`);
}
