// fos1's own rules for its extension service, beyond Talos's (talos-rules.ts): the service keeps
// only the capabilities fos1 uses and sees only the host paths it needs, with write access only
// where it writes. Talos grants an extension service every capability and has no spec field to
// limit them, so the spec's entrypoint is setpriv, cutting the bounding set (and emptying the
// inheritable set, which would otherwise survive exec for root) before it execs fos1. The
// reasons for each entry are in the spec, beside it. Pure: the caller reads the file.
import { parse as parseYaml } from "yaml";
import type { Problem } from "./talos-rules";

export const SETPRIV = "/usr/bin/setpriv";
export const FOS1 = "/usr/local/bin/fos1";

/** Every capability the agent may keep (setpriv's names, without CAP_). */
export const AGENT_CAPABILITIES = ["net_admin", "net_raw", "net_bind_service", "bpf", "perfmon", "sys_admin", "setuid", "setgid", "kill", "sys_chroot", "setpcap"];

/** Every host path the agent may see, and whether it may write there. */
export const AGENT_MOUNTS: Record<string, "rw" | "ro"> = {
  "/sys/fs/bpf": "rw",
  "/var/lib/fos1": "rw",
  "/var/lib/dhcpcd": "rw",
  "/run/dhcpcd": "rw",
  "/system/run/machined": "ro",
};

interface Mount {
  source?: unknown;
  destination?: unknown;
  options?: unknown;
}

export function checkLeastPrivilege(text: string, file: string): Problem[] {
  const problems: Problem[] = [];
  const add = (message: string) => problems.push({ where: file, message });
  let doc: { container?: { entrypoint?: unknown; args?: unknown; mounts?: unknown } } | null;
  try {
    doc = parseYaml(text) as typeof doc;
  } catch {
    return problems; // talos-rules reports the YAML error
  }
  const c = doc?.container ?? {};
  checkCapabilities(c.entrypoint, Array.isArray(c.args) ? c.args.map(String) : [], add);
  checkMounts(Array.isArray(c.mounts) ? (c.mounts as Mount[]) : [], add);
  return problems;
}

function checkCapabilities(entrypoint: unknown, args: string[], add: (m: string) => void): void {
  if (entrypoint !== SETPRIV) {
    add(`container.entrypoint must be ${SETPRIV}, which drops the capabilities fos1 does not use (Talos grants all); got ${JSON.stringify(entrypoint)}`);
    return;
  }
  const end = args.indexOf("--");
  const own = end < 0 ? args : args.slice(0, end);
  if (end < 0 || args[end + 1] !== FOS1) add(`container.args must end with -- ${FOS1} and its arguments`);
  if (!own.includes("--inh-caps=-all")) add("container.args must empty the inheritable set (--inh-caps=-all): for root, exec keeps what it holds whatever the bounding set");
  const bounding = own.filter((a) => a.startsWith("--bounding-set="));
  const spec = bounding[0]?.slice("--bounding-set=".length).split(",") ?? [];
  if (bounding.length !== 1 || spec[0] !== "-all") {
    add("container.args must give the bounding set once, starting from nothing: --bounding-set=-all,+cap,…");
    return;
  }
  for (const item of spec.slice(1)) {
    const cap = item.replace(/^\+/, "");
    if (!item.startsWith("+")) add(`--bounding-set: "${item}" after -all must add a capability (+name)`);
    else if (!AGENT_CAPABILITIES.includes(cap)) add(`--bounding-set keeps ${cap}, which is not one fos1 uses (${AGENT_CAPABILITIES.join(", ")})`);
  }
}

function checkMounts(mounts: Mount[], add: (m: string) => void): void {
  for (const m of mounts) {
    const source = String(m.source), destination = String(m.destination);
    const options = Array.isArray(m.options) ? m.options.map(String) : [];
    const allowed = AGENT_MOUNTS[source];
    if (!allowed) {
      add(`mounts the host's ${source}, which fos1 does not need (allowed: ${Object.keys(AGENT_MOUNTS).join(", ")})`);
      continue;
    }
    if (destination !== source) add(`mounts ${source} at ${destination}: fos1 looks for it at ${source}`);
    const writable = !options.includes("ro");
    if (allowed === "ro" && (writable || options.includes("rw"))) add(`mounts ${source} writable; fos1 only reads it (options must have ro)`);
  }
}
