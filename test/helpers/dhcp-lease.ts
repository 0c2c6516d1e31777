// dhcpcd's DHCPv4 lease file as it stores it: the server's ACK (RFC 2131) with the options fos1
// reads back (src/engine/dhcp/lease.ts). For tests that need a lease without a DHCP server.

export interface Ack {
  address: string;
  gateway: string;
  server: string;
  dns: string[];
}

const ip4 = (a: string) => a.split(".").map(Number);

export function dhcpAck(a: Ack): Uint8Array {
  const options = [[53, 5], [1, 255, 255, 255, 0], [3, ...ip4(a.gateway)], [54, ...ip4(a.server)], [6, ...a.dns.flatMap(ip4)], [51, 0, 0, 14, 16]].flatMap(([code, ...data]) => [code!, data.length, ...data]);
  const msg = new Uint8Array(240 + options.length + 1);
  msg[0] = 2; // BOOTREPLY
  msg.set(ip4(a.address), 16); // yiaddr
  msg.set([0x63, 0x82, 0x53, 0x63], 236);
  msg.set([...options, 255], 240);
  return msg;
}
