// A client of the Talos machine API (Version, ServiceList, ApplyConfiguration, Logs, Kubeconfig) over
// machined's socket or apid with mutual TLS. apid answers for each node named in the "nodes"
// metadata: one reply message per node, a node it could not reach carrying metadata.error.
import { status, type CallOptions, type ClientReadableStream, type ClientUnaryCall, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { MachineServiceClient } from "./schema";
import { channelCredentials, channelOptions, describeTarget, grpcTarget, nodesMetadata, tlsServerName, type TalosTarget } from "./target";
import { kubeconfigFromArchive } from "./kubeconfig-archive";
import { describeFailure, TalosApiError, type Rpc } from "./errors";
import { probeTls } from "./tls-probe";
import type { ApplyConfigurationMessage, ApplyConfigurationRequest, DataMessage, LogsRequest, NodeReply, ServiceListMessage, VersionMessage } from "./types";

type UnaryCallback = (err: ServiceError | null, response?: { messages: NodeReply[] }) => void;
type UnaryMethod = (request: object, metadata: Metadata, options: CallOptions, callback: UnaryCallback) => ClientUnaryCall;

interface MachineServiceStub {
  Version: UnaryMethod;
  ServiceList: UnaryMethod;
  ApplyConfiguration: UnaryMethod;
  Logs(request: LogsRequest, metadata: Metadata): ClientReadableStream<DataMessage>;
  Kubeconfig(request: object, metadata: Metadata, options: CallOptions): ClientReadableStream<DataMessage>;
  close(): void;
}

/** One node's answer: its reply, or why apid could not get one. */
export type NodeResult<T> = { node: string; reply: T; error?: undefined } | { node: string; error: string; reply?: undefined };

export interface ClientOptions {
  /** Deadline of a unary call. */
  callTimeoutMs: number;
  /** How long the diagnosis of a failed TLS connection may wait for apid. */
  probeTimeoutMs: number;
}

const DEFAULTS: ClientOptions = { callTimeoutMs: 30_000, probeTimeoutMs: 5_000 };

export class TalosClient {
  private readonly stub: MachineServiceStub;
  private readonly options: ClientOptions;

  constructor(
    readonly target: TalosTarget,
    options: Partial<ClientOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.stub = new MachineServiceClient(grpcTarget(target), channelCredentials(target), channelOptions(target)) as unknown as MachineServiceStub;
  }

  version(): Promise<NodeResult<VersionMessage>[]> {
    return this.unary<VersionMessage>("Version", {});
  }

  serviceList(): Promise<NodeResult<ServiceListMessage>[]> {
    return this.unary<ServiceListMessage>("ServiceList", {});
  }

  applyConfiguration(request: ApplyConfigurationRequest): Promise<NodeResult<ApplyConfigurationMessage>[]> {
    return this.unary<ApplyConfigurationMessage>("ApplyConfiguration", request);
  }

  /**
   * Streams a service's log to onChunk until it ends (without follow: what Talos kept) or the
   * signal aborts. Returns the nodes apid could not get the log from.
   */
  logs(request: LogsRequest, onChunk: (node: string, bytes: Uint8Array) => void, signal?: AbortSignal): Promise<{ node: string; error: string }[]> {
    return this.stream("Logs", this.stub.Logs(request, nodesMetadata(this.target)), onChunk, signal);
  }

  /**
   * The cluster's admin kubeconfig, as text (control-plane nodes only). It grants everything in
   * the cluster: the caller keeps it in memory, never in a log or a file.
   */
  async kubeconfig(): Promise<string> {
    const chunks: Uint8Array[] = [];
    const failed = await this.stream("Kubeconfig", this.stub.Kubeconfig({}, nodesMetadata(this.target), { deadline: Date.now() + this.options.callTimeoutMs }), (_node, bytes) => void chunks.push(bytes));
    if (failed.length) throw new TalosApiError(`Talos could not get the kubeconfig from ${failed.map((f) => `${f.node}: ${f.error}`).join("; ")}`, status.UNAVAILABLE);
    if (!chunks.length) throw new TalosApiError(`${describeTarget(this.target)} answered Kubeconfig with nothing`, status.INTERNAL);
    return kubeconfigFromArchive(Buffer.concat(chunks));
  }

  /** Reads a stream of common.Data to its end; a node apid could not reach is returned, not thrown. */
  private async stream(rpc: "Logs" | "Kubeconfig", call: ClientReadableStream<DataMessage>, onChunk: (node: string, bytes: Uint8Array) => void, signal?: AbortSignal): Promise<{ node: string; error: string }[]> {
    const abort = () => call.cancel();
    signal?.addEventListener("abort", abort);
    const failed: { node: string; error: string }[] = [];
    try {
      for await (const data of call as AsyncIterable<DataMessage>) {
        const node = this.nodeOf(data);
        if (data.metadata?.error) failed.push({ node, error: data.metadata.error });
        else if (data.bytes.length) onChunk(node, data.bytes);
      }
    } catch (err) {
      if (signal?.aborted && (err as ServiceError).code === status.CANCELLED) return failed;
      throw await this.failure(rpc, err as ServiceError);
    } finally {
      signal?.removeEventListener("abort", abort);
    }
    return failed;
  }

  close() {
    this.stub.close();
  }

  private async unary<T extends NodeReply>(rpc: Exclude<Rpc, "Logs" | "Kubeconfig">, request: object): Promise<NodeResult<T>[]> {
    const response = await new Promise<{ messages: NodeReply[] }>((resolve, reject) => {
      const deadline = Date.now() + this.options.callTimeoutMs;
      this.stub[rpc](request, nodesMetadata(this.target), { deadline }, (err, res) => (err ? reject(err) : resolve(res!)));
    }).catch(async (err: ServiceError) => {
      throw await this.failure(rpc, err);
    });
    if (!response.messages.length) throw new TalosApiError(`Talos answered ${rpc} with no reply for any node`, status.INTERNAL);
    return response.messages.map((m) => {
      const node = this.nodeOf(m);
      return m.metadata?.error ? { node, error: m.metadata.error } : { node, reply: m as T };
    });
  }

  /** The node a reply is from: apid names it; otherwise the one node asked, or the endpoint. */
  private nodeOf(reply: NodeReply): string {
    if (reply.metadata?.hostname) return reply.metadata.hostname;
    if (this.target.kind === "socket") return "local";
    return this.target.nodes.length === 1 ? this.target.nodes[0]! : this.target.host;
  }

  private async failure(rpc: Rpc, err: ServiceError): Promise<TalosApiError> {
    const failure = { code: err.code ?? status.UNKNOWN, details: err.details || err.message };
    const target = this.target;
    const probe =
      failure.code === status.UNAVAILABLE && target.kind === "apid"
        ? await probeTls(target.host, target.port, target.tls, { serverName: tlsServerName(target.host), timeoutMs: this.options.probeTimeoutMs })
        : undefined;
    return describeFailure(target, rpc, failure, probe);
  }
}
