// Live configuration: subscribes to ConfigChanges (src/operations.ts) twice,
// over GraphQL over Server-Sent Events (graphql-sse, distinct connections
// mode) and over graphql-transport-ws (graphql-ws), and re-runs the typed
// OpportunityTypes query on each event, as a front-end would instead of
// polling. The first event is the version served; then the script renames a
// type in the upstream (the simulator of internal/tools/simulator, at UPSTREAM_CONTROL_URL) and waits
// for the event that change brings on both streams, whose re-run query must
// show the new name. Against a service with a short CACHE_TTL (.ci/web.sh
// gives it 1s), at GRAPHQL_URL. Exits non-zero on the first failure.
import { createClient as createSSEClient } from "graphql-sse";
import { createClient as createWSClient } from "graphql-ws";
import { inspect } from "node:util";
import { WebSocket as WsWebSocket } from "ws";

import { check, execute, url } from "./client.js";
import type { ConfigChangesSubscription, OpportunityTypesQuery, TypedDocumentString } from "./gql/graphql.js";
import { ConfigChangesDocument, OpportunityTypesDocument } from "./operations.js";

const control = process.env.UPSTREAM_CONTROL_URL;

/** How long an event may take: the first comes at once, a change within a CACHE_TTL and a refresh (generous for a loaded CI machine). */
const eventWait = 15_000;

type Change = ConfigChangesSubscription["opportunityConfigChanged"];
type Types = OpportunityTypesQuery["opportunityTypes"];

/** The result type of a typed document. */
type ResultOf<D> = D extends TypedDocumentString<infer R, infer _V> ? R : never;

/** One result of a subscription, as both clients emit it. */
interface Result<T> {
  data?: T | null | undefined;
  errors?: readonly { message: string }[] | undefined;
}

/**
 * Stream reads a ConfigChanges subscription in the background and hands out
 * its events one by one, each within a deadline; a result with errors, an
 * error or the end of the stream fails the next read.
 */
class Stream {
  private readonly events: Change[] = [];
  private failure: Error | null = null;
  private closed = false;
  private wake = (): void => {};
  /** ended settles when the stream's reader stops: after close, once the client ends the subscription. */
  readonly ended: Promise<void>;

  constructor(
    readonly name: string,
    private readonly results: AsyncIterableIterator<Result<ResultOf<typeof ConfigChangesDocument>>>,
  ) {
    this.ended = this.read();
  }

  private async read(): Promise<void> {
    try {
      for await (const r of this.results) {
        if (r.errors?.length || r.data == null) {
          this.failure = new Error(`${this.name}: ${r.errors?.map((e) => e.message).join("; ") || "an event without data"}`);
          break;
        }
        this.events.push(r.data.opportunityConfigChanged);
        this.wake();
      }
      this.failure ??= new Error(`${this.name}: the stream ended`);
    } catch (err) {
      this.failure = new Error(`${this.name}: ${describe(err)}`);
    }
    this.wake();
  }

