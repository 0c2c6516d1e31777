// Suricata EVE lines → alerts, other events and malformed lines (src/ids/eve.ts), and the
// bounded line splitter under them (lines.ts), on recorded lines (test/unit/ids/eve-recorded.jsonl:
// stats, flow, dns, http, anomaly and fileinfo events, alerts over IPv4 and IPv6 — written both
// compressed and as Suricata's eight full groups — an alert whose rule names the attacker with
// `target`, and broken lines).
import { describe, expect, test } from "bun:test";
import { parseEveLine, type EveRecord } from "../../src/ids/eve";
import { LineSplitter } from "../../src/ids/lines";

const FIXTURE = new URL("./ids/eve-recorded.jsonl", import.meta.url).pathname;

function brief(r: EveRecord): string {
  if (r.kind === "alert") return `alert ${r.alert.sourceIp} sev ${r.alert.severity} sid ${r.alert.signatureId}`;
  if (r.kind === "event") return `event ${r.type}`;
  return `malformed ${r.reason}`;
}

/** A splitter that records what it gives. */
function splitter(maxBytes: number) {
  const got: string[] = [];
  let overlong = 0;
  const s = new LineSplitter({ line: (l) => void got.push(l), overlong: () => void overlong++ }, maxBytes);
  return { s, got, overlong: () => overlong };
}

describe("EVE lines", () => {
  test("each recorded line is an alert with its attacker, severity and rule, another event, or malformed with the reason", async () => {
    const lines = (await Bun.file(FIXTURE).text()).split("\n").filter((l) => l.trim());
    expect(lines.map((l) => brief(parseEveLine(l)))).toEqual([
      "event stats",
      "event flow",
      "event dns",
      "event http",
      "alert 203.0.113.7 sev 2 sid 2001219",
      "alert 203.0.113.7 sev 2 sid 2001219",
      "alert 198.51.100.23 sev 3 sid 2014819",
      "alert 2001:db8:bad::17 sev 1 sid 2034647", // written 2001:0db8:0bad:0000:…: one canonical spelling
      "alert 2001:db8:bad::17 sev 1 sid 2034647",
      "alert 10.0.0.50 sev 2 sid 2010937",
      "alert 198.51.100.99 sev 1 sid 2030358", // alert.source names the attacker: the packet's destination
      "malformed json",
      "malformed not_object",
      "malformed no_event_type",
      "malformed bad_alert",
      "malformed bad_alert",
      "event anomaly",
      "alert 0.0.0.0 sev 1 sid 2025131",
      "event fileinfo",
      "alert 192.0.2.200 sev 2 sid 2023753",
    ]);
  });

  test("a malformed line says what is wrong with it", () => {
    const detail = (line: string) => {
      const r = parseEveLine(line);
      return r.kind === "malformed" ? r.detail : `not malformed: ${r.kind}`;
    };
    expect(detail('{"event_type":"alert","src_ip":"203.0.113.8","alert":{"signature_id":1,"severity":"high"}}')).toBe('alert.severity "high" is not a priority 1–255');
    expect(detail('{"event_type":"alert","src_ip":"203.0.113.8","alert":{"signature_id":1,"severity":0}}')).toBe("alert.severity 0 is not a priority 1–255");
    expect(detail('{"event_type":"alert","src_ip":"203.0.113.8","alert":{"signature_id":-4,"severity":2}}')).toBe("alert.signature_id -4 is not a rule id");
    expect(detail('{"event_type":"alert","src_ip":"999.0.113.8","alert":{"signature_id":1,"severity":2}}')).toBe('src_ip "999.0.113.8" is not an IP address');
    expect(detail('{"event_type":"alert","src_ip":"203.0.113.8","alert":{"signature_id":1,"severity":2,"source":{"ip":"nope"}}}')).toBe('alert.source.ip "nope" is not an IP address');
    expect(detail('{"event_type":"alert","src_ip":"203.0.113.8"}')).toBe("an alert without its alert object");
    expect(detail("42")).toBe("a JSON number, not an EVE record (an object)");
    expect(detail("null")).toBe("a JSON null, not an EVE record (an object)");
  });
});

describe("line splitting", () => {
  test("lines split across chunks are joined; CRLF and blank lines are handled", () => {
    const { s, got } = splitter(1024);
    for (const part of ['{"a":', '1}\n{"b"', ':2}\r\n\n  \n{"c":3}']) s.push(Buffer.from(part));
    expect(got).toEqual(['{"a":1}', '{"b":2}']);
    s.end();
    expect(got).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  test("a line over the bound is skipped and counted once, whatever its length and however it arrives; the next line is whole", () => {
    const { s, got, overlong } = splitter(100);
    s.push(Buffer.from("x".repeat(60)));
    s.push(Buffer.from("x".repeat(60))); // over the bound here
    for (let i = 0; i < 1000; i++) s.push(Buffer.from("y".repeat(1000))); // a megabyte more of the same line
    s.push(Buffer.from('zzz\n{"ok":1}\n'));
    expect(overlong()).toBe(1);
    expect(got).toEqual(['{"ok":1}']);
    s.push(Buffer.from(`${"w".repeat(500)}\n${"v".repeat(100)}\n`));
    expect(overlong()).toBe(2);
    expect(got).toEqual(['{"ok":1}', "v".repeat(100)]);
  });

  test("multi-byte characters split between chunks survive", () => {
    const { s, got } = splitter(1024);
    const bytes = Buffer.from('{"signature":"ET Überwachung"}\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside "Ü"
    s.push(bytes.subarray(0, cut));
    s.push(bytes.subarray(cut));
    expect(got).toEqual(['{"signature":"ET Überwachung"}']);
  });
});
