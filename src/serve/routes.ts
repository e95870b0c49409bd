/**
 * The routes of the HTTP API. Bodies are validated by the zod schemas of schemas.ts (a
 * per-route validator compiler), and fastify is given the JSON schemas generated from them
 * for documentation and for serialising answers.
 */
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { SeqrecError } from '../errors.js';
import type { Coalescer } from './coalescer.js';
import { bearerMatches, foreignRequest, HttpError, scrubPaths, type ResolvedAdmin } from './guards.js';
import { renderMetrics, type MetricsSnapshot, type ServerMetrics } from './metrics.js';
import type { Recommendation, Recommender, RecommenderInfo } from './recommender.js';
import {
  batchAnswerSchema,
  describeIssue,
  errorBodySchema,
  jsonSchema,
  recommendationSchema,
  requestSchemas,
  similarAnswerSchema,
  type BatchAnswer,
  type BatchBody,
  type RecommendAnswer,
  type RecommendBody,
  type ReloadBody,
  type SimilarAnswer,
  type SimilarBody,
} from './schemas.js';

/** What the routes need from the server around them. */
export interface RouteContext {
  recommender: Recommender;
  metrics: ServerMetrics;
  coalescer: Coalescer | null;
  admin: ResolvedAdmin | null;
  /** Requests being answered now (by this process). */
  inFlight(): number;
  /** Client-facing name of a bundle directory. */
  nameOf(dir: string): string;
  /** Every bundle directory the server knows, for scrubbing client messages. */
  knownDirs(): Map<string, string>;
  reload(dir?: string): Promise<RecommenderInfo>;
  /** What /metrics shows: this process's values, or with workers every worker's, merged. */
  metricsSnapshot(): Promise<MetricsSnapshot>;
}

/** HTTP status and error kind of a SeqrecError. */
export function statusOf(err: SeqrecError): { status: number; error: string } {
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
    case 'unavailable':
      return { status: 503, error: 'unavailable' };
    default:
      return { status: 500, error: err.code };
  }
}

/** A fastify validator that parses with `schema`; a violation is a 400 naming the field. */
function zodValidator(schema: z.ZodType): FastifySchemaCompiler<unknown> {
  return () => (data: unknown) => {
    const parsed = schema.safeParse(data);
    return parsed.success ? { value: parsed.data } : { error: new HttpError(400, 'invalid_request', describeIssue(schema, parsed.error.issues[0], data)) };
  };
}

const ERROR_JSON = jsonSchema(errorBodySchema);
const ERRORS = { 400: ERROR_JSON, 404: ERROR_JSON };

export function registerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { recommender, metrics, coalescer, admin, nameOf } = ctx;
  const s = requestSchemas(recommender.limitsInForce);

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
      fallback: info.fallback,
      bundle: nameOf(info.dir),
      bundleDigest: info.bundleDigest,
      bundleVersion: info.bundleVersion,
      bundleCreatedAt: info.bundleCreatedAt,
      loadedAt: info.loadedAt,
      generation: info.generation,
      limits: info.limits,
      inFlight: ctx.inFlight(),
    };
  });

  const countOutcome = (r: Recommendation) => {
    if (r.fallback) metrics.inc(`fallback:${r.fallback}`);
    if (r.unknown.length) metrics.inc('unknown_items', r.unknown.length);
  };

  app.post<{ Body: RecommendBody }>(
    '/recommend',
    { schema: { body: jsonSchema(s.recommend), response: { 200: jsonSchema(recommendationSchema), ...ERRORS } }, validatorCompiler: zodValidator(s.recommend) },
    async (req): Promise<RecommendAnswer> => {
      const { history, ...rest } = req.body;
      const opts = { ...rest, k: rest.k ?? 10 };
      // The synchronous call stays as it was for in-memory retrievers; a database is awaited.
      let r: Recommendation;
      if (coalescer) r = await coalescer.recommend(history, opts);
      else r = recommender.answersAsync ? await recommender.recommendAsync(history, opts) : recommender.recommend(history, opts);
      countOutcome(r);
      return r;
    },
  );

  app.post<{ Body: BatchBody }>(
    '/recommend/batch',
    { schema: { body: jsonSchema(s.batch), response: { 200: jsonSchema(batchAnswerSchema), ...ERRORS } }, validatorCompiler: zodValidator(s.batch) },
    async (req): Promise<BatchAnswer> => {
      const { histories, ...opts } = req.body;
      const results = recommender.answersAsync ? await recommender.recommendManyAsync(histories, opts) : recommender.recommendMany(histories, opts);
      results.forEach(countOutcome);
      return { results };
    },
  );

  app.post<{ Body: SimilarBody }>(
    '/similar',
    { schema: { body: jsonSchema(s.similar), response: { 200: jsonSchema(similarAnswerSchema), ...ERRORS } }, validatorCompiler: zodValidator(s.similar) },
    async (req): Promise<SimilarAnswer> => ({ item: String(req.body.item), items: recommender.similarItems(req.body.item, req.body.k ?? 10) }),
  );

  app.get('/metrics', async (_req, reply) => {
    const text = renderMetrics(await ctx.metricsSnapshot());
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return text;
  });

  if (admin) registerAdmin(app, ctx, admin, s.reload, publicInfo);
}

function registerAdmin(
  app: FastifyInstance,
  ctx: RouteContext,
  admin: ResolvedAdmin,
  schema: z.ZodType<ReloadBody>,
  publicInfo: (info: RecommenderInfo) => Record<string, unknown>,
): void {
  const names = [...admin.bundles.keys()].sort();
  app.post<{ Body: ReloadBody }>(
    '/admin/reload',
    {
      schema: { body: jsonSchema(schema) },
      validatorCompiler: zodValidator(schema),
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
          throw new HttpError(
            400,
            'invalid_request',
            'POST /admin/reload takes no path: send {"bundle": "<name>"} with a configured bundle name, or no body to reload the current bundle',
          );
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
        const info = await ctx.reload(dir);
        return { status: 'reloaded', bundle: ctx.nameOf(info.dir), info: publicInfo(info) };
      } catch (err) {
        if (!(err instanceof SeqrecError)) throw err;
        const m = statusOf(err);
        throw new HttpError(m.status, m.error, scrubPaths(err.message, ctx.knownDirs()));
      }
    },
  );
}