  /** next returns the next event, waiting up to ms for it. */
  async next(what: string, ms = eventWait): Promise<Change> {
    const deadline = Date.now() + ms;
    for (;;) {
      const event = this.events.shift();
      if (event !== undefined) return event;
      if (this.failure && !this.closed) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no event within ${ms} ms (${what})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** pending is how many events arrived and were not read. */
  get pending(): number {
    return this.events.length;
  }

  /** error is why the stream failed or ended, or null while it is open. */
  get error(): Error | null {
    return this.failure;
  }

  /** close unsubscribes (the clients' iterators end their subscription on return). */
  async close(): Promise<void> {
    this.closed = true;
    await this.results.return?.();
  }
}

/**
 * describe words a failure: the clients reject with an Error, a CloseEvent
 * (graphql-ws: the socket closed) or an Event (the socket failed).
 */
function describe(err: unknown): string {
  if (err instanceof Error) return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
  const e = (typeof err === "object" && err !== null ? err : {}) as { type?: unknown; message?: unknown; code?: unknown; reason?: unknown };
  if (typeof e.code === "number") return `WebSocket closed with ${e.code} ${String(e.reason ?? "")}`.trim();
  if (typeof e.message === "string" && e.message !== "") return `WebSocket ${String(e.type ?? "error")}: ${e.message}`;
  return inspect(err, { depth: 0, breakLength: Infinity });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** within reports whether p settles within ms (the timer cleared, so as not to hold the process). */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

const sameIds = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((id, i) => id === b[i]);

/** checkChange checks an event's shape; want is its changedTypeIds. */
function checkChange(s: Stream, e: Change, want: number[]): void {
  const what = `${s.name}: event ${JSON.stringify(e)}`;
  check(typeof e.version === "string" && e.version.length > 0, `${what}: empty version`);
  check(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(e.fetchedAt), `${what}: fetchedAt is not RFC 3339`);
  check(!Number.isNaN(Date.parse(e.fetchedAt)), `${what}: fetchedAt is not a time`);
  check(Array.isArray(e.changedTypeIds) && sameIds(e.changedTypeIds, want), `${what}: changedTypeIds, want ${JSON.stringify(want)}`);
  check(e.stale === false, `${what}: stale`);
}

/** onChange is what a front-end does on an event: re-run its query. */
async function onChange(s: Stream, e: Change): Promise<Types> {
  const { opportunityTypes } = await execute(OpportunityTypesDocument);
  check(opportunityTypes.length > 0, `${s.name}: after version ${e.version}, opportunityTypes is empty`);
  console.log(
    `ok  ${s.name}: version ${e.version} (fetched ${e.fetchedAt}, changed [${e.changedTypeIds.join(",")}]), ` +
      `re-ran OpportunityTypes: ${opportunityTypes.map((t) => `${t.typeId} ${t.typeName}`).join(", ")}`,
  );
  return opportunityTypes;
}

/** patchType changes one type in the upstream, which the service reads past its TTL. */
async function patchType(typeId: number, patch: Record<string, unknown>): Promise<void> {
  check(control !== undefined && control !== "", "UPSTREAM_CONTROL_URL is not set: run with .ci/web.sh");
  const target = `${control}/control/types/${typeId}`;
  const response = await fetch(target, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(patch),
  }).catch((err: unknown) => {
    throw new Error(`PATCH ${target}: ${describe(err)}`);
  });
  check(response.status === 204, `PATCH ${target}: HTTP ${response.status} ${await response.text()}`);
}

async function main(): Promise<void> {
  check(control !== undefined && control !== "", "UPSTREAM_CONTROL_URL is not set: run with .ci/web.sh");
  const query = ConfigChangesDocument.toString();
  // retryAttempts 0: a failed connection fails the script instead of being retried.
  const sse = createSSEClient({ url, singleConnection: false, retryAttempts: 0 });
  // Node has a global WebSocket from version 22 (this example runs on 20 too): else the ws package's.
  const webSocketImpl: unknown = (globalThis as { WebSocket?: unknown }).WebSocket ?? WsWebSocket;
  const ws = createWSClient({ url: url.replace(/^http/, "ws"), webSocketImpl, retryAttempts: 0 });
  try {
    const streams = [
      new Stream("SSE", sse.iterate<ResultOf<typeof ConfigChangesDocument>>({ query })),
      new Stream("WebSocket", ws.iterate<ResultOf<typeof ConfigChangesDocument>>({ query })),
    ];

    // 1. The first event: the version served, nothing changed, not stale;
    //    the same on both transports.
    const first = new Map<Stream, Change>();
    let before: Types = [];
    for (const s of streams) {
      const e = await s.next("the first event");
      checkChange(s, e, []);
      first.set(s, e);
      before = await onChange(s, e);
    }
    const [a, b] = [...first.values()];
    check(a?.version === b?.version, `the transports disagree on the version: ${a?.version}, ${b?.version}`);

    // 2. A change in the upstream: the last type renamed. Each stream gets
    //    one event naming that type, with a new version, and the query
    //    re-run on it shows the new name and nothing else changed.
    const target = before.at(-1);
    check(target !== undefined, "no type to change");
    const renamed = `${target.typeName}（改名）`;
    await patchType(target.typeId, { typeName: renamed });
    console.log(`    upstream: type ${target.typeId} renamed ${target.typeName} → ${renamed}`);
    const second = new Map<Stream, Change>();
    for (const s of streams) {
      const e = await s.next(`after type ${target.typeId} changed`);
      checkChange(s, e, [target.typeId]);
      check(e.version !== first.get(s)?.version, `${s.name}: the change kept version ${e.version}`);
      const was = first.get(s)?.fetchedAt ?? "";
      check(Date.parse(e.fetchedAt) >= Date.parse(was), `${s.name}: fetchedAt went back from ${was} to ${e.fetchedAt}`);
      second.set(s, e);
      const after = await onChange(s, e);
      const wantNames = before.map((t) => (t.typeId === target.typeId ? renamed : t.typeName));
      const gotNames = after.map((t) => t.typeName);
      check(
        JSON.stringify(gotNames) === JSON.stringify(wantNames),
        `${s.name}: after the change, types ${gotNames.join(", ")}, want ${wantNames.join(", ")}`,
      );
    }
    const [c, d] = [...second.values()];
    check(c?.version === d?.version, `the transports disagree on the new version: ${c?.version}, ${d?.version}`);

    // 3. Refreshes that bring the same data send nothing: more than two TTLs
    //    of them, and no event on either stream.
    await sleep(2500);
    for (const s of streams) {
      check(s.error === null, `${s.name} failed: ${s.error?.message}`);
      check(s.pending === 0, `${s.name}: ${s.pending} events without a change`);
    }
    console.log("ok  no event for 2.5 s of unchanged refreshes");

    // 4. Unsubscribe: the clients end their subscriptions (SSE: the request
    //    is aborted; WebSocket: a complete message, then the lazy client
    //    closes the socket).
    for (const s of streams) {
      await s.close();
      check(await within(s.ended, 2000), `${s.name}: the subscription did not end within 2 s of unsubscribing`);
    }
    sse.dispose();
    await ws.dispose();
    console.log("ok  unsubscribed, clients disposed");
  } catch (err) {
    // Disposed here too, so that the script exits; their errors would only
    // hide the first failure.
    sse.dispose();
    await Promise.resolve(ws.dispose()).catch(() => {});
    throw err;
  }
}

try {
  await main();
} catch (err) {
  console.error(`FAIL ${url}: ${describe(err)}`);
  process.exit(1);
}
