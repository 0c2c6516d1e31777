// A KubeApi that reports every failed request (by the resource's kind and the API's reason) and
// otherwise is the one it wraps: failed requests are counted in one place, whoever made them —
// informers, the Cilium client, status writes, events, leader election. A get or delete of
// something already gone is not a failure (the KubeApi answers undefined / false).
import { KubeError, type KubeApi, type ResourceType } from "./kube-api";

/** metav1.StatusReason for answers that carry no Status body. */
const REASON_OF_STATUS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Gone",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** The API server's Status reason (Conflict, Forbidden, …), one from the HTTP status, else NoResponse (connection or TLS failure). */
export function apiErrorReason(err: unknown): string {
  if (!(err instanceof KubeError)) return "NoResponse";
  return err.reason || (REASON_OF_STATUS[err.status] ?? `HTTP${err.status}`);
}

export function observeApiErrors(api: KubeApi, failed: (kind: string, reason: string) => void): KubeApi {
  const observed = async <T>(type: ResourceType, request: Promise<T>): Promise<T> => {
    try {
      return await request;
    } catch (err) {
      failed(type.kind, apiErrorReason(err));
      throw err;
    }
  };
  return {
    list: (type, selection) => observed(type, api.list(type, selection)),
    watch: async (type, selection, onEvent, signal) => {
      const watching = await observed(type, api.watch(type, selection, onEvent, signal));
      // A stream that breaks is a failed request too; an ERROR event in it is the informer's to read.
      return { stop: () => watching.stop(), ended: observed(type, watching.ended) };
    },
    get: (type, name, namespace) => observed(type, api.get(type, name, namespace)),
    create: (type, object) => observed(type, api.create(type, object)),
    replace: (type, object) => observed(type, api.replace(type, object)),
    apply: (type, object, fieldManager) => observed(type, api.apply(type, object, fieldManager)),
    patchStatus: (type, name, namespace, status) => observed(type, api.patchStatus(type, name, namespace, status)),
    delete: (type, name, namespace) => observed(type, api.delete(type, name, namespace)),
  };
}
