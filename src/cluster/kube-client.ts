// KubeApi on @kubernetes/client-node. Every resource fos1 touches (its CRDs, Cilium's, Leases,
// Events) lives under /apis/{group}/{version}, so the generic CustomObjectsApi reaches all of
// them and one untyped code path serves every kind.
import { ApiException, CustomObjectsApi, KubeConfig, Watch, setHeaderOptions } from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeError, type KubeApi, type KubeObject, type ObjectList, type ResourceType, type Selection, type WatchEvent, type Watching } from "./kube-api";

export interface KubeConfigSource {
  /** A kubeconfig file; without it: $KUBECONFIG, the in-cluster service account, ~/.kube/config. */
  kubeconfig?: string;
  /** A context of the kubeconfig other than its current one. */
  context?: string;
}

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** Loads the API's address and credentials in controller-runtime's order, never guessing one. */
export function loadKubeConfig(source: KubeConfigSource = {}, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  const userConfig = join(env.HOME ?? homedir(), ".kube", "config");
  if (source.kubeconfig) kc.loadFromFile(source.kubeconfig);
  else if (env.KUBECONFIG) kc.loadFromDefault();
  else if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) kc.loadFromCluster();
  else if (existsSync(userConfig)) kc.loadFromFile(userConfig);
  else throw new Error("no Kubernetes API to talk to: not in a cluster, no $KUBECONFIG and no ~/.kube/config; pass --kubeconfig FILE");
  if (source.context) kc.setCurrentContext(source.context);
  if (!kc.getCurrentCluster()) throw new Error(`${source.kubeconfig ?? "the kubeconfig"}: its current context names no cluster`);
  return kc;
}

export class ClientNodeKubeApi implements KubeApi {
  private readonly api: CustomObjectsApi;
  private readonly watcher: Watch;

  constructor(private readonly kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.watcher = new Watch(kc);
  }

  async list(type: ResourceType, selection: Selection = {}): Promise<ObjectList> {
    const common = { group: type.group, version: type.version, plural: type.plural, labelSelector: selection.labelSelector };
    const body = (await call(() =>
      !type.namespaced
        ? this.api.listClusterCustomObject(common)
        : selection.namespace
          ? this.api.listNamespacedCustomObject({ ...common, namespace: selection.namespace })
          : this.api.listCustomObjectForAllNamespaces({ ...common, resourcePlural: type.plural }),
    )) as { metadata?: { resourceVersion?: string }; items?: KubeObject[] };
    return { resourceVersion: body.metadata?.resourceVersion ?? "", items: body.items ?? [] };
  }

