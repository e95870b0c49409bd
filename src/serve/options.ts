/**
 * `createServer`'s options: one strict zod schema (an unknown option is an error with a
 * did-you-mean hint), the defaults, and their resolution into the values the server runs with
 * (admin token digest, bundle allow-list, Host and Origin sets).
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { SeqrecError } from '../errors.js';
import { parseWith } from '../util/schema.js';
import { hostName, sha256, type ResolvedAdmin } from './guards.js';
import type { MetricsSnapshot } from './metrics.js';
import type { RecommenderInfo } from './recommender-types.js';

/**
 * How a worker of `seqrec serve --workers N` reaches the others (src/serve/cluster.ts): a
 * reload and /metrics are answered for the whole server, not for the one worker that took the
 * request.
 */
export interface ClusterHooks {
  /** Reloads every worker (`dir` as in `Recommender.reload`); resolves with this worker's new info. */
  reload(dir?: string): Promise<RecommenderInfo>;
  /** Every worker's metrics, merged. */
  metrics(): Promise<MetricsSnapshot>;
}
const isClusterHooks = (v: unknown): v is ClusterHooks =>
  typeof v === 'object' && v !== null && typeof (v as ClusterHooks).reload === 'function' && typeof (v as ClusterHooks).metrics === 'function';

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

const positiveInt = () => {
  const error = (issue: { input?: unknown }) => `must be an integer >= 1, got ${String(issue.input)}`;
  return z.int({ error }).min(1, { error });
};
const nonEmptyStrings = z.array(z.string().min(1, { error: 'must be a non-empty string' })).readonly();

const TOKEN_REQUIRED = 'must be a non-empty string; an unset token would leave POST /admin/reload open, so the server does not start';
/** RFC 6750 allows more, but anything else cannot be sent unchanged in a header. */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

export const adminOptionsSchema = z.strictObject({
  /** Required: requests need `Authorization: Bearer <token>`. Printable ASCII, no spaces; use 32+ random bytes. */
  token: z.string({ error: TOKEN_REQUIRED }).min(1, { error: TOKEN_REQUIRED }).regex(TOKEN_CHARS, { error: 'must be printable ASCII without spaces' }),
  /** Bundles POST /admin/reload may switch to, by name: `{"bundle": "<name>"}`. Default none. */
  bundles: z.record(z.string(), z.string().min(1, { error: 'must be a directory path' })).optional(),
  /** Host names (no port) accepted in the Host header besides localhost, 127.0.0.1 and ::1. */
  allowedHosts: nonEmptyStrings.optional(),
  /** Origins (`https://ops.example`) accepted in an Origin header. Default none: any Origin is refused. */
  allowedOrigins: nonEmptyStrings.optional(),
});
/** Admin routes (POST /admin/reload). Off unless `token` is set. */
export type AdminOptions = z.input<typeof adminOptionsSchema>;

export const serverOptionsSchema = z.strictObject({
  /** fastify's logger option (pino). Default false. */
  logger: z.union([z.boolean(), z.record(z.string(), z.unknown())]).optional(),
  /** Largest request body in bytes. Default 1 MiB. */
  bodyLimit: positiveInt().optional(),
  /**
   * Enables POST /admin/reload, guarded by a bearer token (required and non-empty: anything
   * else is an 'invalid_config' error at start-up), Host and Origin checks. Default off.
   */
  admin: z.union([z.literal(false), adminOptionsSchema]).optional(),
  /** Coalesce concurrent /recommend requests into batched model calls. Default true. */
  coalesce: z.boolean().optional(),
  /** Time to receive a whole request, headers and body (node's requestTimeout). Default 10000 ms. */
  requestTimeoutMs: positiveInt().optional(),
  /** Time to receive the request headers (node's headersTimeout); at most requestTimeoutMs. Default 5000 ms (or requestTimeoutMs if less). */
  headersTimeoutMs: positiveInt().optional(),
  /** A socket with no activity for this long is closed (fastify's connectionTimeout). Default 30000 ms. */
  connectionTimeoutMs: positiveInt().optional(),
  /** An idle keep-alive connection is closed after this long. Default 5000 ms. */
  keepAliveTimeoutMs: positiveInt().optional(),
  /** Open connections at most; more are closed at once (node's maxConnections). Default 1000. */
  maxConnections: positiveInt().optional(),
  /** Deepest nesting of arrays/objects in a JSON body, checked before parsing. Default 32. */
  maxJsonDepth: positiveInt().optional(),
  /** Limit of each reload, passed to `Recommender.reload`. Default: the recommender's reloadTimeoutMs (30000 ms). */
  reloadTimeoutMs: positiveInt().optional(),
  /** Where reload outcomes are reported, one line each. Default: fastify's logger. */
  log: z.custom<(line: string) => void>((v) => typeof v === 'function', { error: 'must be a function (line: string) => void' }).optional(),
  /** Set by `seqrec serve --workers N` in each worker. Default: none (one process). */
  cluster: z.custom<ClusterHooks>(isClusterHooks, { error: 'must be { reload(dir?), metrics() }' }).optional(),
});
export type ServerOptions = z.input<typeof serverOptionsSchema>;

