// An informer, after client-go's reflector: list once, then watch from the list's
// resourceVersion, keeping a cache of the objects and telling handlers what changed. A watch
// that ends is resumed from the last version seen; a 410 Gone (the server no longer has that
// version) lists again and reports the difference; any other failure retries with backoff.
import type { Logger } from "../base/log";
import { Backoff, type BackoffPolicy } from "../base/backoff";
import { sleep } from "../base/sleep";
import type { WatchRestartReason } from "./controller-observer";
import { isGone, KubeError, type KubeApi, type KubeObject, type ResourceType, type Selection, type WatchEvent } from "./kube-api";

export type Change = "added" | "modified" | "deleted";
export type ChangeHandler = (change: Change, object: KubeObject) => void;

export interface InformerOptions {
  selection?: Selection;
  backoff: BackoffPolicy;
  log: Logger;
  /** Told each time the informer starts over (not when a healthy watch times out and is resumed). */
  onRestart?: (reason: WatchRestartReason) => void;
}

/** A watch that ends sooner than this without news is treated as a failure (backoff), not as a normal timeout. */
const SHORTEST_HEALTHY_WATCH_MS = 1000;

export class Informer {
  private readonly cache = new Map<string, KubeObject>();
  private readonly handlers: ChangeHandler[] = [];
  private readonly abort = new AbortController();
  private resourceVersion = "";
  private loop: Promise<void> | undefined;
  private markSynced!: () => void;
  /** Resolves once the first list is in the cache. */
  readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));

  constructor(
    private readonly api: KubeApi,
    readonly type: ResourceType,
    private readonly options: InformerOptions,
  ) {}

  onChange(handler: ChangeHandler): void {
    this.handlers.push(handler);
  }

  list(): KubeObject[] {
    return [...this.cache.values()];
  }

  get(name: string, namespace?: string): KubeObject | undefined {
    return this.cache.get(cacheKey(name, namespace));
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(this.options.backoff);
    const log = this.options.log.with({ resource: this.type.plural });
    while (!this.abort.signal.aborted) {
      try {
        if (!this.resourceVersion) await this.relist();
        const started = Date.now();
        const news = await this.watchOnce();
        if (news || Date.now() - started >= SHORTEST_HEALTHY_WATCH_MS) backoff.reset();
        else if (!this.abort.signal.aborted) {
          this.options.onRestart?.("failed");
          await sleep(backoff.next(), this.abort.signal);
        }
      } catch (err) {
        if (this.abort.signal.aborted) break;
        if (isGone(err)) {
          log.info("watch expired (410 Gone); listing again");
          this.options.onRestart?.("expired");
          this.resourceVersion = "";
          continue;
        }
        this.options.onRestart?.("failed");
        const delay = backoff.next();
        log.warn("list/watch failed; retrying", { error: err, retryInMs: delay });
        await sleep(delay, this.abort.signal);
      }
    }
  }

  /** Lists and makes the cache equal to the list, telling handlers the differences. */
  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.api.list(this.type, this.options.selection);
    const fresh = new Map(items.map((o) => [cacheKey(o.metadata.name, o.metadata.namespace), withKind(o, this.type)]));
    for (const [key, old] of this.cache) {
      if (fresh.has(key)) continue;
      this.cache.delete(key);
      this.emit("deleted", old);
    }
    for (const [key, o] of fresh) {
      const old = this.cache.get(key);
      this.cache.set(key, o);
      if (!old) this.emit("added", o);
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) this.emit("modified", o);
    }
    this.resourceVersion = resourceVersion;
    this.markSynced();
  }

  /** One watch stream, until it ends; true if it brought any event. */
  private async watchOnce(): Promise<boolean> {
    let news = false;
    let expired: KubeError | undefined;
    const watching = await this.api.watch(
      this.type,
      { ...this.options.selection, resourceVersion: this.resourceVersion },
      (event) => {
        news = true;
        expired ??= this.apply(event);
      },
      this.abort.signal,
    );
    await watching.ended;
    if (expired) throw expired;
    return news;
  }

  /** Applies one watch event to the cache; an ERROR event comes back as the error it carries. */
  private apply(event: WatchEvent): KubeError | undefined {
    const o = event.object;
    if (event.type === "ERROR") {
      return new KubeError(o.code ?? 500, o.reason ?? "", o.message ?? "watch error");
    }
    if (o.metadata?.resourceVersion) this.resourceVersion = o.metadata.resourceVersion;
    if (event.type === "BOOKMARK") return undefined;
    const object = withKind(o, this.type);
    const key = cacheKey(o.metadata.name, o.metadata.namespace);
    if (event.type === "DELETED") {
      this.cache.delete(key);
      this.emit("deleted", object);
    } else {
      const had = this.cache.has(key);
      this.cache.set(key, object);
      this.emit(had ? "modified" : "added", object);
    }
    return undefined;
  }

  private emit(change: Change, object: KubeObject): void {
    for (const h of this.handlers) h(change, object);
  }
}

function cacheKey(name: string, namespace: string | undefined): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** Items of a list carry no apiVersion/kind on the real API server; the cache's objects always do. */
function withKind(o: KubeObject, type: ResourceType): KubeObject {
  return o.kind && o.apiVersion ? o : { ...o, apiVersion: `${type.group}/${type.version}`, kind: type.kind };
}
