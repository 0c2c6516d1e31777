// A FAKE Kubernetes API server for tests — not kube-apiserver, which cannot be installed on this
// machine. It is an in-process HTTP server (Bun.serve) that speaks enough of the real API's
// wire protocol for fos1's controllers, so that they run unchanged through
// @kubernetes/client-node against it:
//   - list, watch, get, create (POST), update (PUT), patch, delete, for the resources it is
//     started with (cluster-scoped or namespaced, with or without a status subresource);
//   - one resourceVersion counter for everything; list returns it, watch streams the changes
//     after it, and a watch from a version older than the retained history gets an ERROR event
//     with a 410 Gone Status (as kube-apiserver does after etcd compaction, see compact());
//   - update with a stale metadata.resourceVersion → 409 Conflict; create of an existing
//     object → 409 AlreadyExists; delete of an object with finalizers sets deletionTimestamp
//     and the object goes when its last finalizer is removed; generation counts spec changes;
//   - patch: application/merge-patch+json (RFC 7386) and server-side apply
//     (application/apply-patch+yaml) as a SIMPLIFIED merge: the applied configuration is merged
//     into the object (maps recursively, lists and scalars replaced), and the fields this field
//     manager applied last time and omits now are removed. There are no managedFields, no
//     conflicts between managers and no list-map merge keys;
//   - label selectors (=, ==, !=, key, !key) on list and watch.
//   - optionally an authorizer (RBAC evaluated by the test) that answers 403 Forbidden; as
//     kube-apiserver's patch handler does, an apply that creates its object also needs "create".
//   - optionally (authenticate()) bearer tokens: a request without a known, unexpired token gets
//     401 Unauthorized; admin tokens are system:masters (never asked of the authorizer), service
//     account tokens are judged by the authorizer; and the TokenRequest subresource
//     (POST /api/v1/namespaces/NS/serviceaccounts/NAME/token) issues service-account tokens
//     that expire by a clock the test moves, refusing lifetimes under 10 minutes as
//     kube-apiserver does. Expiry is checked when a request starts: an open watch is not cut.
// Not implemented: field selectors, pagination, discovery, admission, validation against CRD
// schemas, defaulting, the garbage collector of ownerReferences, client certificates, token
// audiences and bound objects, the ServiceAccount objects themselves (named in authenticate()).
import { parse as parseYaml } from "yaml";

export interface FakeResource {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** CRDs with `subresources.status`: the main resource ignores status, /status only changes it. */
  statusSubresource?: boolean;
}

type Json = Record<string, unknown>;
interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  generation: number;
  creationTimestamp: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  [key: string]: unknown;
}
interface StoredObject extends Json {
  apiVersion: string;
  kind: string;
  metadata: Meta;
}
interface HistoryEntry {
  rv: number;
  resource: FakeResource;
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: StoredObject;
}
interface Watcher {
  resource: FakeResource;
  namespace?: string;
  selector: LabelSelector;
  send(type: string, object: unknown): void;
  close(): void;
}

/** What a test hook sees of a request before the fake handles it. */
export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  watch: boolean;
}
/** A hook runs before each request; returning a Response answers the request with it instead. */
export type FakeHook = (req: FakeRequest) => Response | undefined | void;

/** What an authorizer sees of a request, as Kubernetes RBAC names it. */
export interface RequestAttributes {
  verb: "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";
  group: string;
  /** The plural, or "plural/subresource". */
  resource: string;
  namespace?: string;
  name?: string;
}

/** Bearer-token authentication, when a test turns it on. */
export interface FakeAuthentication {
  /** Now, in ms since the epoch: tokens expire by this clock, which the test may move. */
  now: () => number;
  /** Tokens of a cluster admin (system:masters), as the admin kubeconfig Talos hands out is one. */
  adminTokens: string[];
  /** The service accounts ("namespace/name") TokenRequest issues tokens for. */
  serviceAccounts: string[];
}

