// KubeApi on @kubernetes/client-node. Nearly every resource fos1 touches (its CRDs, Cilium's,
// Leases, Events) lives under /apis/{group}/{version}, so the generic CustomObjectsApi reaches
// them all through one untyped code path; the core-group kinds (ConfigMap, Node) go through
// CoreV1Api.
import { ApiException, CoreV1Api, CustomObjectsApi, KubeConfig, Watch, setHeaderOptions, type V1ConfigMap } from "@kubernetes/client-node";
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

/** The create/read/update/delete requests of one API family. */
interface Requests {
  list(type: ResourceType, selection: Selection): Promise<unknown>;
  get(type: ResourceType, name: string, namespace: string | undefined): Promise<unknown>;
  create(type: ResourceType, object: KubeObject): Promise<unknown>;
  replace(type: ResourceType, object: KubeObject): Promise<unknown>;
  apply(type: ResourceType, object: KubeObject, fieldManager: string): Promise<unknown>;
  patchStatus(type: ResourceType, name: string, namespace: string | undefined, status: Record<string, unknown>): Promise<unknown>;
  delete(type: ResourceType, name: string, namespace: string | undefined): Promise<unknown>;
}

// client-node offers json-patch and merge-patch; server-side apply is the same PATCH with
// another Content-Type (the JSON body is valid YAML).
const APPLY = () => setHeaderOptions("Content-Type", "application/apply-patch+yaml");
const MERGE = () => setHeaderOptions("Content-Type", "application/merge-patch+json");

/** /apis/{group}/{version}/…: CustomObjectsApi, whatever the kind. */
class CustomObjects implements Requests {
  constructor(private readonly api: CustomObjectsApi) {}

  list(type: ResourceType, selection: Selection) {
    const common = { ...address(type), labelSelector: selection.labelSelector };
    if (!type.namespaced) return this.api.listClusterCustomObject(common);
    if (selection.namespace) return this.api.listNamespacedCustomObject({ ...common, namespace: selection.namespace });
    return this.api.listCustomObjectForAllNamespaces({ ...common, resourcePlural: type.plural });
  }

  get(type: ResourceType, name: string, namespace: string | undefined) {
    return type.namespaced ? this.api.getNamespacedCustomObject({ ...address(type), namespace: ns(type, namespace), name }) : this.api.getClusterCustomObject({ ...address(type), name });
  }

  create(type: ResourceType, body: KubeObject) {
    return type.namespaced
      ? this.api.createNamespacedCustomObject({ ...address(type), namespace: ns(type, body.metadata.namespace), body })
      : this.api.createClusterCustomObject({ ...address(type), body });
  }

  replace(type: ResourceType, body: KubeObject) {
    const name = body.metadata.name;
    return type.namespaced
      ? this.api.replaceNamespacedCustomObject({ ...address(type), namespace: ns(type, body.metadata.namespace), name, body })
      : this.api.replaceClusterCustomObject({ ...address(type), name, body });
  }

  apply(type: ResourceType, body: KubeObject, fieldManager: string) {
    const request = { ...address(type), name: body.metadata.name, body, fieldManager, force: true };
    return type.namespaced
      ? this.api.patchNamespacedCustomObject({ ...request, namespace: ns(type, body.metadata.namespace) }, APPLY())
      : this.api.patchClusterCustomObject(request, APPLY());
  }

  patchStatus(type: ResourceType, name: string, namespace: string | undefined, status: Record<string, unknown>) {
    const body = { status };
    return type.namespaced
      ? this.api.patchNamespacedCustomObjectStatus({ ...address(type), namespace: ns(type, namespace), name, body }, MERGE())
      : this.api.patchClusterCustomObjectStatus({ ...address(type), name, body }, MERGE());
  }

  delete(type: ResourceType, name: string, namespace: string | undefined) {
    return type.namespaced
      ? this.api.deleteNamespacedCustomObject({ ...address(type), namespace: ns(type, namespace), name })
      : this.api.deleteClusterCustomObject({ ...address(type), name });
  }
}

/**
 * /api/v1/…: the core kinds fos1 touches — ConfigMaps it writes (the IDS configuration) and
 * Nodes (the agent reads its labels and applies its management networks on it; the controller
 * lists the router nodes). Typed models, turned back into plain JSON.
 */
class Core implements Requests {
  constructor(private readonly api: CoreV1Api) {}

