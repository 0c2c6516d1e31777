import { expect, test } from "bun:test";
import { batchErrors } from "../../src/engine/apply";

test("each numbered failure keeps the kernel's message; an argument error after them means ip gave up", () => {
  // What `ip -force -batch -` (iproute2 6.1) printed for: a missing device, then "master nope".
  const stderr = 'Cannot find device "nonexist"\nCommand failed -:1\nError: argument "nope" is wrong: Device does not exist\n';
  const r = batchErrors(stderr);
  expect([...r.failed]).toEqual([[1, 'Cannot find device "nonexist"']]);
  expect(r.aborted).toBe('Error: argument "nope" is wrong: Device does not exist');
});

test("a batch whose failures are all numbered was not aborted", () => {
  const r = batchErrors("RTNETLINK answers: File exists\nCommand failed -:3\nRTNETLINK answers: No such process\nCommand failed -:7\n");
  expect([...r.failed.keys()]).toEqual([3, 7]);
  expect(r.aborted).toBeNull();
});