  async watch(type: ResourceType, selection: Selection & { resourceVersion: string }, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<Watching> {
    let settle: { resolve: () => void; reject: (err: unknown) => void } | undefined;
    const ended = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const query = {
      resourceVersion: selection.resourceVersion,
      labelSelector: selection.labelSelector,
      allowWatchBookmarks: true,
      // The server ends a watch after this long (as client-go does, 5–10 min); the informer watches again.
      timeoutSeconds: 300 + Math.floor(Math.random() * 300),
    };
    // client-node hands out the watch's AbortController only once the response has begun: a stop
    // before that settles at once and aborts the request when it arrives.
    const started = this.watcher.watch(
      collectionPath(type, type.namespaced ? selection.namespace : undefined),
      query,
      (eventType, object) => onEvent({ type: eventType as WatchEvent["type"], object }),
      (err: unknown) => {
        if (!err || signal.aborted || (err instanceof Error && err.name === "AbortError")) settle?.resolve();
        else settle?.reject(toKubeError(err));
      },
    );
    const stop = () => {
      settle?.resolve();
      void started.then((abort) => abort.abort());
    };
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
    const forget = () => signal.removeEventListener("abort", stop);
    ended.then(forget, forget);
    if (!signal.aborted) await Promise.race([started, ended]);
    return { stop, ended };
  }

  async get(type: ResourceType, name: string, namespace?: string): Promise<KubeObject | undefined> {
    try {
      return (await call(() =>
        type.namespaced
          ? this.api.getNamespacedCustomObject({ ...address(type), namespace: ns(type, namespace), name })
          : this.api.getClusterCustomObject({ ...address(type), name }),
      )) as KubeObject;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  async create(type: ResourceType, object: KubeObject): Promise<KubeObject> {
    return (await call(() =>
      type.namespaced
        ? this.api.createNamespacedCustomObject({ ...address(type), namespace: ns(type, object.metadata.namespace), body: object })
        : this.api.createClusterCustomObject({ ...address(type), body: object }),
    )) as KubeObject;
  }

  async replace(type: ResourceType, object: KubeObject): Promise<KubeObject> {
    const name = object.metadata.name;
    return (await call(() =>
      type.namespaced
        ? this.api.replaceNamespacedCustomObject({ ...address(type), namespace: ns(type, object.metadata.namespace), name, body: object })
        : this.api.replaceClusterCustomObject({ ...address(type), name, body: object }),
    )) as KubeObject;
  }

  async apply(type: ResourceType, object: KubeObject, fieldManager: string): Promise<KubeObject> {
    // client-node offers json-patch and merge-patch for custom objects; server-side apply is the
    // same PATCH with another Content-Type (JSON is valid YAML).
    const options = setHeaderOptions("Content-Type", "application/apply-patch+yaml");
    const name = object.metadata.name;
    const common = { ...address(type), name, body: object, fieldManager, force: true };
    return (await call(() =>
      type.namespaced
        ? this.api.patchNamespacedCustomObject({ ...common, namespace: ns(type, object.metadata.namespace) }, options)
        : this.api.patchClusterCustomObject(common, options),
    )) as KubeObject;
  }

  async patchStatus(type: ResourceType, name: string, namespace: string | undefined, status: Record<string, unknown>): Promise<KubeObject> {
    const options = setHeaderOptions("Content-Type", "application/merge-patch+json");
    const body = { status };
    return (await call(() =>
      type.namespaced
        ? this.api.patchNamespacedCustomObjectStatus({ ...address(type), namespace: ns(type, namespace), name, body }, options)
        : this.api.patchClusterCustomObjectStatus({ ...address(type), name, body }, options),
    )) as KubeObject;
  }

  async delete(type: ResourceType, name: string, namespace?: string): Promise<boolean> {
    try {
      await call(() =>
        type.namespaced
          ? this.api.deleteNamespacedCustomObject({ ...address(type), namespace: ns(type, namespace), name })
          : this.api.deleteClusterCustomObject({ ...address(type), name }),
      );
      return true;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return false;
      throw err;
    }
  }

  /** The server this client talks to (for logs). */
  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? "?";
  }
}

function address(type: ResourceType) {
  return { group: type.group, version: type.version, plural: type.plural };
}

function ns(type: ResourceType, namespace: string | undefined): string {
  if (!namespace) throw new Error(`${type.kind} is namespaced: a namespace is needed`);
  return namespace;
}

function collectionPath(type: ResourceType, namespace: string | undefined): string {
  return `/apis/${type.group}/${type.version}${namespace ? `/namespaces/${namespace}` : ""}/${type.plural}`;
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toKubeError(err);
  }
}

/** client-node's ApiException (status + JSON body) and fetch errors as one error type. */
function toKubeError(err: unknown): Error {
  if (err instanceof ApiException) {
    const status = parseStatus(err.body);
    return new KubeError(err.code, status.reason ?? "", status.message ?? `HTTP ${err.code}`);
  }
  const code = (err as { statusCode?: number }).statusCode;
  if (typeof code === "number") return new KubeError(code, "", (err as Error).message);
  return err instanceof Error ? err : new Error(String(err));
}

function parseStatus(body: unknown): { reason?: string; message?: string } {
  if (typeof body === "string") {
    try {
      return JSON.parse(body) as { reason?: string; message?: string };
    } catch {
      return { message: body };
    }
  }
  return (body ?? {}) as { reason?: string; message?: string };
}
