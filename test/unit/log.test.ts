import { expect, test } from "bun:test";
import { Logger, type LogSink } from "../../src/base/log";

function capture(isTTY: boolean): { sink: LogSink; lines: string[] } {
  const lines: string[] = [];
  return { sink: { isTTY, write: (l) => void lines.push(l) }, lines };
}

test("not on a terminal: one JSON object per line with time, level, message and fields", () => {
  const { sink, lines } = capture(false);
  new Logger(sink, "info").with({ command: "apply" }).warn("link missing", { link: "eth3" });
  expect(lines).toHaveLength(1);
  expect(lines[0]!.endsWith("\n")).toBe(true);
  const rec = JSON.parse(lines[0]!);
  expect(rec).toMatchObject({ level: "warn", msg: "link missing", command: "apply", link: "eth3" });
});

test("on a terminal: readable text, level word and key=value fields", () => {
  const { sink, lines } = capture(true);
  new Logger(sink, "info").error("apply failed", { link: "eth1", err: new Error("RTNETLINK answers: File exists") });
  expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d ERROR apply failed  link=eth1 err="RTNETLINK answers: File exists"\n$/);
});

test("messages below the minimum level are dropped", () => {
  const { sink, lines } = capture(false);
  const log = new Logger(sink, "warn");
  log.info("chatty");
  log.debug("chattier");
  log.error("kept");
  expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["kept"]);
});