/** The options with every default filled in and the admin part resolved. */
export interface ResolvedServerOptions {
  logger: boolean | Record<string, unknown>;
  admin: ResolvedAdmin | null;
  coalesce: boolean;
  bodyLimit: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  connectionTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  maxJsonDepth: number;
  reloadTimeoutMs: number | undefined;
  log: ((line: string) => void) | undefined;
  cluster: ClusterHooks | undefined;
}

export function configError(field: string, message: string): SeqrecError {
  return new SeqrecError('invalid_config', `createServer: ${message}`, { field });
}

const WHERE = { where: 'createServer', code: 'invalid_config' } as const;

/** `options` checked against the schema and resolved; an 'invalid_config' SeqrecError naming the field otherwise. */
export function resolveServerOptions(options: unknown): ResolvedServerOptions {
  const raw = options ?? {};
  const admin = (raw as { admin?: unknown }).admin;
  if (admin === true) {
    throw configError(
      'admin',
      'admin: true (no authentication) is not supported; pass admin: { token } with a secret of 32+ random characters, or leave admin off',
    );
  }
  const parsed = serverOptionsSchema.safeParse(raw);
  if (!parsed.success && parsed.error.issues[0].path[0] === 'admin') {
    // The union's own issue says only "invalid input": parse the object part for the exact field.
    if (admin !== null && typeof admin === 'object' && !Array.isArray(admin)) parseWith(adminOptionsSchema, admin, { ...WHERE, prefix: 'admin' });
    throw configError('admin', 'admin must be false or an object { token, bundles?, allowedHosts?, allowedOrigins? }');
  }
  const o = parseWith(serverOptionsSchema, raw, WHERE);
  const requestTimeoutMs = o.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs;
  // Unset, it follows a shorter request timeout down.
  const headersTimeoutMs = o.headersTimeoutMs ?? Math.min(SERVER_DEFAULTS.headersTimeoutMs, requestTimeoutMs);
  if (headersTimeoutMs > requestTimeoutMs)
    throw configError('headersTimeoutMs', `headersTimeoutMs (${headersTimeoutMs}) must be <= requestTimeoutMs (${requestTimeoutMs})`);
  return {
    logger: o.logger ?? false,
    admin: o.admin ? resolveAdmin(o.admin) : null,
    coalesce: o.coalesce ?? true,
    bodyLimit: o.bodyLimit ?? SERVER_DEFAULTS.bodyLimit,
    requestTimeoutMs,
    headersTimeoutMs,
    connectionTimeoutMs: o.connectionTimeoutMs ?? SERVER_DEFAULTS.connectionTimeoutMs,
    keepAliveTimeoutMs: o.keepAliveTimeoutMs ?? SERVER_DEFAULTS.keepAliveTimeoutMs,
    maxConnections: o.maxConnections ?? SERVER_DEFAULTS.maxConnections,
    maxJsonDepth: o.maxJsonDepth ?? SERVER_DEFAULTS.maxJsonDepth,
    reloadTimeoutMs: o.reloadTimeoutMs,
    log: o.log,
    cluster: o.cluster,
  };
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'];
const BUNDLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The checks past the schema's types: bundle names, host names and origins, each with its own message. */
function resolveAdmin(a: z.output<typeof adminOptionsSchema>): ResolvedAdmin {
  const bundles = new Map<string, string>();
  for (const [name, dir] of Object.entries(a.bundles ?? {})) {
    if (!BUNDLE_NAME.test(name))
      throw configError(
        'admin.bundles',
        `admin.bundles: '${name}' is not a valid name (letters, digits, '.', '_', '-'; at most 64; not starting with '.' or '-')`,
      );
    bundles.set(name, resolve(dir));
  }
  const hosts = new Set(LOOPBACK_HOSTS);
  for (const h of a.allowedHosts ?? []) {
    const host = hostName(h);
    if (host === null || host !== h.toLowerCase().replace(/^\[(.*)\]$/, '$1'))
      throw configError('admin.allowedHosts', `admin.allowedHosts: '${h}' is not a host name (give it without a port)`);
    hosts.add(host);
  }
  const origins = new Set<string>();
  for (const o of a.allowedOrigins ?? []) {
    let origin: string | null = null;
    try {
      origin = new URL(o).origin;
    } catch {
      // reported below
    }
    if (origin === null || origin === 'null' || origin !== o.replace(/\/$/, '').toLowerCase()) {
      throw configError(
        'admin.allowedOrigins',
        `admin.allowedOrigins: '${o}' is not an origin like https://ops.example (scheme, host, optional port; no path)`,
      );
    }
    origins.add(origin);
  }
  return { tokenDigest: sha256(a.token), bundles, hosts, origins };
}
