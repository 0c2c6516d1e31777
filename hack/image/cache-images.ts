// The Talos image cache of the boot media (make image PROFILE=iso|raw): every image the first
// boot runs before fos1's own config could name a registry — Cilium's install (the helm image),
// Cilium's own images and fos1's controller — so a router boots its cluster without reaching a
// registry. The list is derived from the pins (src/cluster/cilium-install.ts, deploy/cilium/),
// never written by hand. Pure but for the CLI below.
//   bun hack/image/cache-images.ts CONTROLLER_IMAGE               the images, one a line
//   bun hack/image/cache-images.ts CONTROLLER_IMAGE --first-boot  what first boot still fetches
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { CILIUM_CHART, HELM_IMAGE } from "../../src/cluster/cilium-install";
import { ciliumImages } from "../../src/cluster/cilium-images";
import { VALUES_DIR } from "../../src/cluster/deploy-files";

/** The cached images: the install's, Cilium's (from the values the install hands Helm) and the controller's. */
export function cacheImages(ciliumValues: unknown, controllerImage: string): string[] {
  return [...new Set([HELM_IMAGE, ...ciliumImages(ciliumValues), controllerImage])];
}

/** What the first boot still fetches over the network, and how it is checked; one line each. */
export function firstBootFetches(controllerImage: string): string[] {
  return [
    `the Cilium chart ${CILIUM_CHART.url}, checked against sha256 ${CILIUM_CHART.sha256} before Helm reads it (the install Job)`,
    // The cache holds it under its tag: the digest is only known once it is pushed.
    `no image: Kubernetes' own (talosctl images k8s-bundle) and the list above are in the cache; the controller's ${controllerImage} is cached by tag, as pushed`,
  ];
}

if (import.meta.main) {
  const [controller, ...rest] = process.argv.slice(2);
  if (!controller || rest.some((a) => a !== "--first-boot")) {
    console.error("usage: bun hack/image/cache-images.ts CONTROLLER_IMAGE [--first-boot]");
    process.exit(2);
  }
  const repo = resolve(import.meta.dir, "../..");
  // values-direct-routing.yaml changes routing only, never an image.
  const values = parse(readFileSync(join(repo, VALUES_DIR, "values.yaml"), "utf8")) as unknown;
  const lines = rest.includes("--first-boot") ? firstBootFetches(controller) : cacheImages(values, controller);
  console.log(lines.join("\n"));
}
