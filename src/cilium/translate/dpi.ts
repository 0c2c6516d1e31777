// DPIProfile → what Cilium can enforce (L7 rules on the egress of the zones' pods: allowed HTTP
// on tcp/80 must be HTTP, allowed DNS — and a domain allow list — through Cilium's DNS proxy on
// port 53; the port is split out of every allow that covers it, because an L4 allow of the same
// port without L7 rules would void them — where an allow covered every protocol, the pods keep
// TCP, UDP and ICMP queries there and lose other IP protocols, which Cilium cannot name) and the IDS configuration for the rest: Suricata rules (blocked applications and
// domains; an allowed application Cilium cannot inspect raises an alert when something else
// uses its port) and the app-layer parsers to enable, as a ConfigMap per profile.
import type { Application, DPIProfileT } from "../../api/schema/dpi";
import { formatPrefix } from "../../api/ip";
import type { CidrSet } from "./cidr-set";
import type { Box, L7 } from "./pair";
import { intersectService, isEmptyService, ports, subtractService, writableAllow, type Service } from "./service";
import type { Subject } from "./subjects";
import type { Topology } from "./topology";

/** Suricata's app-layer protocol name, the transport and well-known port where the application has one. */
const SURICATA: Record<Application, { proto: string; transport: "tcp" | "udp"; port?: number }> = {
  http: { proto: "http", transport: "tcp", port: 80 },
  https: { proto: "tls", transport: "tcp", port: 443 },
  http2: { proto: "http2", transport: "tcp" },
  tls: { proto: "tls", transport: "tcp", port: 443 },
  dns: { proto: "dns", transport: "udp", port: 53 },
  ssh: { proto: "ssh", transport: "tcp", port: 22 },
  ftp: { proto: "ftp", transport: "tcp", port: 21 },
  smtp: { proto: "smtp", transport: "tcp", port: 25 },
  imap: { proto: "imap", transport: "tcp", port: 143 },
  pop3: { proto: "pop3", transport: "tcp", port: 110 },
  smb: { proto: "smb", transport: "tcp", port: 445 },
  nfs: { proto: "nfs", transport: "tcp", port: 2049 },
  rdp: { proto: "rdp", transport: "tcp", port: 3389 },
  sip: { proto: "sip", transport: "udp", port: 5060 },
  snmp: { proto: "snmp", transport: "udp", port: 161 },
  mqtt: { proto: "mqtt", transport: "tcp", port: 1883 },
  quic: { proto: "quic", transport: "udp", port: 443 },
  dhcp: { proto: "dhcp", transport: "udp", port: 67 },
  ntp: { proto: "ntp", transport: "udp", port: 123 },
  telnet: { proto: "telnet", transport: "tcp", port: 23 },
  krb5: { proto: "krb5", transport: "tcp", port: 88 },
  ike: { proto: "ike", transport: "udp", port: 500 },
  modbus: { proto: "modbus", transport: "tcp", port: 502 },
  dnp3: { proto: "dnp3", transport: "tcp", port: 20000 },
  bittorrent: { proto: "bittorrent-dht", transport: "udp" },
};

/** Applications Cilium's proxy parses: the rest is the IDS's. */
const CILIUM_L7 = new Set<Application>(["http", "dns"]);

export interface ZoneL7 {
  http: string[];
  /** "*" for any name, else the allowed names; with the profiles that asked. */
  dns?: { names: Set<string> | "*"; refs: string[] };
}

const enabled = (p: DPIProfileT) => p.spec.enabled !== false;
const scopeZones = (p: DPIProfileT, topo: Topology) => p.spec.zones ?? topo.zones.map((z) => z.name);

/** What each zone's pods get as L7 rules, from every enabled profile that covers the zone. */
export function zoneL7(profiles: DPIProfileT[], topo: Topology): Map<string, ZoneL7> {
  const out = new Map<string, ZoneL7>();
  for (const p of profiles.filter(enabled)) {
    const ref = `DPIProfile/${p.metadata.name}`;
    const allow = p.spec.actions?.allow ?? [];
    const names = p.spec.domains?.allow;
    for (const zone of scopeZones(p, topo)) {
      const z = out.get(zone) ?? { http: [] };
      if (allow.includes("http")) z.http.push(ref);
      if (allow.includes("dns") || names) {
        const mine: Set<string> | "*" = names ? new Set(names) : "*";
        const prev = z.dns;
        const merged = !prev ? mine : prev.names === "*" || mine === "*" ? "*" : new Set([...prev.names, ...mine]);
        z.dns = { names: merged, refs: [...(prev?.refs ?? []), ref] };
      }
      out.set(zone, z);
    }
  }
  return out;
}

const dnsRules = (names: Set<string> | "*"): L7 => ({
  dns: names === "*" ? [{ matchPattern: "*" }] : [...names].sort().map((n) => (n.startsWith("*.") ? { matchPattern: n } : { matchName: n })),
});

