// The operator's messages for failures the fake Talos API cannot produce: TLS errors by code,
// and a server at the endpoint that does not speak TLS at all.
import { describe, expect, test } from "bun:test";
import { status } from "@grpc/grpc-js";
import { describeFailure } from "../../src/talos/errors";
import { classifyTlsError, probeTls } from "../../src/talos/tls-probe";
import type { TalosTarget } from "../../src/talos/target";
import { makeTestPki } from "./talos-api/certs";

const pki = makeTestPki();
const tls = { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key };
const target: TalosTarget = {
  kind: "apid",
  host: "192.168.99.1",
  port: 50000,
  nodes: [],
  tls,
  credentialsFrom: 'context "router" of /root/.talos/config',
};
const unavailable = { code: status.UNAVAILABLE, details: "No connection established. Last error: Failed to connect. Resolution note: " };

describe("classifyTlsError", () => {
  test.each([
    ["ECONNREFUSED", false, "connect"],
    ["ENOTFOUND", false, "connect"],
    ["SELF_SIGNED_CERT_IN_CHAIN", false, "server-certificate"],
    ["CERT_HAS_EXPIRED", false, "server-certificate"],
    ["ERR_TLS_CERT_ALTNAME_INVALID", false, "server-certificate"],
    ["ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE", false, "client-certificate"],
    ["ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", false, "client-certificate"],
    ["ECONNRESET", true, "client-certificate"],
    ["ERR_SSL_WRONG_VERSION_NUMBER", false, "handshake"],
  ] as const)("%s (after the handshake: %p) is %s", (code, handshaken, stage) => {
    expect(classifyTlsError(code, "m", handshaken).stage).toBe(stage);
  });
});

describe("describeFailure", () => {
  test("an expired apid certificate points at the clocks", () => {
    const err = describeFailure(target, "Version", unavailable, { stage: "server-certificate", code: "CERT_HAS_EXPIRED", message: "certificate has expired" });
    expect(err.message).toBe("the certificate of apid at 192.168.99.1:50000 is not valid now (certificate has expired): check the clocks of this machine and of the node");
  });

  test("a name that does not resolve names where the endpoint came from", () => {
    const err = describeFailure({ ...target, host: "router.lan" }, "Version", unavailable, { stage: "connect", code: "ENOTFOUND", message: "getaddrinfo ENOTFOUND router.lan" });
    expect(err.message).toContain('cannot resolve the endpoint of apid at router.lan:50000: getaddrinfo ENOTFOUND router.lan. Check the endpoint (-e, or endpoints in context "router" of /root/.talos/config)');
  });

  test("TLS accepted but the call unavailable: apid could not reach the node it forwards to", () => {
    const err = describeFailure(target, "ServiceList", { code: status.UNAVAILABLE, details: "upstream connect error" }, { stage: "ok" });
    expect(err.message).toContain("accepts this client, but ServiceList failed as unavailable: upstream connect error");
  });

  test("a deadline names the call; an IPv6 endpoint is bracketed", () => {
    const err = describeFailure({ ...target, host: "fd00::1" }, "ApplyConfiguration", { code: status.DEADLINE_EXCEEDED, details: "Deadline exceeded" });
    expect(err.message).toStartWith("apid at [fd00::1]:50000 did not answer ApplyConfiguration in time");
    expect(err.invalidInput).toBe(false);
  });
});

test("probeTls against a server that does not speak TLS: a handshake failure, not a certificate one", async () => {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void s.end("HTTP/1.1 400 Bad Request\r\n\r\n"), data() {} } });
  try {
    const result = await probeTls("127.0.0.1", server.port, tls, { serverName: "talos-apid", timeoutMs: 10_000 });
    expect(result.stage).toBe("handshake");
  } finally {
    server.stop(true);
  }
});
