/**
 * The options of the pgvector retriever and of writing its item table, as zod schemas (the
 * one source of validation and of the types), and the names seqrec gives its tables. Loads
 * no database driver: the Recommender and the CLI check these before connecting.
 */
import { z } from 'zod';
import { SeqrecError } from '../../errors.js';
import { parseWith } from '../../util/schema.js';

/** The registry of exported item tables: one row per bundle digest. */
export const REGISTRY_TABLE = 'seqrec_bundles';
/** Item tables are `seqrec_items_<first 16 hex digits of the bundle digest>`. */
export const ITEM_TABLE_PREFIX = 'seqrec_items_';

/** Documented defaults (docs/serving.md, "PostgreSQL + pgvector"). */
export const PGVECTOR_DEFAULTS = {
  /** Connections per retriever (per serving process). */
  poolSize: 4,
  /** hnsw.ef_search; raised per query to at least the candidates fetched, capped at HNSW's 1000. */
  efSearch: 100,
  /** HNSW build parameters: pgvector's own defaults. */
  m: 16,
  efConstruction: 64,
  connectTimeoutMs: 10_000,
} as const;

/** Largest hnsw.ef_search pgvector accepts. */
export const MAX_EF_SEARCH = 1000;

const DIGEST_RE = /^[0-9a-f]{64}$/;

const connectionString = z
  .string({ error: 'must be a PostgreSQL URL like postgres://user@host:5432/db' })
  .regex(/^postgres(ql)?:\/\//, { error: 'must be a PostgreSQL URL like postgres://user@host:5432/db' });

/** What a search session needs: where the database is and the index's query-time parameters. */
export const pgvectorConnectSchema = z.strictObject({
  /** postgres://user:password@host:5432/database */
  connectionString,
  /** Connections at most (each search holds one for its round trips). Default 4. */
  poolSize: z.int().min(1).max(256).optional(),
  /** HNSW: hnsw.ef_search for every search (SET LOCAL per transaction). Default 100. */
  efSearch: z.int().min(1).max(MAX_EF_SEARCH).optional(),
  /** IVFFlat: ivfflat.probes for every search. Default ceil(sqrt(lists)). */
  probes: z.int().min(1).max(32_768).optional(),
  /** Time to get a connection before failing, ms. Default 10000. */
  connectTimeoutMs: z.int().min(1).optional(),
});
export type PgvectorConnectOptions = z.input<typeof pgvectorConnectSchema>;

/** The index built over the item table after loading it. */
export const pgvectorIndexSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      kind: z.literal('hnsw'),
      /** Links per node. Default 16. */
      m: z.int().min(2).max(100).optional(),
      /** Candidate list size while building. Default 64; at least 2 * m. */
      efConstruction: z.int().min(4).max(1000).optional(),
    }),
    z.strictObject({
      kind: z.literal('ivfflat'),
      /** Lists (clusters). Default: items / 1000 up to 1M items, sqrt(items) above (pgvector's advice), at least 1. */
      lists: z.int().min(1).max(32_768).optional(),
    }),
    /** No index: every search is an exact sequential scan. */
    z.strictObject({ kind: z.literal('none') }),
  ],
  { error: "must be { kind: 'hnsw' | 'ivfflat' | 'none', ... }" },
);
export type PgvectorIndexOptions = z.input<typeof pgvectorIndexSchema>;

/** The index with every parameter resolved, as recorded in the registry. */
export type ResolvedIndex = { kind: 'hnsw'; m: number; efConstruction: number } | { kind: 'ivfflat'; lists: number } | { kind: 'none' };

export function parseConnectOptions(value: unknown, where: string): z.output<typeof pgvectorConnectSchema> {
  return parseWith(pgvectorConnectSchema, value, { where, code: 'invalid_config' });
}

/** `index` with its defaults for a table of `items` real items. */
export function resolveIndex(value: unknown, items: number, where: string): ResolvedIndex {
  const o = parseWith(pgvectorIndexSchema, value ?? { kind: 'hnsw' }, { where, prefix: 'index', code: 'invalid_config' });
  if (o.kind === 'hnsw') {
    const m = o.m ?? PGVECTOR_DEFAULTS.m;
    const efConstruction = o.efConstruction ?? Math.max(PGVECTOR_DEFAULTS.efConstruction, 2 * m);
    if (efConstruction < 2 * m) {
      throw new SeqrecError('invalid_config', `${where}: index.efConstruction (${efConstruction}) must be at least 2 * m = ${2 * m}`, {
        field: 'index.efConstruction',
      });
    }
    return { kind: 'hnsw', m, efConstruction };
  }
  if (o.kind === 'ivfflat') {
    const lists = o.lists ?? Math.max(1, items <= 1_000_000 ? Math.round(items / 1000) : Math.round(Math.sqrt(items)));
    return { kind: 'ivfflat', lists };
  }
  return { kind: 'none' };
}

/** pgvector's advice for probes: sqrt(lists). */
export function defaultProbes(lists: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(lists)));
}

/** `digest` checked to be a SHA-256 in hex (it becomes part of a table name). */
export function checkDigest(digest: unknown): string {
  if (typeof digest !== 'string' || !DIGEST_RE.test(digest)) {
    throw new SeqrecError('invalid_argument', `digest must be 64 lowercase hex digits (a bundle's SHA-256), got ${JSON.stringify(digest)}`, {
      field: 'digest',
    });
  }
  return digest;
}

/** The item table of a bundle digest. 16 hex digits keep the name short; the registry holds the full digest. */
export function itemTableName(digest: string): string {
  return ITEM_TABLE_PREFIX + checkDigest(digest).slice(0, 16);
}
