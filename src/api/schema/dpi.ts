// security.fos1.io/v1alpha1 DPIProfile: application allow/block lists. In the cluster it becomes
// Cilium L7 rules where Cilium can express them (HTTP, DNS) and the IDS (Suricata)
// configuration for the rest (src/cilium/translate/dpi.ts).
import { Type, type Static } from "@sinclair/typebox";
import { KindSchema, ObjectName, StringEnum } from "./common";
import { SECURITY_GROUP } from "./security";

/** Application protocols fos1 can name: those Suricata recognises (its app-layer parsers) and the seed's. */
export const APPLICATIONS = [
  "http", "https", "http2", "tls", "dns", "ssh", "ftp", "smtp", "imap", "pop3", "smb", "nfs", "rdp", "sip", "snmp",
  "mqtt", "quic", "dhcp", "ntp", "telnet", "krb5", "ike", "modbus", "dnp3", "bittorrent",
] as const;
export type Application = (typeof APPLICATIONS)[number];

const Application = StringEnum(APPLICATIONS, { description: "an application protocol" });

/** A domain name or a wildcard pattern of one ("*.example.com"), as Cilium's DNS rules and Suricata's dns.query take them. */
const DomainPattern = Type.String({
  pattern: "^(\\*\\.)?([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\\.?$",
  maxLength: 253,
  description: "a domain name, or *.domain for every name under it",
});

export const DPIProfileSpec = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 200 })),
    enabled: Type.Optional(Type.Boolean({ description: "false keeps the profile but applies nothing (default true)" })),
    applications: Type.Array(Application, { minItems: 1, description: "the applications this profile recognises and logs" }),
    actions: Type.Optional(
      Type.Object(
        {
          allow: Type.Optional(Type.Array(Application, { description: "applications allowed; where fos1 can, traffic on their port must really be them" })),
          block: Type.Optional(Type.Array(Application, { description: "applications dropped wherever they are recognised" })),
        },
        { additionalProperties: false },
      ),
    ),
    zones: Type.Optional(Type.Array(ObjectName("a FirewallZone"), { minItems: 1, description: "zones whose traffic the profile applies to (default every zone)" })),
    domains: Type.Optional(
      Type.Object(
        {
          allow: Type.Optional(Type.Array(DomainPattern, { minItems: 1, description: "the only names the zones' pods may resolve" })),
          block: Type.Optional(Type.Array(DomainPattern, { minItems: 1, description: "names whose DNS queries are dropped" })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const DPIProfile = KindSchema(SECURITY_GROUP, "DPIProfile", DPIProfileSpec);
export type DPIProfileT = Static<typeof DPIProfile>;
