// A client with no configuration asking for a lease: busybox udhcpc in a namespace, its
// script (hack/lab/lan-client.ts) writing what it got to a file.
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UDHCPC_SCRIPT } from "../../hack/lab/lan-client";
import type { Netns } from "../helpers/netns";

/** The lease udhcpc got on iface (ip, router, dns, …); throws when it got none. dir: a scratch folder. */
export function udhcpcLease(ns: Netns, iface: string, hostname: string, dir: string): Record<string, string> {
  const script = join(dir, "udhcpc.sh");
  if (!existsSync(script)) {
    writeFileSync(script, UDHCPC_SCRIPT);
    chmodSync(script, 0o755);
  }
  const out = join(dir, `lease-${hostname}`);
  rmSync(out, { force: true });
  ns.sh(`LEASE_OUT=${out} busybox udhcpc -i ${iface} -n -q -f -t 8 -T 1 -x hostname:${hostname} -s ${script} >/dev/null 2>&1`);
  return Object.fromEntries(readFileSync(out, "utf8").trim().split(" ").map((kv) => kv.split("=") as [string, string]));
}
