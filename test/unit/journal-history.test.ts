// The history survives a line cut short by a crash or a full disk while it was appended: the
// apply path reads it to know what is in force, so a torn line must never stop fos1.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Journal } from "../../src/journal/journal";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fos1-history-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function applied(journal: Journal, text: string) {
  const entry = Journal.entryFor(text, "test");
  journal.begin(entry, text);
  journal.commit(entry, { writes: 1 });
}

test("a torn last line is skipped, and the next entry starts on a line of its own", () => {
  const journal = new Journal(dir);
  applied(journal, "a: 1\n");
  appendFileSync(join(dir, "history.jsonl"), '{"digest":"sha256:00","startedAt":"2026-');
  expect(journal.history().map((h) => h.outcome)).toEqual(["converged"]);

  applied(journal, "a: 2\n");
  const history = journal.history();
  expect(history).toHaveLength(2);
  expect(history[1]!.digest).toBe(journal.lastKnownGood()!.entry.digest);
  const lines = readFileSync(join(dir, "history.jsonl"), "utf8").split("\n");
  expect(lines[1]).toBe('{"digest":"sha256:00","startedAt":"2026-');
  expect(JSON.parse(lines[2]!).digest).toBe(history[1]!.digest);
});
