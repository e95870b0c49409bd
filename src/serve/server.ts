/**
 * The HTTP JSON API over a `Recommender` (fastify).
 *
 *   GET  /health            liveness + what is loaded
 *   POST /recommend         {history, k?, excludeSeen?, interests?} -> {items, unknown, fallback, reason?}
 *   POST /recommend/batch   {histories, k?, excludeSeen?, interests?} -> {results: [...]}
 *   POST /similar           {item, k?} -> {item, items}
 *   GET  /metrics           Prometheus text
 *   POST /admin/reload      {dir?} -> {status: 'reloaded', info}   (only when `admin` is enabled)
 *
 * Every body is validated by a JSON schema built from the recommender's limits (types, unknown
 * fields, k range, history length, batch size); every error is `{error, message}` with a 4xx
 * status for bad input. See docs/serving.md.
 *
 * Concurrent /recommend requests are coalesced: requests that arrive while the event loop is
 * busy are answered by one `recommendMany` call per (excludeSeen, interests) group at the
 * next turn of the loop, which amortises TF.js's per-operation overhead over the batch. Results
 * are the same as one `recommend` call per request (top-k lists are prefixes of top-k' lists).
 */
import { timingSafeEqual } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { MAX_ID_LENGTH } from '../data/fields.js';
import { SeqrecError } from '../errors.js';
import { ServerMetrics } from './metrics.js';
import type { Recommendation, RecommendOptions, Recommender, RecommenderInfo, ItemId } from './recommender.js';

export interface ServerOptions {
  /** fastify's logger option (pino). Default false. */
  logger?: boolean | Record<string, unknown>;
  /** Largest request body in bytes. Default 1 MiB. */
  bodyLimit?: number;
  /**
   * Enables POST /admin/reload. `true`: no authentication (bind to loopback!); `{token}`:
   * requests need `Authorization: Bearer <token>`. Default false.
   */
  admin?: boolean | { token?: string };
  /** Coalesce concurrent /recommend requests into batched model calls. Default true. */
  coalesce?: boolean;
}