  private check(type: ResourceType) {
    if (type.plural !== "configmaps") throw new Error(`${type.kind}: the core-group kinds fos1 handles are ConfigMap and Node (read, list, apply)`);
  }

  async list(type: ResourceType, selection: Selection) {
    const query = { labelSelector: selection.labelSelector };
    if (type.plural === "nodes") return plain(await this.api.listNode(query));
    this.check(type);
    return plain(selection.namespace ? await this.api.listNamespacedConfigMap({ ...query, namespace: selection.namespace }) : await this.api.listConfigMapForAllNamespaces(query));
  }

  async get(type: ResourceType, name: string, namespace: string | undefined) {
    if (type.plural === "nodes") return plain(await this.api.readNode({ name }));
    this.check(type);
    return plain(await this.api.readNamespacedConfigMap({ name, namespace: ns(type, namespace) }));
  }

  async create(type: ResourceType, body: KubeObject) {
    this.check(type);
    return plain(await this.api.createNamespacedConfigMap({ namespace: ns(type, body.metadata.namespace), body: body as V1ConfigMap }));
  }

  async replace(type: ResourceType, body: KubeObject) {
    this.check(type);
    return plain(await this.api.replaceNamespacedConfigMap({ name: body.metadata.name, namespace: ns(type, body.metadata.namespace), body: body as V1ConfigMap }));
  }

  async apply(type: ResourceType, body: KubeObject, fieldManager: string) {
    if (type.plural === "nodes") return plain(await this.api.patchNode({ name: body.metadata.name, body, fieldManager, force: true }, APPLY()));
    this.check(type);
    return plain(await this.api.patchNamespacedConfigMap({ name: body.metadata.name, namespace: ns(type, body.metadata.namespace), body, fieldManager, force: true }, APPLY()));
  }

  async patchStatus(type: ResourceType): Promise<never> {
    throw new Error(`${type.kind} has no status`);
  }

  async delete(type: ResourceType, name: string, namespace: string | undefined) {
    this.check(type);
    return plain(await this.api.deleteNamespacedConfigMap({ name, namespace: ns(type, namespace) }));
  }
}

export class ClientNodeKubeApi implements KubeApi {
  private readonly custom: CustomObjects;
  private readonly core: Core;
  private readonly watcher: Watch;

  constructor(private readonly kc: KubeConfig) {
    this.custom = new CustomObjects(kc.makeApiClient(CustomObjectsApi));
    this.core = new Core(kc.makeApiClient(CoreV1Api));
    this.watcher = new Watch(kc);
  }

  private requests(type: ResourceType): Requests {
    return type.group ? this.custom : this.core;
  }

  async list(type: ResourceType, selection: Selection = {}): Promise<ObjectList> {
    const body = (await call(() => this.requests(type).list(type, selection))) as { metadata?: { resourceVersion?: string }; items?: KubeObject[] };
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
      return (await call(() => this.requests(type).get(type, name, namespace))) as KubeObject;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  async create(type: ResourceType, object: KubeObject): Promise<KubeObject> {
    return (await call(() => this.requests(type).create(type, object))) as KubeObject;
  }

  async replace(type: ResourceType, object: KubeObject): Promise<KubeObject> {
    return (await call(() => this.requests(type).replace(type, object))) as KubeObject;
  }

  async apply(type: ResourceType, object: KubeObject, fieldManager: string): Promise<KubeObject> {
    return (await call(() => this.requests(type).apply(type, object, fieldManager))) as KubeObject;
  }

  async patchStatus(type: ResourceType, name: string, namespace: string | undefined, status: Record<string, unknown>): Promise<KubeObject> {
    return (await call(() => this.requests(type).patchStatus(type, name, namespace, status))) as KubeObject;
  }

  async delete(type: ResourceType, name: string, namespace?: string): Promise<boolean> {
    try {
      await call(() => this.requests(type).delete(type, name, namespace));
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
  const root = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  return `${root}${namespace ? `/namespaces/${namespace}` : ""}/${type.plural}`;
}

/** Typed models (Date objects and all) as the plain JSON the API server sent. */
function plain(model: unknown): unknown {
  return JSON.parse(JSON.stringify(model)) as unknown;
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toKubeError(err);
  }
}

/** client-node's ApiException (status + JSON body) and fetch errors as one error type. */
export function toKubeError(err: unknown): Error {
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
