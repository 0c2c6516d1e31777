// Why a TLS connection to apid fails, found by one plain connection with the same credentials.
// grpc-js reports every failure to connect as UNAVAILABLE, and a client certificate apid refuses
// only as "Failed to connect": the operator needs to know which side's certificate is wrong.
import { checkServerIdentity, connect } from "node:tls";
import type { ClientTls } from "./target";

export type TlsProbeResult =
  /** No TLS session: TCP refused, unreachable, a name that does not resolve. */
  | { stage: "connect"; code: string; message: string }
  /** The server's certificate did not pass: not from the CA, wrong name, expired. */
  | { stage: "server-certificate"; code: string; message: string }
  /** The handshake passed here, then the server ended it: it refused the client certificate. */
  | { stage: "client-certificate"; code?: string; message: string }
  /** TLS itself failed (not a TLS server, no common protocol version or cipher). */
  | { stage: "handshake"; code: string; message: string }
  /** The server answered HTTP/2: TLS is not the problem. */
  | { stage: "ok" }
  | { stage: "no-answer"; afterMs: number };

// The client's HTTP/2 connection preface and an empty SETTINGS frame: a server that kept the
// session answers with its own SETTINGS.
const H2_PREFACE = Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

// TLS alerts a server sends about the client's certificate (OpenSSL/BoringSSL error reasons).
const CLIENT_CERTIFICATE_ALERTS = /ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_REQUIRED|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED|DECRYPT_ERROR)/;

/** Which stage an error of a TLS socket belongs to, from its code. */
export function classifyTlsError(code: string, message: string, handshaken: boolean): TlsProbeResult {
  if (handshaken || CLIENT_CERTIFICATE_ALERTS.test(code)) return { stage: "client-certificate", code, message };
  if (code.startsWith("E") && !code.startsWith("ERR_")) return { stage: "connect", code, message };
  if (code.startsWith("ERR_SSL_") || !code) return { stage: "handshake", code, message };
  // X.509 verification codes (SELF_SIGNED_CERT_IN_CHAIN, CERT_HAS_EXPIRED, …) and the name check.
  return { stage: "server-certificate", code, message };
}

export function probeTls(host: string, port: number, tls: ClientTls, opts: { serverName: string; timeoutMs: number }): Promise<TlsProbeResult> {
  return new Promise((resolve) => {
    let handshaken = false;
    const socket = connect({
      host,
      port,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      ALPNProtocols: ["h2"],
      servername: opts.serverName,
      // The gRPC channel's check (target.ts): the certificate against the host dialled.
      checkServerIdentity: (_name, peer) => checkServerIdentity(host, peer),
    });
    const done = (result: TlsProbeResult) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on("error", () => {});
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ stage: "no-answer", afterMs: opts.timeoutMs }), opts.timeoutMs);
    socket.once("secureConnect", () => {
      handshaken = true;
      socket.write(H2_PREFACE);
    });
    socket.once("data", () => done({ stage: "ok" }));
    socket.once("error", (err: NodeJS.ErrnoException) => done(classifyTlsError(err.code ?? "", err.message, handshaken)));
    socket.once("close", () =>
      done(
        handshaken
          ? { stage: "client-certificate", message: "the server closed the connection right after the handshake" }
          : { stage: "handshake", code: "", message: "the server closed the connection before TLS was set up" },
      ),
    );
  });
}
