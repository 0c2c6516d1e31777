// A separate process for firewall.test.ts, run in a namespace (`ip netns exec NS bun
// firewall-observe-child.ts STATE_DIR NFT`): observes fos1's table as apply does and prints
// {firewall} or {error}. Given an nft path that does not exist, it shows whether the
// observation listed the table (the error) or took what the last listing showed at the same
// nftables generation (no nft needed).
import { observeFirewall } from "../../src/engine/firewall/observe";

const [stateDir, nft] = process.argv.slice(2) as [string, string];
try {
  console.log(JSON.stringify({ firewall: await observeFirewall({ stateDir, nft }) }));
} catch (err) {
  console.log(JSON.stringify({ error: (err as Error).message }));
}
