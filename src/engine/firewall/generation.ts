// nftables' ruleset generation: a counter the kernel bumps on every committed transaction in a
// network namespace, whatever table it touches (NFT_MSG_GETGEN). While it stays the same, no
// table of that namespace can have changed, so what a listing of fos1's table showed at that
// generation still holds (observe.ts). nft reads it for its own cache but never prints it, so it
// is asked here on a netlink socket of our own: one request, no process.
import { errnoText, libc } from "../../base/libc";

export interface RulesetGeneration {
  /** The network namespace's cookie (SO_NETNS_COOKIE): never reused within a boot, unlike its inode. */
  netns: string;
  id: number;
}

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_NETFILTER = 12;
const SOL_SOCKET = 1;
const SO_NETNS_COOKIE = 71;
const MSG_DONTWAIT = 0x40;
const NLM_F_REQUEST = 1;
const NLMSG_ERROR = 2;
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWGEN = 15;
const NFT_MSG_GETGEN = 16;
const NFTA_GEN_ID = 1;
const NLMSG_HEADER = 16;
const NFGENMSG = 4;

/** The generation and namespace this process sees now; throws with the kernel's reason when it cannot ask (no CAP_NET_ADMIN, no nf_tables). */
export function rulesetGeneration(): RulesetGeneration {
  const c = libc();
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) throw new Error(`cannot open a netfilter netlink socket: ${errnoText()}`);
  try {
    const cookie = new BigUint64Array(1);
    const cookieLen = new Uint32Array([8]);
    if (c.getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, cookieLen) !== 0) throw new Error(`cannot read the network namespace's cookie: ${errnoText()}`);

    const request = new DataView(new ArrayBuffer(NLMSG_HEADER + NFGENMSG));
    request.setUint32(0, request.byteLength, true);
    request.setUint16(4, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, true);
    request.setUint16(6, NLM_F_REQUEST, true);
    request.setUint32(8, 1, true); // sequence; family, version and resource id stay 0 (AF_UNSPEC, NFNETLINK_V0)
    const bytes = new Uint8Array(request.buffer);
    if (Number(c.sendto(fd, bytes, bytes.byteLength, 0, null, 0)) !== bytes.byteLength) throw new Error(`cannot ask nftables for its generation: ${errnoText()}`);

    // The kernel answers while handling the request, so the reply is already queued.
    const reply = new Uint8Array(512);
    const got = Number(c.recv(fd, reply, reply.byteLength, MSG_DONTWAIT));
    if (got < NLMSG_HEADER) throw new Error(`nftables gave no generation: ${got < 0 ? errnoText() : "a short reply"}`);
    return { netns: cookie[0]!.toString(), id: parseGeneration(new DataView(reply.buffer, 0, got)) };
  } finally {
    c.close(fd);
  }
}

/** NFTA_GEN_ID of an NFT_MSG_NEWGEN reply; throws on a netlink error reply. */
export function parseGeneration(msg: DataView): number {
  const type = msg.getUint16(4, true);
  if (type === NLMSG_ERROR) throw new Error(`nftables refused to give its generation: ${errnoText(-msg.getInt32(NLMSG_HEADER, true))}`);
  if (type !== ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) throw new Error(`nftables answered the generation request with message type ${type}`);
  const end = Math.min(msg.getUint32(0, true), msg.byteLength);
  for (let at = NLMSG_HEADER + NFGENMSG; at + 4 <= end; ) {
    const len = msg.getUint16(at, true);
    if (len < 4) break;
    if ((msg.getUint16(at + 2, true) & 0x3fff) === NFTA_GEN_ID && len >= 8) return msg.getUint32(at + 4, false);
    at += (len + 3) & ~3;
  }
  throw new Error("nftables' generation reply holds no generation id");
}

/** Without the generation (a kernel or sandbox that refuses the request), callers fall back to listing. */
export function rulesetGenerationOrNull(): RulesetGeneration | null {
  try {
    return rulesetGeneration();
  } catch {
    return null;
  }
}

/** b is the generation right after a; a transaction seen between them is then the only one. */
export const nextGeneration = (a: RulesetGeneration, b: RulesetGeneration) => a.netns === b.netns && b.id === ((a.id + 1) >>> 0);

export const sameGeneration = (a: RulesetGeneration, b: RulesetGeneration) => a.netns === b.netns && a.id === b.id;
