/**
 * The HTTP JSON API over a `Recommender` (fastify).
 *
 *   GET  /health            liveness + what is loaded
 *   POST /recommend         {history, k?, excludeSeen?, interests?} -> {items, unknown, fallback, reason?}
 *   POST /recommend/batch   {histories, k?, excludeSeen?, interests?} -> {results: [...]}
 *   POST /similar           {item, k?} -> {item, items}
 *   GET  /metrics           Prometheus text
 *   POST /admin/reload      {bundle?} -> {status: 'reloaded', bundle, info}   (only with an admin token)
 *
 * Every body is validated by a JSON schema built from the recommender's limits (types, unknown
 * fields, k range, history length, batch size); every error is `{error, message}` with a 4xx
 * status for bad input. Timeouts, a connection cap, the JSON depth limit and the admin guards
 * (token, Host, Origin, named bundles only) are described in docs/serving.md, "Security".
 * Schemas live in schemas.ts, request coalescing in coalescer.ts, the defences in guards.ts.
 */
import type { ServerOptions as HttpServerOptions } from 'node:http';
import { basename } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { SeqrecError } from '../errors.js';
import { Coalescer } from './coalescer.js';
import { bearerMatches, clientErrorHandler, configError, foreignRequest, HttpError, parseJsonBody, resolveAdmin, scrubPaths, type AdminOptions } from './guards.js';
import { ServerMetrics } from './metrics.js';
import type { Recommendation, Recommender, RecommenderInfo, ItemId } from './recommender.js';
import { describeIssue, ERROR_SCHEMA, RECOMMENDATION, SCORED_ITEMS, schemas, type ValidationIssue } from './schemas.js';

export type { AdminOptions } from './guards.js';

export interface ServerOptions {
  /** fastify's logger option (pino). Default false. */
  logger?: boolean | Record<string, unknown>;
  /** Largest request body in bytes. Default 1 MiB. */
  bodyLimit?: number;
  /**
   * Enables POST /admin/reload, guarded by a bearer token (required and non-empty: anything
   * else is an 'invalid_config' error at start-up), Host and Origin checks. Default off.
   */
  admin?: false | AdminOptions;
  /** Coalesce concurrent /recommend requests into batched model calls. Default true. */
  coalesce?: boolean;
  /** Time to receive a whole request, headers and body (node's requestTimeout). Default 10000 ms. */
  requestTimeoutMs?: number;
  /** Time to receive the request headers (node's headersTimeout); at most requestTimeoutMs. Default 5000 ms (or requestTimeoutMs if less). */
  headersTimeoutMs?: number;
  /** A socket with no activity for this long is closed (fastify's connectionTimeout). Default 30000 ms. */
  connectionTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this long. Default 5000 ms. */
  keepAliveTimeoutMs?: number;
  /** Open connections at most; more are closed at once (node's maxConnections). Default 1000. */
  maxConnections?: number;
  /** Deepest nesting of arrays/objects in a JSON body, checked before parsing. Default 32. */
  maxJsonDepth?: number;
  /** Limit of each reload, passed to `Recommender.reload`. Default: the recommender's reloadTimeoutMs (30000 ms). */
  reloadTimeoutMs?: number;
  /** Where reload outcomes are reported, one line each. Default: fastify's logger. */
  log?: (line: string) => void;
}

/** Defaults of the ServerOptions limits (docs/serving.md, "Security"). */
export const SERVER_DEFAULTS = {
  bodyLimit: 1024 * 1024,
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
  connectionTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1000,
  maxJsonDepth: 32,
} as const;

/** What `createServer` adds to the fastify instance (as `app.seqrec`). */
export interface SeqrecServerState {
  readonly recommender: Recommender;
  readonly metrics: ServerMetrics;
  /**
   * Loads `dir` (default: the current bundle directory) into the recommender and swaps it in
   * atomically; requests keep being answered throughout. Counted in the reload metrics. For
   * the embedding program only: the HTTP route never takes a path.
   */
  reload(dir?: string): Promise<RecommenderInfo>;
}

declare module 'fastify' {
  interface FastifyInstance {
    seqrec: SeqrecServerState;
  }
}

