// The steps of the journal's changes of state during one apply that converges (begin, then
// commit), in order: the places a crash test kills a writer (src/journal/journal.ts).
export const APPLY_JOURNAL_STEPS = [
  "begin: config archived",
  "begin: journal.json written, not yet renamed",
  "begin: journal.json renamed",
  "begin: views updated",
  "commit: journal.json written, not yet renamed",
  "commit: journal.json renamed",
  "commit: views updated",
  "commit: history appended",
] as const;