/** A token TokenRequest issued: for which account, asked by whom, until when (ms, the fake's clock). */
export interface FakeIssuedToken {
  account: string;
  by: string;
  expiresAt: number;
}

interface FakeUser {
  name: string;
  admin: boolean;
}

const ADMIN_USER = "admin";
/** kube-apiserver's shortest token lifetime. */
const MIN_TOKEN_SECONDS = 600;

export class FakeApiServer {
  private readonly server: ReturnType<typeof Bun.serve>;
  private readonly objects = new Map<string, StoredObject>();
  /** Per object key and field manager: the configuration last applied (for the simplified apply). */
  private readonly applied = new Map<string, Map<string, Json>>();
  private history: HistoryEntry[] = [];
  private rv = 100;
  /** Watches from a resourceVersion below this get 410 Gone. */
  private oldestWatchable = 0;
  private readonly watchers = new Set<Watcher>();
  private hooks: FakeHook[] = [];
  /** Every request handled, in order: "METHOD path?query". */
  readonly requests: string[] = [];
  /** Watches answered 410 Gone, and writes answered 409 Conflict for a stale resourceVersion. */
  expiredWatches = 0;
  conflicts = 0;

  /** Requests the authorizer refused (403), as "verb group/resource namespace/name". */
  readonly denied: string[] = [];

  private authentication: FakeAuthentication | undefined;
  /** Live service-account tokens (the secret) → account and expiry. */
  private readonly tokens = new Map<string, { account: string; expiresAt: number }>();
  /** Every token TokenRequest issued, in order. */
  readonly issued: FakeIssuedToken[] = [];
  /** With authentication: who made each authenticated request, in order ("admin", "system:serviceaccount:ns:name"). */
  readonly users: string[] = [];
  /** Requests answered 401. */
  unauthorized = 0;

  constructor(
    private readonly resources: FakeResource[],
    private readonly authorize?: (attributes: RequestAttributes) => boolean,
    /** Where to listen: another address than loopback serves an agent in a network namespace. */
    private readonly hostname = "127.0.0.1",
  ) {
    this.server = Bun.serve({ port: 0, hostname, idleTimeout: 0, fetch: (req) => this.handle(req) });
  }

  get url(): string {
    return `http://${this.hostname}:${this.server.port}`;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.close();
    await this.server.stop(true);
  }

  /** Adds a hook that runs before every request (see FakeHook); returns a function removing it. */
  hook(fn: FakeHook): () => void {
    this.hooks.push(fn);
    return () => void (this.hooks = this.hooks.filter((h) => h !== fn));
  }

  /** From now on every request needs a bearer token (see FakeAuthentication). */
  authenticate(authentication: FakeAuthentication): void {
    this.authentication = authentication;
  }

  /** Forgets every service-account token issued, as deleting and re-creating the accounts does. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  /** Forgets the watch history, as etcd compaction does: watches from older versions get 410. */
  compact(): void {
    this.history = [];
    this.oldestWatchable = this.rv + 1;
  }

