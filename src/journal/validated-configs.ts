// Re-applying a config is the common case (config management runs `fos1 apply` on a schedule,
// an operator applies again to be sure), and for a large config reading the YAML costs more
// than everything else a no-op apply does. So next to each config that converged, the journal
// keeps the objects it was read into; the same bytes, given to the very executable that read
// them, are taken from there instead of parsed and validated again. Validation is a pure
// function of the text and of fos1's source, so the result is the same; a build from other
// source (FOS1_SOURCE_DIGEST, stamped by `make build`) or a run from source never uses them.
import { existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../base/atomic-file";
import { join } from "node:path";
import type { LoadedObject } from "../api/load";
import { configDigest } from "./journal";

interface Stored {
  source: string;
  objects: { document: number; ref: string; value: LoadedObject["value"] }[];
}

export class ValidatedConfigs {
  constructor(
    private readonly stateDir: string,
    private readonly sourceDigest: string | undefined = process.env.FOS1_SOURCE_DIGEST,
  ) {}

  /** The objects `text` was read into before, or null: then it must be loaded. */
  get(text: string, file: string): LoadedObject[] | null {
    if (!this.sourceDigest) return null;
    const path = this.pathFor(text);
    if (!existsSync(path)) return null;
    try {
      const stored = JSON.parse(readFileSync(path, "utf8")) as Stored;
      if (stored.source !== this.sourceDigest) return null;
      return stored.objects.map((o) => ({ source: { file, document: o.document }, ref: o.ref, value: o.value }));
    } catch {
      return null; // unreadable or torn: read the YAML as if it were not there
    }
  }

  /** Keep the objects of a config that converged. */
  remember(text: string, objects: LoadedObject[]): void {
    if (!this.sourceDigest) return;
    const stored: Stored = { source: this.sourceDigest, objects: objects.map((o) => ({ document: o.source.document, ref: o.ref, value: o.value })) };
    writeFileAtomic(this.pathFor(text), JSON.stringify(stored), { mkdir: true });
  }

  private pathFor(text: string): string {
    return join(this.stateDir, "configs", `${configDigest(text).replace(":", "-")}.objects.json`);
  }
}
