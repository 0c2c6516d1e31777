// The Talos image cache of the boot media (hack/image/cache-images.ts, image/profiles): every image
// the shipped manifests run is in it, and what the first boot still fetches is said.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { cacheImages, firstBootFetches } from "../../hack/image/cache-images";
import { checkProfile } from "../../hack/image/profile";
import { CILIUM_CHART, HELM_IMAGE } from "../../src/cluster/cilium-install";
import { CONTROLLER_IMAGE } from "../../src/cluster/deploy-files";

const repo = join(import.meta.dir, "..", "..");
const read = (path: string) => readFileSync(join(repo, path), "utf8");
const values = parse(read("deploy/cilium/values.yaml")) as unknown;

test("the cache holds every image deploy/manifests/ runs, the install's helm image among them", () => {
  const images = cacheImages(values, CONTROLLER_IMAGE);
  const run = readdirSync(join(repo, "deploy/manifests"))
    .flatMap((f) => parseAllDocuments(read(`deploy/manifests/${f}`)).map((d) => d.toJS()))
    .flatMap((o: any) => o?.spec?.template?.spec?.containers ?? [])
    .map((c: { image: string }) => c.image);
  expect(run.filter((i: string) => !images.includes(i))).toEqual([]);
  expect(images).toContain(HELM_IMAGE);
  expect(images.filter((i) => i.startsWith("quay.io/cilium/"))).toHaveLength(4);
  expect(new Set(images).size).toBe(images.length);
});

test("what the first boot still fetches names the chart, its address and its checksum", () => {
  const [chart] = firstBootFetches(CONTROLLER_IMAGE);
  expect(chart).toContain(CILIUM_CHART.url);
  expect(chart).toContain(CILIUM_CHART.sha256);
});

test.each(["iso", "raw"])("the %s profile carries the image cache make image builds", (name) => {
  const profile = parse(read(`image/profiles/${name}.yaml`)) as { input: { imageCache: unknown } };
  expect(profile.input.imageCache).toEqual({ ociPath: "/image-cache.oci" });
  expect(read("hack/image/run")).toContain('"$cache:/image-cache.oci:ro"');
});

test("checkProfile refuses an image cache the imager would not carry, or a misspelt field of it", () => {
  const installer = parse(read("image/profiles/installer.yaml")) as Record<string, any>;
  installer.input.imageCache = { ociPath: "/image-cache.oci", path: "/x" };
  expect(checkProfile(installer)).toEqual([
    'unknown field "input.imageCache.path"; allowed here: imageRef, forceInsecure, tarballPath, ociPath',
    'input.imageCache: the imager carries an image cache on iso and image output only; got "installer"',
  ]);
});
