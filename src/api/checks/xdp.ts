// Cross-object checks of XDPFilter: interfaces that exist, one filter per interface (a link
// runs one XDP program), no program on a bond member whose bond already runs one (the kernel
// attaches the bond's program to its members), the members of one bond filtered by one filter
// (a filter on members follows the bond's membership to every member), blocklist entries
// that are networks, and blocklists within the filter's capacity per family (the lists are
// sized to it at load: a list over it would leave prefixes unblocked).
import type { LoadedObject } from "../load";
import type { ConfigObject } from "../kinds";
import { formatIp, hasHostBits, network, parsePrefix } from "../ip";
import { NetworkIndex } from "../network-index";
import { problemAt, type ConfigProblem, type FieldPath } from "../problems";
import { XDP_CAPACITY_DEFAULT, XDP_CAPACITY_MAX, type XDPFilterT } from "../schema/security";

export function checkXdp(objects: LoadedObject<ConfigObject>[]): ConfigProblem[] {
  const idx = new NetworkIndex(objects);
  const problems: ConfigProblem[] = [];
  const report = (o: LoadedObject, path: FieldPath, message: string) => problems.push(problemAt(o.source, o.ref, path, message));
  const filters = objects.filter((o) => o.value.kind === "XDPFilter") as LoadedObject<XDPFilterT>[];

  const owner = new Map<string, LoadedObject>(); // interface name → filter
  for (const f of filters) {
    const s = f.value.spec;
    s.interfaces.forEach((ref, n) => {
      const i = idx.resolve(ref);
      if (!i) return report(f, ["spec", "interfaces", n], `unknown interface "${ref}"; name a NetworkInterface (a bond or a NIC) or the device of a declared physical one`);
      const prev = owner.get(i.name);
      if (prev) report(f, ["spec", "interfaces", n], prev === f ? `${ref} is listed twice` : `${ref} is already filtered by ${prev.ref}; an interface runs one XDP program`);
      else owner.set(i.name, f);
    });
    const seen = new Set<string>();
    (s.blocklist ?? []).forEach((cidr, n) => {
      const p = parsePrefix(cidr)!; // the schema's cidr format already holds
      if (hasHostBits(p)) report(f, ["spec", "blocklist", n], `${cidr} has host bits set; write the network, ${formatIp(p.family, network(p).addr)}/${p.len}`);
      const key = `${p.family}:${network(p).addr}/${p.len}`;
      if (seen.has(key)) report(f, ["spec", "blocklist", n], `${cidr} is listed twice`);
      seen.add(key);
    });
    for (const family of [4, 6] as const) {
      const count = (s.blocklist ?? []).filter((c) => parsePrefix(c)!.family === family).length;
      const field = family === 4 ? "ipv4" : "ipv6";
      const capacity = s.capacity?.[field] ?? XDP_CAPACITY_DEFAULT;
      if (count > capacity)
        report(
          f,
          ["spec", "blocklist"],
          `${count.toLocaleString("en")} IPv${family} prefixes, more than the filter's capacity of ${capacity.toLocaleString("en")}; raise spec.capacity.${field} (default ${XDP_CAPACITY_DEFAULT.toLocaleString("en")}, at most ${XDP_CAPACITY_MAX.toLocaleString("en")}) or shorten the list`,
        );
    }
    const ports = new Set<string>();
    (s.denyPorts ?? []).forEach((p, n) => {
      const key = `${p.protocol}/${p.port}`;
      if (ports.has(key)) report(f, ["spec", "denyPorts", n], `${key} is listed twice`);
      ports.add(key);
    });
  }
  // A bond's program runs on its members: a member cannot have its own.
  for (const i of idx.interfaces) {
    if (i.type !== "bond" || !owner.has(i.name)) continue;
    for (const m of idx.members(i)) {
      const member = idx.resolve(m);
      const f = member && owner.get(member.name);
      if (!f) continue;
      const n = (f.value as XDPFilterT).spec.interfaces.findIndex((r) => idx.resolve(r) === member);
      report(f, ["spec", "interfaces", n], `${m} is a member of bond ${i.name}, which runs ${owner.get(i.name)!.ref}; the kernel runs a bond's XDP program on its members`);
    }
  }
  // Member by member, a filter runs on every member the bond has: two filters would both claim them.
  for (const i of idx.interfaces) {
    if (i.type !== "bond" || owner.has(i.name)) continue;
    const claims = idx
      .members(i)
      .map((m) => ({ m, member: idx.resolve(m) }))
      .flatMap(({ m, member }) => (member && owner.get(member.name) ? [{ m, member, f: owner.get(member.name)! }] : []));
    const first = claims[0];
    for (const c of claims.filter((x) => x.f !== first?.f)) {
      const n = (c.f.value as XDPFilterT).spec.interfaces.findIndex((r) => idx.resolve(r) === c.member);
      report(c.f, ["spec", "interfaces", n], `${c.m} and ${first!.m} are members of bond ${i.name}, and ${first!.m} is filtered by ${first!.f.ref}; a filter on a bond's members runs on all of them, so name them in one XDPFilter`);
    }
  }
  return problems;
}