  /** Ends every open watch stream (clients must watch again from their last version). */
  closeWatches(): void {
    for (const w of this.watchers) w.close();
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  // ---- direct access for tests (each write is a real change: new resourceVersion, watch event)

  list(plural: string, namespace?: string): StoredObject[] {
    const prefix = this.prefixOf(this.resource(plural), namespace);
    return [...this.objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .map(([, o]) => o)
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  get(plural: string, name: string, namespace?: string): StoredObject | undefined {
    return this.objects.get(this.keyOf(this.resource(plural), namespace, name));
  }

  /**
   * Creates or updates an object as a person with kubectl apply would: no resourceVersion check,
   * and metadata it does not mention (finalizers, labels) stays as it is.
   */
  put(plural: string, object: Json): StoredObject {
    const res = this.resource(plural);
    const meta = object.metadata as { name: string; namespace?: string };
    const current = this.objects.get(this.keyOf(res, meta.namespace, meta.name));
    if (!current) return this.create(res, object);
    const next = { ...object, metadata: { ...current.metadata, ...meta } };
    return this.store(res, current, this.withoutStatusChange(res, current, next), "MODIFIED");
  }

  /** Deletes an object as another client would (finalizers are honoured). */
  remove(plural: string, name: string, namespace?: string): void {
    const res = this.resource(plural);
    const current = this.objects.get(this.keyOf(res, namespace, name));
    if (current) this.delete(res, current);
  }

  // ---- HTTP

  private async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const watch = url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1";
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    for (const h of [...this.hooks]) {
      const answer = h({ method: req.method, path: url.pathname, query: url.searchParams, watch });
      if (answer) return answer;
    }
    let user: FakeUser | undefined;
    if (this.authentication) {
      user = this.userOf(req.headers.get("authorization"));
      if (!user) {
        this.unauthorized++;
        return status(401, "Unauthorized", "Unauthorized");
      }
      this.users.push(user.name);
    }
    const superuser = user?.admin ?? false;
    const tokenRequest = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts\/([^/]+)\/token$/.exec(url.pathname);
    if (tokenRequest && user) return this.tokenRequest(req, tokenRequest[1]!, tokenRequest[2]!, user);
    const route = this.route(url.pathname);
    if (!route) return status(404, "NotFound", `the server could not find the requested resource (${url.pathname})`);
    const { res, namespace, name, subresource } = route;
    if (this.authorize) {
      const verbs: Record<string, RequestAttributes["verb"]> = { POST: "create", PUT: "update", PATCH: "patch", DELETE: "delete" };
      const verb = verbs[req.method] ?? (name ? "get" : watch ? "watch" : "list");
      const refused = this.refused({ verb, group: res.group, resource: subresource ? `${res.plural}/${subresource}` : res.plural, namespace, name }, superuser);
      if (refused) return refused;
    }
    try {
      if (!name) {
        if (req.method === "GET" && watch) return this.watch(res, namespace, url.searchParams);
        if (req.method === "GET") return this.listResponse(res, namespace, url.searchParams);
        if (req.method === "POST") return this.createRequest(res, namespace, await req.json());
        return status(405, "MethodNotAllowed", `${req.method} is not supported on a collection`);
      }
      const key = this.keyOf(res, namespace, name);
      const current = this.objects.get(key);
      if (subresource && (subresource !== "status" || !res.statusSubresource))
        return status(404, "NotFound", `${res.plural} has no subresource ${subresource}`);
      if (req.method === "PATCH" && req.headers.get("content-type") === "application/apply-patch+yaml") {
        const refused = !current && !subresource ? this.refused({ verb: "create", group: res.group, resource: res.plural, namespace, name }, superuser) : undefined;
        if (refused) return refused;
        return this.applyRequest(res, namespace, name, current, await req.text(), url.searchParams.get("fieldManager"), subresource);
      }
      if (!current) return status(404, "NotFound", `${res.plural}.${res.group} "${name}" not found`);
      switch (req.method) {
        case "GET":
          return Response.json(current);
        case "PUT":
          return this.updateRequest(res, current, (await req.json()) as Json, subresource);
        case "PATCH":
          return this.mergePatchRequest(res, current, req.headers.get("content-type"), await req.text(), subresource);
        case "DELETE":
          return Response.json(this.delete(res, current));
      }
      return status(405, "MethodNotAllowed", `${req.method} is not supported`);
    } catch (err) {
      if (err instanceof FakeStatus) return status(err.code, err.reason, err.message);
      throw err;
    }
  }

  /** The 403 answer when an authorizer refuses the request, else undefined. */
  private refused(attributes: RequestAttributes, superuser: boolean): Response | undefined {
    if (!this.authorize || superuser || this.authorize(attributes)) return undefined;
    this.denied.push(`${attributes.verb} ${attributes.group}/${attributes.resource} ${attributes.namespace ?? ""}/${attributes.name ?? ""}`);
    return status(403, "Forbidden", `${attributes.verb} ${attributes.resource}.${attributes.group} is forbidden`);
  }

  /** The user of an Authorization header: an admin token, or a live service-account token. */
  private userOf(header: string | null): FakeUser | undefined {
    const token = /^Bearer (.+)$/.exec(header ?? "")?.[1];
    if (!token || !this.authentication) return undefined;
    if (this.authentication.adminTokens.includes(token)) return { name: ADMIN_USER, admin: true };
    const issued = this.tokens.get(token);
    if (!issued || this.authentication.now() >= issued.expiresAt) return undefined;
    const [namespace, name] = issued.account.split("/");
    return { name: `system:serviceaccount:${namespace}:${name}`, admin: false };
  }

  /** TokenRequest: a token of the service account, for the lifetime asked (at least 10 minutes). */
  private async tokenRequest(req: Request, namespace: string, name: string, user: FakeUser): Promise<Response> {
    if (req.method !== "POST") return status(405, "MethodNotAllowed", `${req.method} is not supported on serviceaccounts/token`);
    const refused = this.refused({ verb: "create", group: "", resource: "serviceaccounts/token", namespace, name }, user.admin);
    if (refused) return refused;
    const account = `${namespace}/${name}`;
    if (!this.authentication!.serviceAccounts.includes(account)) return status(404, "NotFound", `serviceaccounts "${name}" not found`);
    const body = (await req.json()) as { spec?: { expirationSeconds?: number; audiences?: string[] } };
    const seconds = body.spec?.expirationSeconds ?? 3600;
    if (seconds < MIN_TOKEN_SECONDS) return status(422, "Invalid", `spec.expirationSeconds: Invalid value: ${seconds}: may not specify a duration less than 10 minutes`);
    // The wire carries whole seconds (RFC 3339): the token expires when the client can know it does.
    const expiresAt = Math.floor((this.authentication!.now() + seconds * 1000) / 1000) * 1000;
    const token = `fake-sa-token-${crypto.randomUUID()}`;
    this.tokens.set(token, { account, expiresAt });
    this.issued.push({ account, by: user.name, expiresAt });
    return Response.json(
      {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        metadata: { name, namespace, creationTimestamp: null },
        spec: { audiences: body.spec?.audiences ?? [], expirationSeconds: seconds, boundObjectRef: null },
        status: { token, expirationTimestamp: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z") },
      },
      { status: 201 },
    );
  }

  private route(path: string) {
    // /apis/{group}/{version}/… for named groups, /api/v1/… for the core group.
    const m = /^\/(?:apis\/([^/]+)|api)\/([^/]+)\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
    if (!m) return undefined;
    const [, group = "", version, namespace, plural, name, subresource] = m;
    const res = this.resources.find((r) => r.group === group && r.version === version && r.plural === plural);
    if (!res || (namespace !== undefined && !res.namespaced)) return undefined;
    if (res.namespaced && name !== undefined && namespace === undefined) return undefined;
    return { res, namespace, name, subresource };
  }

  private listResponse(res: FakeResource, namespace: string | undefined, query: URLSearchParams): Response {
    const selector = parseSelector(query.get("labelSelector") ?? "");
    const items = [...this.objects.entries()]
      .filter(([key, o]) => key.startsWith(this.prefixOf(res, namespace)) && selector(o.metadata.labels ?? {}))
      .map(([, o]) => o);
    return Response.json({ apiVersion: apiVersionOf(res), kind: `${res.kind}List`, metadata: { resourceVersion: String(this.rv) }, items });
  }

  private watch(res: FakeResource, namespace: string | undefined, query: URLSearchParams): Response {
    const selector = parseSelector(query.get("labelSelector") ?? "");
    const from = query.get("resourceVersion") ?? "";
    const timeoutSeconds = Number(query.get("timeoutSeconds") ?? 0);
    const encoder = new TextEncoder();
    let watcher: Watcher | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (ctl) => {
        let open = true;
        let timer: Timer | undefined;
        const w: Watcher = {
          resource: res,
          namespace,
          selector,
          send: (type, object) => {
            if (open) ctl.enqueue(encoder.encode(JSON.stringify({ type, object }) + "\n"));
          },
          close: () => {
            if (!open) return;
            open = false;
            clearTimeout(timer);
            this.watchers.delete(w);
            ctl.close();
          },
        };
        watcher = w;
        // kube-apiserver sends the response headers at once; Bun.serve sends them with the first
        // byte, so a blank line goes first (watch clients skip lines that are not JSON).
        ctl.enqueue(encoder.encode("\n"));
        if (from !== "" && from !== "0" && Number(from) < this.oldestWatchable) {
          this.expiredWatches++;
          w.send("ERROR", statusBody(410, "Expired", `too old resource version: ${from} (${this.oldestWatchable})`));
          w.close();
          return;
        }
        this.watchers.add(w);
        if (from === "" || from === "0") {
          // Without a version the real API starts with a synthetic ADDED for every object.
          for (const [key, o] of this.objects) if (key.startsWith(this.prefixOf(res, namespace)) && selector(o.metadata.labels ?? {})) w.send("ADDED", o);
        } else {
          for (const e of this.history) if (e.rv > Number(from) && this.matches(w, e.resource, e.object)) w.send(e.type, e.object);
        }
        if (timeoutSeconds > 0) timer = setTimeout(() => w.close(), timeoutSeconds * 1000);
      },
      cancel: () => {
        if (watcher) this.watchers.delete(watcher);
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  }

  private createRequest(res: FakeResource, namespace: string | undefined, body: unknown): Response {
    const object = body as Json;
    const meta = (object.metadata ?? {}) as { name?: string; namespace?: string };
    if (!meta.name) throw new FakeStatus(422, "Invalid", "metadata.name: Required value");
    if (this.objects.has(this.keyOf(res, namespace, meta.name)))
      throw new FakeStatus(409, "AlreadyExists", `${res.plural}.${res.group} "${meta.name}" already exists`);
    return Response.json(this.create(res, { ...object, metadata: { ...meta, ...(namespace ? { namespace } : {}) } }), { status: 201 });
  }

  private updateRequest(res: FakeResource, current: StoredObject, body: Json, subresource: string | undefined): Response {
    const meta = (body.metadata ?? {}) as { resourceVersion?: string };
    if (!meta.resourceVersion) throw new FakeStatus(422, "Invalid", "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update");
    if (meta.resourceVersion !== current.metadata.resourceVersion && ++this.conflicts)
      throw new FakeStatus(409, "Conflict", `Operation cannot be fulfilled on ${res.plural}.${res.group} "${current.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`);
    const next = subresource ? { ...current, status: body.status } : this.withoutStatusChange(res, current, body);
    return Response.json(this.store(res, current, next, "MODIFIED"));
  }

  private mergePatchRequest(res: FakeResource, current: StoredObject, contentType: string | null, text: string, subresource: string | undefined): Response {
    if (contentType !== "application/merge-patch+json")
      throw new FakeStatus(415, "UnsupportedMediaType", `this fake supports application/merge-patch+json and application/apply-patch+yaml, not ${contentType}`);
    const patch = JSON.parse(text) as Json;
    const wanted = (patch.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
    if (wanted && wanted !== current.metadata.resourceVersion && ++this.conflicts) throw new FakeStatus(409, "Conflict", `the object has been modified`);
    const merged = mergePatch(current, patch) as Json;
    const next = subresource ? { ...current, status: merged.status } : this.withoutStatusChange(res, current, merged);
    return Response.json(this.store(res, current, next, "MODIFIED"));
  }

  private applyRequest(res: FakeResource, namespace: string | undefined, name: string, current: StoredObject | undefined, text: string, manager: string | null, subresource: string | undefined): Response {
    if (!manager) throw new FakeStatus(422, "Invalid", "fieldManager: Required value: is required for apply patch");
    const config = parseYaml(text) as Json;
    const cfgMeta = (config.metadata ?? {}) as { name?: string };
    if (cfgMeta.name !== name) throw new FakeStatus(422, "Invalid", `metadata.name: Invalid value: "${cfgMeta.name}": must match the name in the path "${name}"`);
    const key = this.keyOf(res, namespace, name);
    const managers = this.applied.get(key) ?? new Map<string, Json>();
    const previous = managers.get(manager) ?? {};
    managers.set(manager, config);
    this.applied.set(key, managers);
    if (!current) {
      if (subresource) throw new FakeStatus(404, "NotFound", `${res.plural}.${res.group} "${name}" not found`);
      return Response.json(this.create(res, { ...config, metadata: { ...cfgMeta, ...(namespace ? { namespace } : {}) } }), { status: 201 });
    }
    const merged = deepMerge(removeOmitted(current, previous, config) as Json, config) as Json;
    const next = subresource ? { ...current, status: merged.status } : this.withoutStatusChange(res, current, merged);
    return Response.json(this.store(res, current, next, "MODIFIED"));
  }

  // ---- storage

  private create(res: FakeResource, object: Json): StoredObject {
    const meta = object.metadata as Meta;
    const stored: StoredObject = {
      ...object,
      apiVersion: apiVersionOf(res),
      kind: res.kind,
      metadata: {
        ...meta,
        uid: crypto.randomUUID(),
        generation: 1,
        creationTimestamp: new Date().toISOString(),
        resourceVersion: String(++this.rv),
      },
    };
    if (res.statusSubresource) delete stored.status;
    this.objects.set(this.keyOf(res, meta.namespace, meta.name), stored);
    this.emit(res, "ADDED", stored);
    return stored;
  }

  /** Stores a new version of an existing object: a new resourceVersion, generation on spec changes, deletion when due. */
  private store(res: FakeResource, current: StoredObject, next: Json, type: "MODIFIED"): StoredObject {
    const nextMeta = (next.metadata ?? {}) as Partial<Meta>;
    const specChanged = canonical(withoutMetaAndStatus(current)) !== canonical(withoutMetaAndStatus(next));
    const stored: StoredObject = {
      ...next,
      apiVersion: current.apiVersion,
      kind: current.kind,
      metadata: {
        ...nextMeta,
        // Fields only the server sets.
        name: current.metadata.name,
        ...(current.metadata.namespace ? { namespace: current.metadata.namespace } : {}),
        uid: current.metadata.uid,
        creationTimestamp: current.metadata.creationTimestamp,
        ...(current.metadata.deletionTimestamp ? { deletionTimestamp: current.metadata.deletionTimestamp } : {}),
        generation: current.metadata.generation + (specChanged ? 1 : 0),
        resourceVersion: current.metadata.resourceVersion,
      },
    };
    if (stored.metadata.finalizers?.length === 0) delete stored.metadata.finalizers;
    if (canonical(stored) === canonical(current)) return current; // a no-op write changes nothing
    stored.metadata.resourceVersion = String(++this.rv);
    const key = this.keyOf(res, current.metadata.namespace, current.metadata.name);
    if (stored.metadata.deletionTimestamp && !stored.metadata.finalizers?.length) {
      this.objects.delete(key);
      this.applied.delete(key);
      this.emit(res, "DELETED", stored);
      return stored;
    }
    this.objects.set(key, stored);
    this.emit(res, type, stored);
    return stored;
  }

  private delete(res: FakeResource, current: StoredObject): Json {
    if (current.metadata.finalizers?.length) {
      if (current.metadata.deletionTimestamp) return current;
      return this.store(res, current, { ...current, metadata: { ...current.metadata, deletionTimestamp: new Date().toISOString() } }, "MODIFIED");
    }
    const key = this.keyOf(res, current.metadata.namespace, current.metadata.name);
    this.objects.delete(key);
    this.applied.delete(key);
    const gone = { ...current, metadata: { ...current.metadata, resourceVersion: String(++this.rv) } };
    this.emit(res, "DELETED", gone);
    return statusBody(200, "", "deleted", "Success");
  }

  /** The main resource of a kind with a status subresource cannot change status. */
  private withoutStatusChange(res: FakeResource, current: StoredObject, next: Json): Json {
    if (!res.statusSubresource) return next;
    const { status: _ignored, ...rest } = next;
    return current.status === undefined ? rest : { ...rest, status: current.status };
  }

  private emit(res: FakeResource, type: HistoryEntry["type"], object: StoredObject): void {
    this.history.push({ rv: Number(object.metadata.resourceVersion), resource: res, type, object });
    for (const w of [...this.watchers]) if (this.matches(w, res, object)) w.send(type, object);
  }

  private matches(w: Watcher, res: FakeResource, object: StoredObject): boolean {
    return w.resource === res && (w.namespace === undefined || w.namespace === object.metadata.namespace) && w.selector(object.metadata.labels ?? {});
  }

  private resource(plural: string): FakeResource {
    const res = this.resources.find((r) => r.plural === plural);
    if (!res) throw new Error(`the fake API server was not started with ${plural}`);
    return res;
  }

  private keyOf(res: FakeResource, namespace: string | undefined, name: string): string {
    return `${res.group}/${res.plural}/${res.namespaced ? (namespace ?? "default") : ""}/${name}`;
  }

  private prefixOf(res: FakeResource, namespace: string | undefined): string {
    return `${res.group}/${res.plural}/${res.namespaced && namespace !== undefined ? `${namespace}/` : ""}`;
  }
}

const apiVersionOf = (res: FakeResource) => (res.group ? `${res.group}/${res.version}` : res.version);

class FakeStatus extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function statusBody(code: number, reason: string, message: string, outcome = "Failure") {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: outcome, message, reason, code };
}

function status(code: number, reason: string, message: string): Response {
  return Response.json(statusBody(code, reason, message), { status: code });
}

type LabelSelector = (labels: Record<string, string>) => boolean;

function parseSelector(text: string): LabelSelector {
  const terms = text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean)
    .map((term): LabelSelector => {
      const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term);
      if (m) {
        const [, key, op, value] = m as unknown as [string, string, string, string];
        return op === "!=" ? (l) => l[key.trim()] !== value.trim() : (l) => l[key.trim()] === value.trim();
      }
      if (term.startsWith("!")) return (l) => !(term.slice(1) in l);
      return (l) => term in l;
    });
  return (labels) => terms.every((t) => t(labels));
}

function isMap(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch: null removes, maps merge, everything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return patch;
  const out: Json = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function deepMerge(target: unknown, config: unknown): unknown {
  if (!isMap(config) || !isMap(target)) return config;
  const out: Json = { ...target };
  for (const [k, v] of Object.entries(config)) out[k] = deepMerge(out[k], v);
  return out;
}

/** Removes from `object` what `previous` set and `config` no longer sets (this manager's dropped fields). */
function removeOmitted(object: unknown, previous: unknown, config: unknown): unknown {
  if (!isMap(object) || !isMap(previous)) return object;
  const out: Json = { ...object };
  const now = isMap(config) ? config : {};
  for (const k of Object.keys(previous)) {
    if (k === "apiVersion" || k === "kind" || (k === "name" && "uid" in out)) continue;
    if (!(k in now)) delete out[k];
    else if (isMap(previous[k])) out[k] = removeOmitted(out[k], previous[k], now[k]);
  }
  return out;
}

/** JSON with sorted keys: equal values compare equal whatever order their keys were written in. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (isMap(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
}

function withoutMetaAndStatus(o: Json): Json {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}
