// The two namespaces the XDP netns tests share: "src" holds a blocked and an allowed source
// address of each family on s0; "far" holds f0, the interface XDP runs on (its addresses are
// added by the test that needs them). Addresses only inside the namespaces.
import { addVeth, createNs, ipBatch, nsRun } from "./netns";

export const BLOCKED4 = "192.0.2.1";
export const ALLOWED4 = "192.0.2.2";
export const FAR4 = "192.0.2.100";
export const BLOCKED6 = "2001:db8:7::1";
export const ALLOWED6 = "2001:db8:7::2";
export const FAR6 = "2001:db8:7::100";

/** The far side's f0 with its address, and an XDPFilter "edge" on it: `spec` adds its other fields (YAML flow, e.g. "blocklist: [192.0.2.1/32]"). */
export const edgeFilterConfig = (spec: string) => `apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: f0}
spec: {device: f0, addresses: [${FAR4}/24]}
---
apiVersion: security.fos1.io/v1alpha1
kind: XDPFilter
metadata: {name: edge}
spec: {interfaces: [f0], ${spec}}
`;

export async function createXdpPair(): Promise<{ src: string; far: string }> {
  const src = await createNs("src");
  const far = await createNs("far");
  await addVeth(src, "s0", far, "f0");
  await ipBatch(src, [
    `address add ${BLOCKED4}/24 dev s0`,
    `address add ${ALLOWED4}/24 dev s0`,
    `address add ${BLOCKED6}/64 dev s0 nodad`,
    `address add ${ALLOWED6}/64 dev s0 nodad`,
    "link set lo up",
    "link set s0 up",
  ]);
  return { src, far };
}

/** One echo request from `from` (an address in src) to `to`; true when the reply came. */
export async function pingOnceFrom(src: string, from: string, to: string): Promise<boolean> {
  const r = await nsRun(src, ["ping", ...(to.includes(":") ? ["-6"] : []), "-n", "-c", "1", "-W", "1", "-I", from, to]);
  return r.exitCode === 0;
}

/** Reachability tolerant of a first lost packet (neighbour resolution): up to 3 tries. */
export async function reachesFrom(src: string, from: string, to: string): Promise<boolean> {
  for (let i = 0; i < 3; i++) if (await pingOnceFrom(src, from, to)) return true;
  return false;
}