/** The error body of every non-2xx answer. */
export interface ErrorBody {
  /** Machine-readable kind: invalid_json, invalid_request, unknown_item, not_found, payload_too_large, ... */
  error: string;
  /** What is wrong, naming the field. */
  message: string;
}

function statusOf(err: SeqrecError): { status: number; error: string } {
  switch (err.code) {
    case 'unknown_item':
      return { status: 404, error: 'unknown_item' };
    case 'invalid_argument':
    case 'shape_mismatch':
      return { status: 400, error: 'invalid_request' };
    case 'bundle_invalid':
      return { status: 422, error: 'bundle_invalid' };
    case 'timeout':
      return { status: 503, error: 'reload_timeout' };
    default:
      return { status: 500, error: err.code };
  }
}

function positiveInt(options: ServerOptions, field: keyof typeof SERVER_DEFAULTS): number {
  const v = options[field];
  if (v === undefined) return SERVER_DEFAULTS[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw configError(field, `${field} must be an integer >= 1, got ${String(v)}`);
  return v;
}

/**
 * A fastify instance serving `recommender` (not listening yet: call `app.listen({port, host})`,
 * or `app.inject(...)` in tests). The instance can be extended with more routes or hooks.
 * Closing the instance does not dispose the recommender.
 */
export function createServer(recommender: Recommender, options: ServerOptions = {}): FastifyInstance {
  const admin = resolveAdmin(options.admin);
  const bodyLimit = positiveInt(options, 'bodyLimit');
  const requestTimeout = positiveInt(options, 'requestTimeoutMs');
  // Unset, it follows a shorter request timeout down.
  const headersTimeout = options.headersTimeoutMs === undefined ? Math.min(SERVER_DEFAULTS.headersTimeoutMs, requestTimeout) : positiveInt(options, 'headersTimeoutMs');
  if (headersTimeout > requestTimeout) throw configError('headersTimeoutMs', `headersTimeoutMs (${headersTimeout}) must be <= requestTimeoutMs (${requestTimeout})`);
  const maxJsonDepth = positiveInt(options, 'maxJsonDepth');
  const maxConnections = positiveInt(options, 'maxConnections');
  const reloadTimeout = options.reloadTimeoutMs;
  if (reloadTimeout !== undefined && (!Number.isSafeInteger(reloadTimeout) || reloadTimeout < 1)) {
    throw configError('reloadTimeoutMs', `reloadTimeoutMs must be an integer >= 1, got ${String(reloadTimeout)}`);
  }
  const limits = recommender.limitsInForce;
  const s = schemas(limits);
  const metrics = new ServerMetrics();
  const coalescer = options.coalesce === false ? null : new Coalescer(recommender, metrics);
  let inFlight = 0;

  // Node checks request and header timeouts on this period (default 30 s, which would let
  // a 5 s header timeout run to 30 s).
  const http: HttpServerOptions = { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout) };
  const app = Fastify({
    logger: (options.logger ?? false) as boolean,
    bodyLimit,
    requestTimeout,
    connectionTimeout: positiveInt(options, 'connectionTimeoutMs'),
    keepAliveTimeout: positiveInt(options, 'keepAliveTimeoutMs'),
    http,
    clientErrorHandler,
    frameworkErrors: (err, _req, reply) => {
      const badUrl = err.code === 'FST_ERR_BAD_URL';
      (reply as FastifyReply).code(400).send({ error: badUrl ? 'bad_url' : 'bad_request', message: badUrl ? 'the request URL is not valid (malformed percent-encoding?)' : err.message } satisfies ErrorBody);
    },
    // Close idle keep-alive connections on close(), let active ones finish.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    ajv: {
      customOptions: {
        // Reject (do not silently drop) unknown fields, and never coerce "5" into 5.
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: false,
        allErrors: false,
        // ITEM_ID is a string or an integer.
        allowUnionTypes: true,
      },
    },
    schemaErrorFormatter: (errors, dataVar) => new HttpError(400, 'invalid_request', describeIssue(errors[0] as unknown as ValidationIssue, dataVar)),
  });
  app.server.maxConnections = maxConnections;
  app.server.on('drop', () => metrics.inc('connections_dropped'));

  /** Client-facing name of a bundle directory: its allow-list name, else its last component. */
  const nameOf = (dir: string): string => {
    for (const [name, d] of admin?.bundles ?? []) if (d === dir) return name;
    return basename(dir);
  };
  const initialDir = recommender.info().dir;
  /** Every bundle directory the server knows, for scrubbing client messages. */
  const knownDirs = (): Map<string, string> => {
    const dirs = new Map<string, string>([[initialDir, nameOf(initialDir)]]);
    for (const [name, d] of admin?.bundles ?? []) dirs.set(d, name);
    const current = recommender.isDisposed ? null : recommender.info().dir;
    if (current) dirs.set(current, nameOf(current));
    return dirs;
  };
  const note = (line: string, failed: boolean) => {
    if (options.log) options.log(line);
    else if (failed) app.log.warn(line);
    else app.log.info(line);
  };

  const reload = async (dir?: string): Promise<RecommenderInfo> => {
    const serving = recommender.info().dir;
    try {
      const info = await recommender.reload(dir, reloadTimeout === undefined ? {} : { timeoutMs: reloadTimeout });
      metrics.inc('reload_success');
      note(`reloaded bundle ${nameOf(info.dir)} (generation ${info.generation})`, false);
      return info;
    } catch (err) {
      metrics.inc('reload_failure');
      note(`reload failed, still serving bundle ${nameOf(serving)}: ${(err as Error).message}`, true);
      throw err;
    }
  };
  // JSON only: a text/plain body is a 415, not a string that fails the schema.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string, maxJsonDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.decorate('seqrec', { recommender, metrics, reload } satisfies SeqrecServerState);

  // Graceful close: fastify stops accepting connections and closes idle keep-alive ones; a
  // request still in flight is answered with `Connection: close`, so its socket closes after
  // the response instead of idling until the keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  // Counted when the response closes: after it was sent, or when the client went away first
  // (status 499, nginx's "client closed request"), so the in-flight gauge cannot drift.
  app.addHook('onRequest', async (req, reply) => {
    const t0 = process.hrtime.bigint();
    inFlight++;
    reply.raw.once('close', () => {
      inFlight--;
      const status = reply.raw.writableFinished ? reply.statusCode : 499;
      metrics.observe(req.routeOptions.url ?? 'unmatched', req.method, status, Number(process.hrtime.bigint() - t0) / 1e9);
    });
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } satisfies ErrorBody);
  });

  app.setErrorHandler((err: FastifyError | HttpError | SeqrecError | Error, req: FastifyRequest, reply: FastifyReply) => {
    let status = 500;
    let body: ErrorBody;
    if (err instanceof HttpError) {
      status = err.statusCode;
      body = { error: err.error, message: err.message };
    } else if (err instanceof SeqrecError) {
      const m = statusOf(err);
      status = m.status;
      // Defensive: a lower layer's message must not show where bundles live on disk.
      body = { error: m.error, message: scrubPaths(err.message, knownDirs(), err.code !== 'unknown_item' && err.code !== 'invalid_argument') };
    } else {
      const fe = err as FastifyError;
      const code = fe.code;
      if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
        status = 400;
        body = { error: 'invalid_json', message: 'the request body is empty; send a JSON object' };
      } else if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        status = 413;
        body = { error: 'payload_too_large', message: `the request body is larger than ${bodyLimit} bytes` };
      } else if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        status = 415;
        body = { error: 'unsupported_media_type', message: `send JSON with Content-Type: application/json (got ${String(req.headers['content-type']).slice(0, 100)})` };
      } else if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
        status = fe.statusCode;
        body = { error: 'bad_request', message: err.message };
      } else {
        req.log.error(err);
        status = 500;
        body = { error: 'internal', message: 'internal server error' };
      }
    }
    reply.code(status).send(body);
  });

  const errors = { 400: ERROR_SCHEMA, 404: ERROR_SCHEMA };

  /** `info()` for clients: the bundle's name instead of its directory. */
  const publicInfo = (info: RecommenderInfo) => {
    const { dir, ...rest } = info;
    return { ...rest, bundle: nameOf(dir) };
  };

  app.get('/health', async () => {
    const info = recommender.info();
    return {
      status: 'ok',
      model: info.model,
      numItems: info.numItems,
      numInterests: info.numInterests,
      maxLen: info.maxLen,
      retriever: info.retriever,
      bundle: nameOf(info.dir),
      bundleVersion: info.bundleVersion,
      bundleCreatedAt: info.bundleCreatedAt,
      loadedAt: info.loadedAt,
      generation: info.generation,
      limits: info.limits,
      inFlight,
    };
  });

  const countOutcome = (r: Recommendation) => {
    if (r.fallback) metrics.inc('fallback');
    if (r.unknown.length) metrics.inc('unknown_items', r.unknown.length);
  };

  interface RecommendBody {
    history: ItemId[];
    k?: number;
    excludeSeen?: boolean;
    interests?: 'merge' | number;
  }
  app.post<{ Body: RecommendBody }>(
    '/recommend',
    { schema: { body: s.recommend, response: { 200: RECOMMENDATION, ...errors } } },
    async (req) => {
      const { history, ...rest } = req.body;
      const opts = { ...rest, k: rest.k ?? 10 };
      const r = coalescer ? await coalescer.recommend(history, opts) : recommender.recommend(history, opts);
      countOutcome(r);
      return r;
    },
  );

  interface BatchBody {
    histories: ItemId[][];
    k?: number;
    excludeSeen?: boolean;
    interests?: 'merge' | number;
  }
  app.post<{ Body: BatchBody }>(
    '/recommend/batch',
    {
      schema: {
        body: s.batch,
        response: { 200: { type: 'object', properties: { results: { type: 'array', items: RECOMMENDATION } }, required: ['results'] }, ...errors },
      },
    },
    async (req) => {
      const { histories, ...opts } = req.body;
      const results = recommender.recommendMany(histories, opts);
      results.forEach(countOutcome);
      return { results };
    },
  );

  app.post<{ Body: { item: ItemId; k?: number } }>(
    '/similar',
    {
      schema: {
        body: s.similar,
        response: { 200: { type: 'object', properties: { item: { type: 'string' }, items: SCORED_ITEMS }, required: ['item', 'items'] }, ...errors },
      },
    },
    async (req) => ({ item: String(req.body.item), items: recommender.similarItems(req.body.item, req.body.k ?? 10) }),
  );

  app.get('/metrics', async (_req, reply) => {
    const info = recommender.info();
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return metrics.render({ tensors: tf.memory().numTensors, generation: info.generation, items: info.numItems, inFlight });
  });

  if (admin) {
    const names = [...admin.bundles.keys()].sort();
    app.post<{ Body: { bundle?: string } | undefined }>(
      '/admin/reload',
      {
        schema: { body: s.reload },
        // Before the body is read: a foreign page or an unauthenticated client costs no parsing.
        onRequest: async (req) => {
          const foreign = foreignRequest(req.headers, admin);
          if (foreign) throw new HttpError(403, 'forbidden', foreign);
          if (!bearerMatches(req.headers.authorization, admin.tokenDigest)) {
            throw new HttpError(401, 'unauthorized', 'POST /admin/reload needs Authorization: Bearer <admin token>');
          }
        },
        preValidation: async (req) => {
          // No body at all means "reload the current bundle".
          if (req.body === undefined || req.body === null) req.body = {};
          if (typeof req.body === 'object' && !Array.isArray(req.body) && 'dir' in req.body) {
            throw new HttpError(400, 'invalid_request', 'POST /admin/reload takes no path: send {"bundle": "<name>"} with a configured bundle name, or no body to reload the current bundle');
          }
        },
      },
      async (req) => {
        const name = req.body?.bundle;
        let dir: string | undefined;
        if (name !== undefined) {
          dir = admin.bundles.get(name);
          if (dir === undefined) {
            throw new HttpError(
              400,
              'invalid_request',
              names.length
                ? `unknown bundle '${name}'; the configured names are ${names.map((n) => `'${n}'`).join(', ')}`
                : 'no bundle names are configured (admin.bundles / --admin-bundle NAME=DIR); send no body to reload the current bundle',
            );
          }
        }
        try {
          const info = await reload(dir);
          return { status: 'reloaded', bundle: nameOf(info.dir), info: publicInfo(info) };
        } catch (err) {
          if (!(err instanceof SeqrecError)) throw err;
          const m = statusOf(err);
          throw new HttpError(m.status, m.error, scrubPaths(err.message, knownDirs()));
        }
      },
    );
  }

  return app;
}
