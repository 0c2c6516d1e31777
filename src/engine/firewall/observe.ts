// Reads fos1's nftables table back: which compiled config it holds (the digest in the
// fos1_config chain) and its shape (rules per chain, elements per map), so a no-op apply
// writes nothing and a table someone edited by hand is noticed and replaced.
import { runTool } from "../../base/tool";
import { FIREWALL_TABLE } from "./compile";

export interface ObservedFirewall {
  digest: string | null;
  shape: Record<string, number>;
}

interface NftItem {
  chain?: { name: string };
  rule?: { chain: string; comment?: string };
  map?: { name: string; elem?: unknown[] };
}

export function parseFirewallListing(json: string): ObservedFirewall {
  const items = (JSON.parse(json) as { nftables: NftItem[] }).nftables;
  const shape: Record<string, number> = {};
  let digest: string | null = null;
  for (const it of items) {
    if (it.chain) shape[it.chain.name] ??= 0;
    if (it.map) shape[`@${it.map.name}`] = it.map.elem?.length ?? 0;
    if (it.rule) {
      shape[it.rule.chain] = (shape[it.rule.chain] ?? 0) + 1;
      if (it.rule.chain === "fos1_config" && it.rule.comment?.startsWith("sha256:")) digest = it.rule.comment;
    }
  }
  return { digest, shape };
}

/** null when fos1 has no table on this host. */
export async function observeFirewall(nft = "nft"): Promise<ObservedFirewall | null> {
  const r = await runTool({ purpose: "read fos1's firewall", argv: [nft, "-j", "list", "table", "inet", FIREWALL_TABLE] });
  if (r.exitCode !== 0) {
    if (/No such file or directory/.test(r.stderr)) return null;
    throw new Error(`cannot read fos1's firewall: nft: ${r.stderr.trim()}`);
  }
  return parseFirewallListing(r.stdout);
}
