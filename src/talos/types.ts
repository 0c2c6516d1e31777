// The Talos API messages as fos1 sees them decoded (schema.ts's options: field names as in the
// .proto, enums as names, 64-bit integers as strings, absent fields as their defaults).

export type ApplyMode = "REBOOT" | "AUTO" | "NO_REBOOT" | "STAGED" | "TRY";

export interface Timestamp {
  seconds: string;
  nanos: number;
}

export interface Duration {
  seconds: string | number;
  nanos: number;
}

export interface Metadata {
  hostname: string;
  error: string;
}

/** Every reply of a unary rpc: one message per node apid asked (one when nobody proxied). */
export interface NodeReply {
  metadata: Metadata | null;
}

export interface VersionMessage extends NodeReply {
  version: { tag: string; sha: string; built: string; go_version: string; os: string; arch: string } | null;
  platform: { name: string; mode: string } | null;
  features: { rbac: boolean } | null;
}

export interface ServiceInfo {
  id: string;
  state: string;
  events: { events: { msg: string; state: string; ts: Timestamp | null }[] } | null;
  health: { unknown: boolean; healthy: boolean; last_message: string; last_change: Timestamp | null } | null;
}

export interface ServiceListMessage extends NodeReply {
  services: ServiceInfo[];
}

export interface ApplyConfigurationMessage extends NodeReply {
  warnings: string[];
  mode: ApplyMode;
  mode_details: string;
}

export interface ApplyConfigurationRequest {
  data: Uint8Array;
  mode: ApplyMode;
  dry_run: boolean;
  try_mode_timeout?: Duration;
}

export interface LogsRequest {
  namespace: string;
  id: string;
  driver: "CONTAINERD" | "CRI";
  follow: boolean;
  tail_lines: number;
}

export interface DataMessage extends NodeReply {
  bytes: Uint8Array;
}
