// The journal's state (which config is pending, which is the last-known-good) changes in one
// rename of journal.json, so a crash at any step leaves the old state or the new one, each
// with its config readable; a journal an earlier fos1 wrote, even one its crash left half
// renamed, is read and upgraded, never a reason to stop.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Journal, configDigest, type JournalEntry } from "../../src/journal/journal";
import { APPLY_JOURNAL_STEPS } from "../helpers/journal-steps";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fos1-journal-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const A = "a: 1\n";
const B = "b: 2\n";

function apply(journal: Journal, text: string): JournalEntry {
  const entry = Journal.entryFor(text, "test");
  journal.begin(entry, text);
  journal.commit(entry, { writes: 1 });
  return entry;
}

/** What a reader sees: the digests of the pending and last-known-good configs, each with its text checked. */
function state(d = dir) {
  const j = new Journal(d);
  const seen = (x: { entry: JournalEntry; text: string } | null) => {
    if (!x) return null;
    expect(configDigest(x.text)).toBe(x.entry.digest);
    return x.text;
  };
  return { pending: seen(j.pending()), lastKnownGood: seen(j.lastKnownGood()) };
}

class Crash extends Error {}

describe("journal.json", () => {
  test("a converged apply is the last-known-good, nothing is pending, and the files for people point at it", () => {
    apply(new Journal(dir), A);
    expect(state()).toEqual({ pending: null, lastKnownGood: A });
    expect(lstatSync(join(dir, "last-known-good.yaml")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, "last-known-good.yaml"))).toBe(`configs/${configDigest(A).replace(":", "-")}.yaml`);
    expect(readFileSync(join(dir, "last-known-good.yaml"), "utf8")).toBe(A);
    expect(existsSync(join(dir, "pending.yaml"))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, "journal.json"), "utf8"))).toMatchObject({ pending: null, lastKnownGood: { digest: configDigest(A) } });
  });

  test("a crash at every step of begin and commit leaves the old state or the new one, each config readable", () => {
    apply(new Journal(dir), A);
    const steps: string[] = [];
    apply(new Journal(mkdtempSync(join(tmpdir(), "fos1-journal-steps-")), { onStep: (s) => void steps.push(s) }), A);
    expect(steps).toEqual([...APPLY_JOURNAL_STEPS]);
    const before = { pending: null, lastKnownGood: A };
    const applying = { pending: B, lastKnownGood: A };
    const after = { pending: null, lastKnownGood: B };
    const expected: Record<string, object> = {
      "begin: config archived": before,
      "begin: journal.json written, not yet renamed": before,
      "begin: journal.json renamed": applying,
      "begin: views updated": applying,
      "commit: journal.json written, not yet renamed": applying,
      "commit: journal.json renamed": after,
      "commit: views updated": after,
      "commit: history appended": after,
    };
    for (const step of steps) {
      const copy = mkdtempSync(join(tmpdir(), "fos1-journal-crash-"));
      try {
        apply(new Journal(copy), A);
        const crashing = new Journal(copy, {
          onStep: (s) => {
            if (s === step) throw new Crash(s);
          },
        });
        expect(() => apply(crashing, B)).toThrow(Crash);
        expect({ step, ...state(copy) }).toEqual({ step, ...expected[step]! } as never);
        // The next apply of B (the agent's retry, the next boot) finishes the job.
        apply(new Journal(copy), B);
        expect(state(copy)).toEqual(after);
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    }
  });
});

describe("a journal an earlier fos1 wrote", () => {
  const legacy = (base: string, text: string, withText = true) => {
    writeFileSync(join(dir, `${base}.json`), JSON.stringify(Journal.entryFor(text, "earlier fos1")) + "\n");
    if (withText) writeFileSync(join(dir, `${base}.yaml`), text);
  };

  test("is read as it is, and replaced by journal.json at its first change, the old last-known-good kept", () => {
    legacy("last-known-good", A);
    expect(state()).toEqual({ pending: null, lastKnownGood: A });
    const journal = new Journal(dir);
    const entry = Journal.entryFor(B, "test");
    journal.begin(entry, B);
    expect(state()).toEqual({ pending: B, lastKnownGood: A });
    expect(existsSync(join(dir, "last-known-good.json"))).toBe(false);
    expect(lstatSync(join(dir, "last-known-good.yaml")).isSymbolicLink()).toBe(true);
    journal.commit(entry, {});
    expect(state()).toEqual({ pending: null, lastKnownGood: B });
    expect(new Journal(dir).archived(configDigest(A))).toBe(A);
  });

  test("with pending.json but no pending.yaml (its crash between two renames) has nothing pending, and the next apply works", () => {
    legacy("last-known-good", A);
    legacy("pending", B, false);
    expect(state()).toEqual({ pending: null, lastKnownGood: A });
    apply(new Journal(dir), B);
    expect(state()).toEqual({ pending: null, lastKnownGood: B });
    expect(existsSync(join(dir, "pending.json"))).toBe(false);
  });
});
