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
 * Body schemas live in schemas.ts, the options in options.ts, the routes in routes.ts, request
 * coalescing in coalescer.ts, the defences in guards.ts. fastify is an optional package, loaded
 * when the first server is created.
 */
import type { ServerOptions as HttpServerOptions } from 'node:http';
import { basename } from 'node:path';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as tf from '@tensorflow/tfjs-core';
import { SeqrecError } from '../errors.js';
import { loadOptional } from '../util/optional.js';
import { Coalescer } from './coalescer.js';
import { clientErrorHandler, HttpError, parseJsonBody, scrubPaths } from './guards.js';
import { ServerMetrics, type MetricsSnapshot } from './metrics.js';
import { resolveServerOptions, type ServerOptions } from './options.js';
import type { Recommender, RecommenderInfo } from './recommender.js';
import { registerRoutes, statusOf } from './routes.js';
import type { ErrorBody } from './schemas.js';

export { SERVER_DEFAULTS, type AdminOptions, type ClusterHooks, type ServerOptions } from './options.js';
export type { ErrorBody } from './schemas.js';

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
  /** This process's metrics (a worker sends them to its primary). */
  snapshot(): MetricsSnapshot;
}

declare module 'fastify' {
  interface FastifyInstance {
    seqrec: SeqrecServerState;
  }
}

/**
 * A fastify instance serving `recommender` (not listening yet: call `app.listen({port, host})`,
 * or `app.inject(...)` in tests). The instance can be extended with more routes or hooks.
 * Closing the instance does not dispose the recommender.
 */
export async function createServer(recommender: Recommender, options: ServerOptions = {}): Promise<FastifyInstance> {
  const o = resolveServerOptions(options);
  const { admin, bodyLimit } = o;
  const { default: Fastify } = await loadOptional('fastify', 'seqrec serve', () => import('fastify'));
  const metrics = new ServerMetrics();
  const coalescer = o.coalesce ? new Coalescer(recommender, metrics) : null;
  let inFlight = 0;

  // Node checks request and header timeouts on this period (default 30 s, which would let
  // a 5 s header timeout run to 30 s).
  const http: HttpServerOptions = {
    headersTimeout: o.headersTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, o.headersTimeoutMs),
  };
  const app = Fastify({
    logger: o.logger as boolean,
    bodyLimit,
    requestTimeout: o.requestTimeoutMs,
    connectionTimeout: o.connectionTimeoutMs,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    http,
    clientErrorHandler,
    frameworkErrors: (err, _req, reply) => {
      const badUrl = err.code === 'FST_ERR_BAD_URL';
      (reply as FastifyReply).code(400).send({
        error: badUrl ? 'bad_url' : 'bad_request',
        message: badUrl ? 'the request URL is not valid (malformed percent-encoding?)' : err.message,
      } satisfies ErrorBody);
    },
    // Close idle keep-alive connections on close(), let active ones finish.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  app.server.maxConnections = o.maxConnections;
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
    if (o.log) o.log(line);
    else if (failed) app.log.warn(line);
    else app.log.info(line);
  };

  const reload = async (dir?: string): Promise<RecommenderInfo> => {
    const serving = recommender.info().dir;
    try {
      const info = await recommender.reload(dir, o.reloadTimeoutMs === undefined ? {} : { timeoutMs: o.reloadTimeoutMs });
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
      done(null, parseJsonBody(body as string, o.maxJsonDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  const snapshot = (): MetricsSnapshot => {
    const info = recommender.info();
    return metrics.snapshot({ tensors: tf.memory().numTensors, generation: info.generation, items: info.numItems, inFlight });
  };
  app.decorate('seqrec', { recommender, metrics, reload, snapshot } satisfies SeqrecServerState);

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
        body = {
          error: 'unsupported_media_type',
          message: `send JSON with Content-Type: application/json (got ${String(req.headers['content-type']).slice(0, 100)})`,
        };
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

  // With workers, the admin route reloads every worker and /metrics covers them all.
  const cluster = o.cluster;
  registerRoutes(app, {
    recommender,
    metrics,
    coalescer,
    admin,
    inFlight: () => inFlight,
    nameOf,
    knownDirs,
    reload: cluster ? (dir) => cluster.reload(dir) : reload,
    metricsSnapshot: cluster ? () => cluster.metrics() : async () => snapshot(),
  });
  return app;
}