/** What `createServer` adds to the fastify instance (as `app.seqrec`). */
export interface SeqrecServerState {
  readonly recommender: Recommender;
  readonly metrics: ServerMetrics;
  /**
   * Loads `dir` (default: the current bundle directory) into the recommender and swaps it in
   * atomically; requests keep being answered throughout. Counted in the reload metrics.
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

const ERROR_SCHEMA = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;

const SCORED_ITEMS = {
  type: 'array',
  items: { type: 'object', properties: { id: { type: 'string' }, score: { type: 'number' } }, required: ['id', 'score'] },
} as const;

const RECOMMENDATION = {
  type: 'object',
  properties: {
    items: SCORED_ITEMS,
    unknown: { type: 'array', items: { type: 'string' } },
    fallback: { type: ['string', 'null'] },
    reason: { type: 'string' },
  },
  required: ['items', 'unknown', 'fallback'],
} as const;

/** Ids as JSON: strings (raw ids) or integers (converted with String). */
const ITEM_ID = { type: ['string', 'integer'], maxLength: MAX_ID_LENGTH } as const;

function schemas(limits: { maxK: number; maxHistory: number; maxBatch: number }) {
  const history = { type: 'array', maxItems: limits.maxHistory, items: ITEM_ID };
  const common = {
    k: { type: 'integer', minimum: 1, maximum: limits.maxK },
    excludeSeen: { type: 'boolean' },
    interests: { anyOf: [{ type: 'string', enum: ['merge'] }, { type: 'integer', minimum: 0 }] },
  };
  return {
    recommend: {
      type: 'object',
      additionalProperties: false,
      required: ['history'],
      properties: { history, ...common },
    },
    batch: {
      type: 'object',
      additionalProperties: false,
      required: ['histories'],
      properties: { histories: { type: 'array', maxItems: limits.maxBatch, items: history }, ...common },
    },
    similar: {
      type: 'object',
      additionalProperties: false,
      required: ['item'],
      properties: { item: ITEM_ID, k: common.k },
    },
    reload: {
      type: 'object',
      additionalProperties: false,
      properties: { dir: { type: 'string', minLength: 1, maxLength: 4096 } },
    },
  };
}

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

const TYPE_NAMES: Record<string, string> = {
  array: 'an array',
  object: 'a JSON object',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  null: 'null',
};

/** "body.history[3]" from ("body", "/history/3"). */
function fieldPath(dataVar: string, instancePath: string): string {
  let out = dataVar;
  for (const part of instancePath.split('/').slice(1)) out += /^\d+$/.test(part) ? `[${part}]` : `.${part}`;
  return out;
}

/** One clear sentence for the first schema violation, naming the field. */
function describeIssue(issue: ValidationIssue, dataVar: string): string {
  const at = fieldPath(dataVar, issue.instancePath);
  const p = issue.params;
  switch (issue.keyword) {
    case 'additionalProperties':
      return `${at} has an unknown field '${String(p.additionalProperty)}'`;
    case 'required':
      return `${at} is missing the required field '${String(p.missingProperty)}'`;
    case 'type':
      return `${at} must be ${String(p.type).split(',').map((t) => TYPE_NAMES[t] ?? t).join(' or ')}`;
    case 'maxItems':
      return `${at} has too many entries (at most ${String(p.limit)})`;
    case 'maximum':
      return `${at} must be <= ${String(p.limit)}`;
    case 'minimum':
      return `${at} must be >= ${String(p.limit)}`;
    case 'maxLength':
      return `${at} is too long (at most ${String(p.limit)} characters)`;
    case 'minLength':
      return `${at} must not be empty`;
    case 'anyOf':
    case 'enum':
      return at.endsWith('.interests') ? `${at} must be "merge" or an interest index >= 0` : `${at} ${issue.message ?? 'is invalid'}`;
    default:
      return `${at} ${issue.message ?? 'is invalid'}`;
  }
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
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
    default:
      return { status: 500, error: err.code };
  }
}

function truncate(r: Recommendation, k: number): Recommendation {
  return r.items.length <= k ? r : { ...r, items: r.items.slice(0, k) };
}

interface Pending {
  history: readonly ItemId[];
  options: RecommendOptions & { k: number };
  resolve(r: Recommendation): void;
  reject(e: unknown): void;
}

/**
 * Answers concurrent `recommend` calls with one `recommendMany` call per group of compatible
 * options, at the next turn of the event loop. Each flush is synchronous, so it uses one
 * consistent model even across a hot reload.
 */
class Coalescer {
  private groups = new Map<string, Pending[]>();
  private scheduled = false;

  constructor(
    private readonly recommender: Recommender,
    private readonly metrics: ServerMetrics,
  ) {}

