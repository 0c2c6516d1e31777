// One Hubble flow as fos1 reports it: verdict, both ends with their fos1 zone, protocol, the
// application (L7 protocol, or the service port's name), and why it was dropped. Pure.
import { formatTimestamp } from "./request";
import { UNKNOWN_ZONE, type ZoneMap } from "./zones";
import type { Endpoint, Flow } from "./types";

export interface FlowEnd {
  ip?: string;
  port?: number;
  zone: string;
  /** namespace/pod for a pod, the DNS names Hubble knows otherwise. */
  name?: string;
  identity?: number;
}

export interface FlowSummary {
  time: string;
  node?: string;
  /** flow.Verdict in lower case: forwarded, dropped, error, audit, … */
  verdict: string;
  source: FlowEnd;
  destination: FlowEnd;
  /** tcp, udp, icmp, icmpv6, sctp, vrrp, igmp, or other. */
  protocol: string;
  /** dns/http/kafka when Hubble parsed L7, else the server port's name (https, ssh, …), the protocol for portless ones, other. */
  application: string;
  /** ICMP and ICMPv6: the message type and code. */
  icmp?: { type: number; code: number };
  /** An answer, not a request: the server is the source. */
  reply: boolean;
  /** flow.DropReason name (POLICY_DENIED, VLAN_FILTERED, …) for a dropped flow. */
  dropReason?: string;
  /** Dropped by a network policy; `policies` names it when Hubble says which. */
  policyDrop: boolean;
  policies?: string[];
  /** What Hubble decoded at L7: "DNS query example.com. A", "HTTP GET /x 200". */
  l7?: string;
}

// Drop reasons that mean "a policy said no" (POLICY_DENY: an explicit deny rule; AUTH_REQUIRED:
// a rule that needs mutual authentication that did not happen).
const POLICY_DROP_REASONS = new Set(["POLICY_DENIED", "POLICY_DENY", "AUTH_REQUIRED"]);
// The deprecated numeric drop_reason, for Hubble servers that do not fill drop_reason_desc.
const DROP_REASON_NAMES: Record<number, string> = { 133: "POLICY_DENIED", 181: "POLICY_DENY", 189: "AUTH_REQUIRED" };

// Service names of the ports a router's operator meets; any other port is "other", which keeps
// the metrics' label values bounded.
const PORT_NAMES: Record<number, string> = {
  20: "ftp-data", 21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "dns", 67: "dhcp", 68: "dhcp", 69: "tftp",
  80: "http", 110: "pop3", 123: "ntp", 137: "netbios", 138: "netbios", 139: "netbios", 143: "imap", 161: "snmp",
  162: "snmp-trap", 179: "bgp", 389: "ldap", 443: "https", 445: "smb", 465: "smtps", 500: "ipsec", 514: "syslog",
  546: "dhcpv6", 547: "dhcpv6", 587: "submission", 636: "ldaps", 853: "dns-over-tls", 993: "imaps", 995: "pop3s",
  1194: "openvpn", 1812: "radius", 1813: "radius", 1883: "mqtt", 2379: "etcd", 2380: "etcd", 3306: "mysql",
  3389: "rdp", 4244: "hubble", 4245: "hubble-relay", 4500: "ipsec", 5060: "sip", 5353: "mdns", 5432: "postgres",
  6443: "kubernetes-api", 8080: "http-alt", 8443: "https-alt", 10250: "kubelet", 50000: "talos-apid",
  50001: "talos-trustd", 51820: "wireguard",
};

export function summarizeFlow(flow: Flow, zones: ZoneMap | undefined): FlowSummary {
  const l4 = flow.l4 ?? {};
  const ports = l4.TCP ?? l4.UDP ?? l4.SCTP;
  const protocol =
    l4.TCP ? "tcp" : l4.UDP ? "udp" : l4.ICMPv4 ? "icmp" : l4.ICMPv6 ? "icmpv6" : l4.SCTP ? "sctp" : l4.VRRP ? "vrrp" : l4.IGMP ? "igmp" : "other";
  const reply = flow.is_reply?.value ?? false;
  const servicePort = reply ? ports?.source_port : ports?.destination_port;
  const l7Kind = flow.l7?.dns ? "dns" : flow.l7?.http ? "http" : flow.l7?.kafka ? "kafka" : undefined;
  const application = l7Kind ?? (ports ? (PORT_NAMES[servicePort ?? 0] ?? "other") : protocol);
  const verdict = (flow.verdict ?? "VERDICT_UNKNOWN").toLowerCase();
  const dropped = flow.verdict === "DROPPED";
  const dropReason = dropped ? (flow.drop_reason_desc ?? DROP_REASON_NAMES[flow.drop_reason ?? 0] ?? (flow.drop_reason ? String(flow.drop_reason) : undefined)) : undefined;
  const policyDrop = dropReason !== undefined && POLICY_DROP_REASONS.has(dropReason);
  const policies = [...(flow.ingress_denied_by ?? []), ...(flow.egress_denied_by ?? [])].map((p) => (p.namespace ? `${p.namespace}/${p.name}` : (p.name ?? "")));
  const end = (endpoint: Endpoint | undefined, ip: string | undefined, port: number | undefined, names: string[] | undefined): FlowEnd => {
    const name = endpoint?.pod_name ? `${endpoint.namespace ? `${endpoint.namespace}/` : ""}${endpoint.pod_name}` : names?.length ? names.join(",") : undefined;
    return {
      ...(ip ? { ip } : {}),
      ...(port ? { port } : {}),
      zone: zones ? zones.zoneOf(endpoint, ip) : UNKNOWN_ZONE,
      ...(name ? { name } : {}),
      ...(endpoint?.identity ? { identity: endpoint.identity } : {}),
    };
  };
  const l7 = describeL7(flow);
  const icmp = l4.ICMPv4 ?? l4.ICMPv6;
  return {
    time: formatTimestamp(flow.time),
    ...(flow.node_name ? { node: flow.node_name } : {}),
    verdict,
    source: end(flow.source, flow.IP?.source, ports?.source_port, flow.source_names),
    destination: end(flow.destination, flow.IP?.destination, ports?.destination_port, flow.destination_names),
    protocol,
    application,
    ...(icmp ? { icmp: { type: icmp.type ?? 0, code: icmp.code ?? 0 } } : {}),
    reply,
    ...(dropReason ? { dropReason } : {}),
    policyDrop,
    ...(policies.length ? { policies } : {}),
    ...(l7 ? { l7 } : {}),
  };
}

function describeL7(flow: Flow): string | undefined {
  const l7 = flow.l7;
  if (!l7) return undefined;
  const kind = l7.type === "RESPONSE" ? "response" : "query";
  if (l7.dns) return [`DNS ${kind}`, l7.dns.query, ...(l7.dns.qtypes ?? []), ...(l7.type === "RESPONSE" && l7.dns.rcode ? [`rcode ${l7.dns.rcode}`] : [])].filter(Boolean).join(" ");
  if (l7.http) return ["HTTP", l7.http.method, l7.http.url, l7.http.code ? String(l7.http.code) : undefined].filter(Boolean).join(" ");
  if (l7.kafka) return ["Kafka", l7.kafka.api_key, l7.kafka.topic].filter(Boolean).join(" ");
  return undefined;
}