/** Splits the L7 ports out of a subject's egress allows and puts Cilium's L7 rules on them. */
export function applyL7(subject: Subject, l7: ZoneL7): Subject {
  const targets: { service: Service; l7: L7; refs: string[] }[] = [];
  if (l7.http.length) targets.push({ service: ports("tcp", [[80, 80]]), l7: { http: true }, refs: l7.http });
  if (l7.dns) for (const proto of ["udp", "tcp"] as const) targets.push({ service: ports(proto, [[53, 53]]), l7: dnsRules(l7.dns.names), refs: l7.dns.refs });
  if (!targets.length) return subject;
  const allows = subject.egress.allows.flatMap((box): Box[] => {
    let rest = box.service;
    const out: Box[] = [];
    for (const t of targets) {
      if (isEmptyService(intersectService(rest, t.service))) continue;
      out.push({ peer: box.peer, service: t.service, l7: t.l7, sources: [...new Set([...box.sources, ...t.refs])] });
      rest = subtractService(rest, t.service);
    }
    if (isEmptyService(rest)) return out;
    // "Everything but tcp/80" has no Cilium spelling: the rest keeps TCP, UDP and ICMP queries.
    return [{ ...box, service: writableAllow(rest) }, ...out];
  });
  return { ...subject, egress: { ...subject.egress, allows } };
}

export interface IdsConfig {
  /** The Suricata rules file. */
  rules: string;
  /** A suricata.yaml fragment enabling the app-layer parsers the profile needs. */
  appLayer: string;
  /** What went to the IDS, for the profile's status. */
  summary: string[];
  notes: string[];
}

/** Suricata's address list for the zones in scope ("any" for every zone). */
function scopeAddresses(p: DPIProfileT, topo: Topology): string | null {
  if (!p.spec.zones) return "any";
  const cidrs: CidrSet = topo.zones.filter((z) => p.spec.zones!.includes(z.name)).flatMap((z) => z.region.cidrs);
  if (!cidrs.length) return null;
  return `[${cidrs.flatMap((b) => [formatPrefix(b.net), ...b.except.map((e) => `!${formatPrefix(e)}`)]).join(",")}]`;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function idsConfig(p: DPIProfileT, topo: Topology): IdsConfig {
  const ref = `DPIProfile/${p.metadata.name}`;
  const scope = scopeAddresses(p, topo);
  const notes: string[] = [];
  const summary: string[] = [];
  const bodies: string[] = [];
  const rule = (action: "drop" | "alert", header: string, options: string) => bodies.push(`${action} ${header} (msg:"fos1 ${ref}: ${options}`);
  const block = p.spec.actions?.block ?? [];
  const allow = p.spec.actions?.allow ?? [];
  if (scope === null) notes.push(`none of its zones (${p.spec.zones!.join(", ")}) has addresses fos1 knows, so the IDS cannot scope rules to them: no Suricata rules are written`);
  else {
    for (const app of block) {
      const s = SURICATA[app];
      rule("drop", `${s.proto} ${scope} any -> any any`, `block ${app}";`);
      if (app === "bittorrent") rule("drop", `tcp ${scope} any -> any any`, `block bittorrent (peer handshake)"; flow:to_server,established; content:"|13|BitTorrent protocol"; depth:20;`);
    }
    if (block.length) summary.push(`drops ${block.join(", ")} wherever it recognises ${block.length === 1 ? "it" : "them"}`);
    const unparsed = allow.filter((a) => !CILIUM_L7.has(a));
    for (const app of unparsed) {
      const s = SURICATA[app];
      if (s.port === undefined) continue;
      rule("alert", `${s.transport} ${scope} any -> any ${s.port}`, `traffic to port ${s.port} is not ${app}"; flow:to_server,established; app-layer-protocol:!${s.proto};`);
    }
    if (unparsed.length) summary.push(`alerts when something other than ${unparsed.join(", ")} uses ${unparsed.length === 1 ? "its" : "their"} port (Cilium cannot inspect ${unparsed.length === 1 ? "it" : "them"})`);
    for (const name of p.spec.domains?.block ?? []) {
      const exact = !name.startsWith("*.");
      const content = exact ? name.replace(/\.$/, "") : name.slice(1);
      rule("drop", `dns ${scope} any -> any any`, `block DNS name ${name}"; dns.query; content:"${content}"; nocase; ${exact ? "startswith; " : ""}endswith;`);
    }
    if (p.spec.domains?.block) summary.push(`drops DNS queries for ${p.spec.domains.block.join(", ")}`);
  }
  const used = new Set<number>();
  const lines = bodies.map((b) => {
    let sid = 1_000_000 + (fnv1a(`${ref} ${b}`) % 1_000_000); // Suricata's local-rule range
    while (used.has(sid)) sid = sid === 1_999_999 ? 1_000_000 : sid + 1;
    used.add(sid);
    return `${b} sid:${sid}; rev:1;)`;
  });
  const parsers = [...new Set([...p.spec.applications, ...block, ...allow].map((a) => SURICATA[a].proto))].sort();
  summary.push(`recognises and logs ${p.spec.applications.join(", ")}`);
  const header = `# Generated by fos1 from ${ref}. Do not edit: change the DPIProfile.\n`;
  return {
    rules: header + lines.map((l) => `${l}\n`).join(""),
    appLayer: `${header}app-layer:\n  protocols:\n${parsers.map((x) => `    ${x}:\n      enabled: yes\n`).join("")}`,
    summary,
    notes,
  };
}