  recommend(history: readonly ItemId[], options: RecommendOptions & { k: number }): Promise<Recommendation> {
    return new Promise((resolve, reject) => {
      const key = `${options.excludeSeen ?? true}|${options.interests ?? 'merge'}`;
      let group = this.groups.get(key);
      if (!group) this.groups.set(key, (group = []));
      group.push({ history, options, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const groups = this.groups;
    this.groups = new Map();
    const maxBatch = this.recommender.limitsInForce.maxBatch;
    for (const list of groups.values()) {
      for (let start = 0; start < list.length; start += maxBatch) this.run(list.slice(start, start + maxBatch));
    }
  }

  private run(chunk: Pending[]): void {
    this.metrics.inc('coalesced_batches');
    this.metrics.inc('coalesced_requests', chunk.length);
    if (chunk.length > 1) {
      const k = Math.max(...chunk.map((p) => p.options.k));
      let results: Recommendation[] | null = null;
      try {
        results = this.recommender.recommendMany(
          chunk.map((p) => p.history),
          { ...chunk[0].options, k },
        );
      } catch {
        results = null; // answer one by one below, so each error reaches its own request
      }
      if (results) {
        chunk.forEach((p, i) => p.resolve(truncate(results![i], p.options.k)));
        return;
      }
    }
    for (const p of chunk) {
      try {
        p.resolve(this.recommender.recommend(p.history, p.options));
      } catch (err) {
        p.reject(err);
      }
    }
  }
}

function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header || !header.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * A fastify instance serving `recommender` (not listening yet: call `app.listen({port, host})`,
 * or `app.inject(...)` in tests). The instance can be extended with more routes or hooks.
 * Closing the instance does not dispose the recommender.
 */
export function createServer(recommender: Recommender, options: ServerOptions = {}): FastifyInstance {
  const limits = recommender.limitsInForce;
  const s = schemas(limits);
  const metrics = new ServerMetrics();
  const coalescer = options.coalesce === false ? null : new Coalescer(recommender, metrics);
  let inFlight = 0;

  const app = Fastify({
    logger: (options.logger ?? false) as boolean,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
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
    schemaErrorFormatter: (errors, dataVar) => {
      const err = new HttpError(400, 'invalid_request', describeIssue(errors[0] as unknown as ValidationIssue, dataVar));
      return err;
    },
  });

  const reload = async (dir?: string): Promise<RecommenderInfo> => {
    try {
      const info = await recommender.reload(dir);
      metrics.inc('reload_success');
      app.log.info({ dir: info.dir, generation: info.generation }, 'bundle reloaded');
      return info;
    } catch (err) {
      metrics.inc('reload_failure');
      throw err;
    }
  };
  // JSON only: a text/plain body is a 415, not a string that fails the schema.
  app.removeContentTypeParser('text/plain');
  app.decorate('seqrec', { recommender, metrics, reload } satisfies SeqrecServerState);

  // Graceful close: fastify stops accepting connections and closes idle keep-alive ones; a
  // request still in flight is answered with `Connection: close`, so its socket closes after
  // the response instead of idling until the keep-alive timeout (72 s in fastify).
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
      body = { error: m.error, message: err.message };
    } else {
      const fe = err as FastifyError;
      const code = fe.code;
      if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (fe.statusCode === 400 && err instanceof SyntaxError)) {
        status = 400;
        const cause = (fe as { cause?: Error }).cause?.message;
        body = { error: 'invalid_json', message: `the request body is not valid JSON${cause ? ` (${cause})` : ''}` };
      } else if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
        status = 400;
        body = { error: 'invalid_json', message: 'the request body is empty; send a JSON object' };
      } else if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        status = 413;
        body = { error: 'payload_too_large', message: `the request body is larger than ${options.bodyLimit ?? 1024 * 1024} bytes` };
      } else if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        status = 415;
        body = { error: 'unsupported_media_type', message: `send JSON with Content-Type: application/json (got ${String(req.headers['content-type'])})` };
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

  app.get('/health', async () => {
    const info = recommender.info();
    return {
      status: 'ok',
      model: info.model,
      numItems: info.numItems,
      numInterests: info.numInterests,
      maxLen: info.maxLen,
      retriever: info.retriever,
      bundle: info.dir,
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

  if (options.admin) {
    const token = typeof options.admin === 'object' ? options.admin.token : undefined;
    app.post<{ Body: { dir?: string } | undefined }>('/admin/reload', {
      schema: { body: s.reload },
      // No body at all means "reload the current directory".
      preValidation: async (req) => {
        if (req.body === undefined || req.body === null) req.body = {};
      },
    }, async (req, reply) => {
      if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
        reply.code(401);
        return { error: 'unauthorized', message: 'POST /admin/reload needs Authorization: Bearer <admin token>' } satisfies ErrorBody;
      }
      const info = await reload(req.body?.dir);
      return { status: 'reloaded', info };
    });
  }

  return app;
}
