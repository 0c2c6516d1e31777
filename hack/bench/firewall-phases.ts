// Run by hack/bench/firewall.ts inside the router namespace (`ip netns exec … bun
// firewall-phases.ts CONFIG.yaml MODE`): times the steps of `fos1 apply` with the engine's own
// functions, so the firewall benchmark can say where the time of a large ruleset goes beyond
// nft's own load. One process per MODE, so every number is as cold as in a real command.
//
// Modes (each prints one JSON object {ms, …}):
//   cold   fos1's table absent: what `fos1 apply` does, in its order — load + validate (YAML
//          and schemas, cross-object checks), desired state, observe, compile alone, plan
//          (which compiles again and serialises the transaction), the `nft -j -f -` load
//          (with nftables' generation read around it, as the engine does), observe and plan
//          again to verify
//   noop   fos1's table loaded (by cold, whose observe after the load kept what it listed):
//          load + validate, desired state, the nft listing and its parse alone (what observe
//          would cost if nftables' generation had moved), observe (it has not), plan
//   fastread  js-yaml's read of the config alone, as load does it for every config
//   yaml   the `yaml` package's positioned parse alone, which load adds for a config with a problem
import { CORE_SCHEMA, loadAll } from "js-yaml";
import { LineCounter, parseAllDocuments } from "yaml";
import { checkNetwork } from "../../src/api/checks/network";
import { checkSecurity } from "../../src/api/checks/security";
import { loadConfigText } from "../../src/api/load";
import { desiredState } from "../../src/engine/desired";
import { compileFirewall, FIREWALL_TABLE } from "../../src/engine/firewall/compile";
import { keepLoaded, parseFirewallListing } from "../../src/engine/firewall/observe";
import { rulesetGenerationOrNull } from "../../src/engine/firewall/generation";
import { DEFAULT_STATE_DIR } from "../../src/base/state-dir";
import { observe, rendered } from "../../src/engine/apply";
import { plan } from "../../src/engine/plan";
import { ms, timed } from "./phase-timer";
import { runTool, runToolOk } from "../../src/base/tool";

const [file, mode] = process.argv.slice(2);
if (!file || !mode) throw new Error("usage: firewall-phases CONFIG.yaml cold|noop|fastread|yaml|bunyaml|checks");


const text = await Bun.file(file).text();
const out: Record<string, unknown> = {};
if (mode === "cold" || mode === "noop") {
  const loaded = await timed("loadValidate", () => loadConfigText(text, file));
  if (loaded.problems.length) throw new Error(`config has problems: ${JSON.stringify(loaded.problems.slice(0, 3))}`);
  const desired = await timed("desiredState", () => desiredState(loaded.objects));
  if (mode === "noop") {
    // What listing the whole table costs, which observe skips while nftables' generation
    // stays where cold's last observe saw it (a listing commits nothing, so it stays).
    const listing = await timed("nftList", () => runToolOk({ purpose: "list fos1's table", argv: ["nft", "-j", "list", "table", "inet", FIREWALL_TABLE] }));
    await timed("parseListing", () => parseFirewallListing(listing));
    out.listingBytes = listing.length;
  }
  const observed = await timed("observe", () => observe(desired));
  if (mode === "cold" && observed.firewall !== null) throw new Error("cold: fos1's table is present; delete it first");
  if (mode === "noop" && observed.firewall === null) throw new Error("noop: fos1's table is absent; load it first");
  const compiled = await timed("compile", () => compileFirewall(desired.firewall));
  await timed("transactionJson", () => JSON.stringify({ nftables: compiled.commands }));
  const p = await timed("plan", () => plan(desired, observed));
  out.ops = p.ops.length;
  if (mode === "cold") {
    const fw = p.ops.find((o) => o.phase === "firewall");
    if (!fw) throw new Error("cold: the plan has no firewall op");
    const transaction = rendered([fw])[0]!;
    out.transactionBytes = transaction.length;
    // As the engine's writer does: nftables' generation read around the load, and the compiled table kept as listed.
    const r = await timed("nftLoad", async () => {
      const before = rulesetGenerationOrNull();
      const loaded = await runTool({ purpose: "load the firewall", argv: ["nft", "-j", "-f", "-"], stdin: transaction });
      if (loaded.exitCode === 0) keepLoaded(DEFAULT_STATE_DIR, { before, after: rulesetGenerationOrNull() }, { digest: compiled.digest, shape: compiled.shape });
      return loaded;
    });
    if (r.exitCode !== 0) throw new Error(`nft refused the ruleset: ${r.stderr.slice(0, 500)}`);
    const after = await timed("observeAfter", () => observe(desired));
    const left = await timed("planAfter", () => plan(desired, after));
    if (left.ops.length) throw new Error(`cold: not converged after the load: ${left.ops.map((o) => o.subject).join(", ")}`);
  }
} else if (mode === "fastread") {
  await timed("fastRead", () => loadAll(text, null, { schema: CORE_SCHEMA }));
} else if (mode === "yaml") {
  const docs = await timed("yaml", () => parseAllDocuments(text, { lineCounter: new LineCounter(), uniqueKeys: true }));
  await timed("toJS", () => (Array.isArray(docs) ? docs.map((d) => d.toJS()) : []));
} else if (mode === "bunyaml") {
  await timed("bunYaml", () => Bun.YAML.parse(text));
} else if (mode === "checks") {
  // Warm (after a full load): what the cross-object checks cost beside the rest of validation.
  const loaded = loadConfigText(text, file);
  await timed("checkNetwork", () => checkNetwork(loaded.objects));
  await timed("checkSecurity", () => checkSecurity(loaded.objects));
} else throw new Error(`unknown mode ${mode}`);
console.log(JSON.stringify({ ...out, ms }));
