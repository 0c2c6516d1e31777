// The few Kubernetes API operations fos1's controllers need, on any resource, untyped.
// Controllers, the CiliumClient and leader election are written against this interface; its one
// implementation (kube-client.ts) is @kubernetes/client-node. Tests run that implementation
// against an in-process fake API server (test/helpers/fake-apiserver.ts).

/** Where a kind lives in the API: /apis/{group}/{version}[/namespaces/{ns}]/{plural}. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectList {
  resourceVersion: string;
  items: KubeObject[];
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchEvent {
  type: WatchEventType;
  /** The object; for ERROR a metav1.Status ({ code, reason, message }). */
  object: KubeObject & { code?: number; reason?: string; message?: string };
}

export interface Watching {
  /** Ends the stream; `ended` then resolves. */
  stop(): void;
  /** Resolves when the server or stop() ends the stream, rejects on a transport or HTTP error. */
  ended: Promise<void>;
}

export interface Selection {
  namespace?: string;
  labelSelector?: string;
}

export interface KubeApi {
  list(type: ResourceType, selection?: Selection): Promise<ObjectList>;
  /** Starts a watch; `signal` also cancels a watch whose response has not begun yet. */
  watch(type: ResourceType, selection: Selection & { resourceVersion: string }, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<Watching>;
  get(type: ResourceType, name: string, namespace?: string): Promise<KubeObject | undefined>;
  create(type: ResourceType, object: KubeObject): Promise<KubeObject>;
  /** PUT: fails with 409 when metadata.resourceVersion is not the stored one. */
  replace(type: ResourceType, object: KubeObject): Promise<KubeObject>;
  /** Server-side apply (application/apply-patch+yaml) as fieldManager, with force: fos1 owns what it applies. */
  apply(type: ResourceType, object: KubeObject, fieldManager: string): Promise<KubeObject>;
  /** JSON merge patch of the status subresource. */
  patchStatus(type: ResourceType, name: string, namespace: string | undefined, status: Record<string, unknown>): Promise<KubeObject>;
  /** Deletes; false when it was already gone. */
  delete(type: ResourceType, name: string, namespace?: string): Promise<boolean>;
}

/** An answer of the API server other than success, with its HTTP status and Status reason. */
export class KubeError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "KubeError";
  }
}

export const isConflict = (err: unknown): boolean => err instanceof KubeError && err.status === 409;
export const isGone = (err: unknown): boolean => err instanceof KubeError && err.status === 410;

export const apiVersionOf = (type: ResourceType): string => (type.group ? `${type.group}/${type.version}` : type.version);

/** "Kind/name" or "Kind/namespace/name": how logs, statuses and the work queue name an object. */
export function refOf(object: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return object.metadata.namespace ? `${object.kind}/${object.metadata.namespace}/${object.metadata.name}` : `${object.kind}/${object.metadata.name}`;
}
