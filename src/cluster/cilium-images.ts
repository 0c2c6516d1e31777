// The container images Cilium's chart runs, as it spells them, read from fos1's Helm values
// (deploy/cilium/): the chart writes `repository[suffix]:tag@digest` when useDigest is true.
// The Talos image cache is listed from these (hack/image/cache-images.ts), and the unit tests
// hold that every one is pinned.

/** Where the values keep each image the enabled components run, and the chart's name suffix and digest key for it. */
const IMAGE_VALUES: { path: string[]; suffix?: string; digestKey?: string }[] = [
  { path: ["image"] },
  { path: ["envoy", "image"] },
  { path: ["hubble", "relay", "image"] },
  // The operator's image is per cloud; a bare-metal router runs the generic one.
  { path: ["operator", "image"], suffix: "-generic", digestKey: "genericDigest" },
];

const DIGEST = /@sha256:[0-9a-f]{64}$/;

/** Whether a reference names its image by content (a sha256 digest), not only by a movable tag. */
export const isPinned = (ref: string) => DIGEST.test(ref);

/** The image references the chart renders from these (merged) values; a missing image is an error naming its path. */
export function ciliumImages(values: unknown): string[] {
  return IMAGE_VALUES.map(({ path, suffix = "", digestKey = "digest" }) => {
    const image = path.reduce<unknown>((v, k) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined), values) as Record<string, unknown> | undefined;
    const where = path.join(".");
    if (!image || typeof image.repository !== "string" || typeof image.tag !== "string") throw new Error(`${where}: the values must name the image (repository and tag)`);
    const digest = image.useDigest === true && typeof image[digestKey] === "string" ? `@${image[digestKey] as string}` : "";
    return `${image.repository}${suffix}:${image.tag}${digest}`;
  });
}
