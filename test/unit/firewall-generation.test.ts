// nftables' generation reply as the kernel sends it (the netns test in firewall.test.ts asks a
// real kernel): the id is read from its attribute, and an error reply or a reply without one
// is an error, never a generation that would let a stale listing stand.
import { describe, expect, test } from "bun:test";
import { parseGeneration } from "../../src/engine/firewall/generation";

const NEWGEN = (10 << 8) | 15;

function message(type: number, attrs: { type: number; payload: Uint8Array }[]): DataView {
  const body = attrs.flatMap((a) => {
    const len = 4 + a.payload.byteLength;
    const padded = new Uint8Array((len + 3) & ~3);
    const v = new DataView(padded.buffer);
    v.setUint16(0, len, true);
    v.setUint16(2, a.type, true);
    padded.set(a.payload, 4);
    return [...padded];
  });
  const bytes = new Uint8Array(20 + body.length);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, bytes.byteLength, true);
  v.setUint16(4, type, true);
  bytes.set(body, 20);
  return v;
}

const be32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
};

describe("nftables generation reply", () => {
  test("the id comes from NFTA_GEN_ID (big-endian), wherever it is among the attributes", () => {
    const pid = { type: 2, payload: be32(4242) };
    const name = { type: 3, payload: new TextEncoder().encode("nft\0") };
    expect(parseGeneration(message(NEWGEN, [{ type: 1, payload: be32(70000) }, pid, name]))).toBe(70000);
    expect(parseGeneration(message(NEWGEN, [name, pid, { type: 1, payload: be32(3) }]))).toBe(3);
  });

  test("an error reply says the kernel's reason", () => {
    const err = new Uint8Array(36);
    const v = new DataView(err.buffer);
    v.setUint32(0, 36, true);
    v.setUint16(4, 2, true);
    v.setInt32(16, -1, true);
    expect(() => parseGeneration(v)).toThrow(/refused to give its generation: .*errno 1/);
  });

  test("a reply of another type, or without the id, is an error", () => {
    expect(() => parseGeneration(message((10 << 8) | 0, []))).toThrow(/message type 2560/);
    expect(() => parseGeneration(message(NEWGEN, [{ type: 2, payload: be32(1) }]))).toThrow(/holds no generation id/);
  });
});
