// Reads fos1's nftables table back: which compiled config it holds (the digest in the
// fos1_config chain) and its shape (rules per chain, elements per map), so a no-op apply
// writes nothing and a table someone edited by hand is noticed and replaced.
//
// Listing a table of 10 000 rules takes nft half a second, so what a listing showed is kept
// with the ruleset generation it was made at (generation.ts), in the state dir's folder under
// /run (a tmpfs: the record dies with the boot, like the generation). While the generation is
// the same, nothing committed anything to nftables in this namespace, so the table is still
// what was listed and is not listed again; any other transaction, by hand or by another
// program, makes the next observe list it whole. fos1's own load needs no listing: when it was
// the one transaction between the generations read around it, the table is what was compiled,
// and it is kept with the key of the desired state it was compiled from (compiledFrom), so that
// a no-op plan of the same desired state need not compile it again either.
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../../base/atomic-file";
import { fallbackDir } from "../../base/state-dir";
import { runTool } from "../../base/tool";
import { FIREWALL_TABLE } from "./compile";
import { nextGeneration, rulesetGenerationOrNull, sameGeneration, type RulesetGeneration } from "./generation";

export interface ObservedFirewall {
  digest: string | null;
  shape: Record<string, number>;
  /** Only in what fos1's own load kept, never in a listing: the desired state it compiled the table from (reconciler.ts's compiledKey). */
  compiledFrom?: string;
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

/** What a listing showed at a generation. */
interface Listed {
  generation: RulesetGeneration;
  firewall: ObservedFirewall | null;
}

export interface ObserveFirewallOptions {
  /** Path of nft (default: nft on PATH). */
  nft?: string;
  /** The state dir whose runtime folder keeps the last listing; without one, the table is listed every time. */
  stateDir?: string;
}

/** null when fos1 has no table on this host. */
export async function observeFirewall(opts: ObserveFirewallOptions = {}): Promise<ObservedFirewall | null> {
  const record = opts.stateDir === undefined ? null : recordFile(opts.stateDir);
  const before = record ? rulesetGenerationOrNull() : null;
  if (record && before) {
    const kept = readListed(record);
    if (kept && sameGeneration(kept.generation, before)) return kept.firewall;
  }
  const firewall = await listFirewall(opts.nft ?? "nft");
  // Kept only when no transaction came between the two reads: then the listing is the table at that generation.
  const after = before && rulesetGenerationOrNull();
  if (record && before && after && sameGeneration(before, after)) keepListed(record, { generation: before, firewall });
  return firewall;
}

const recordFile = (stateDir: string) => join(fallbackDir(stateDir), "firewall-listed.json");

/**
 * After fos1's own transaction replaced the table whole: when it was the only transaction
 * between the two generations, the table is exactly what was compiled, kept as if listed, so
 * the observe that checks the apply lists nothing either.
 */
export function keepLoaded(stateDir: string, generations: { before: RulesetGeneration | null; after: RulesetGeneration | null }, firewall: ObservedFirewall | null): void {
  const { before, after } = generations;
  if (before && after && nextGeneration(before, after)) keepListed(recordFile(stateDir), { generation: after, firewall });
}

function readListed(file: string): Listed | null {
  try {
    const r = JSON.parse(readFileSync(file, "utf8")) as Listed;
    const valid = typeof r?.generation?.netns === "string" && typeof r.generation.id === "number" && (r.firewall === null || (typeof r.firewall === "object" && typeof r.firewall.shape === "object"));
    return valid ? r : null;
  } catch {
    return null;
  }
}

/** A cache: a runtime folder that cannot be written (a read-only `fos1 plan`) only means listing again. */
function keepListed(file: string, listed: Listed): void {
  try {
    writeFileAtomic(file, JSON.stringify(listed), { mkdir: true, mode: 0o600 });
  } catch {
    // listed again next time
  }
}

async function listFirewall(nft: string): Promise<ObservedFirewall | null> {
  const r = await runTool({ purpose: "read fos1's firewall", argv: [nft, "-j", "list", "table", "inet", FIREWALL_TABLE] });
  if (r.exitCode !== 0) {
    if (/No such file or directory/.test(r.stderr)) return null;
    throw new Error(`cannot read fos1's firewall: nft: ${r.stderr.trim()}`);
  }
  return parseFirewallListing(r.stdout);
}
