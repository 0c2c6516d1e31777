// Hubble's messages as fos1 receives them (schema.ts DECODE_OPTIONS): field names as in the
// .proto, enums as their names, 64-bit integers as decimal strings, absent fields undefined.
// Only the fields fos1 (and its tests) read are typed; the decoded objects carry every field
// the server sent.

export interface Timestamp {
  seconds: string;
  nanos?: number;
}

export interface Endpoint {
  identity?: number;
  namespace?: string;
  labels?: string[];
  pod_name?: string;
}

export interface Ports {
  source_port?: number;
  destination_port?: number;
}

export interface Layer4 {
  TCP?: Ports & { flags?: Record<string, boolean> };
  UDP?: Ports;
  SCTP?: Ports;
  ICMPv4?: { type?: number; code?: number };
  ICMPv6?: { type?: number; code?: number };
  VRRP?: { type?: number; vrid?: number; priority?: number };
  IGMP?: { type?: number; group_address?: string };
}

export interface Layer7 {
  type?: string;
  dns?: { query?: string; qtypes?: string[]; rcode?: number; ips?: string[] };
  http?: { code?: number; method?: string; url?: string };
  kafka?: { topic?: string; api_key?: string };
}

export interface PolicyRef {
  name?: string;
  namespace?: string;
  kind?: string;
}

export interface Flow {
  time?: Timestamp;
  uuid?: string;
  verdict?: string;
  drop_reason?: number;
  drop_reason_desc?: string;
  IP?: { source?: string; destination?: string; ipVersion?: string };
  l4?: Layer4;
  source?: Endpoint;
  destination?: Endpoint;
  node_name?: string;
  source_names?: string[];
  destination_names?: string[];
  l7?: Layer7;
  is_reply?: { value?: boolean };
  egress_denied_by?: PolicyRef[];
  ingress_denied_by?: PolicyRef[];
}

export interface LostEvent {
  source?: string;
  num_events_lost?: string;
}

export interface GetFlowsResponse {
  flow?: Flow;
  node_status?: { state_change?: string; node_names?: string[]; message?: string };
  lost_events?: LostEvent;
  node_name?: string;
  time?: Timestamp;
}

export interface FlowFilter {
  verdict?: string[];
}

/** What fos1 asks of GetFlows; the rest of GetFlowsRequest stays unset. */
export interface GetFlowsRequest {
  number?: string;
  follow?: boolean;
  since?: Timestamp;
  whitelist?: FlowFilter[];
}
