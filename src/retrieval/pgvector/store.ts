/**
 * The item table of one bundle in PostgreSQL, and the registry row that describes it.
 *
 *   seqrec_bundles (digest PK, table_name, dim, metric, index_kind, index_params, item_count, created_at)
 *   seqrec_items_<digest prefix> (id integer PRIMARY KEY, embedding vector(dim))
 *
 * `id` is the item's row in the bundle's item table (1..items; the padding row 0 is not
 * stored). For cosine the stored vectors are L2-normalised, so both metrics search with
 * pgvector's inner-product operator `<#>` and the scores are the ones ExactRetriever returns.
 *
 * Writing happens in one transaction (table, rows in batches, index, registry row): another
 * process sees the whole table or none of it, and an interrupted export leaves nothing behind.
 * A table is named by the digest of the bundle's model.json, so a new model is a new table
 * and a server never mixes the vectors of two versions.
 */
import { SeqrecError } from '../../errors.js';
import { checkItems, normaliseRows } from '../validate.js';
import { databaseError, describeDatabase, loadPgDriver, sqlState, type PgClient, type PgDriver } from './driver.js';
import { itemTableName, REGISTRY_TABLE, resolveIndex, type PgvectorIndexOptions, type ResolvedIndex } from './options.js';

/** Rows per INSERT: one statement carries two array parameters, so this bounds a statement to a few MB. */
const INSERT_BATCH_ROWS = 1000;

/** The registry row of an exported bundle. */
export interface ItemTableInfo {
  digest: string;
  table: string;
  dim: number;
  metric: 'ip' | 'cosine';
  index: ResolvedIndex;
  /** Real items stored (rows 1..itemCount). */
  itemCount: number;
  createdAt: string;
}

export interface WriteItemTableOptions {
  connectionString: string;
  /** SHA-256 (hex) of the bundle's model.json: names the table. */
  digest: string;
  /** [items, dim] with row 0 the padding row (not stored). */
  itemVectors: Float32Array;
  dim: number;
  metric: 'ip' | 'cosine';
  /** Default HNSW with m 16, ef_construction 64. */
  index?: PgvectorIndexOptions;
  /**
   * maintenance_work_mem for the index build, e.g. '512MB' (SET LOCAL: this transaction only).
   * Default: the server's. IVFFlat's k-means over many lists and HNSW over many rows need more
   * than PostgreSQL's 64 MB default; the server's error names how much.
   */
  maintenanceWorkMem?: string;
}

const MEMORY_RE = /^\d+(kB|MB|GB)$/;

export interface WriteItemTableResult extends ItemTableInfo {
  /** False when a complete table for this digest already existed (nothing was written). */
  created: boolean;
}

const REGISTRY_DDL = `CREATE TABLE IF NOT EXISTS ${REGISTRY_TABLE} (
  digest text PRIMARY KEY,
  table_name text NOT NULL,
  dim integer NOT NULL,
  metric text NOT NULL,
  index_kind text NOT NULL,
  index_params jsonb NOT NULL,
  item_count integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
)`;

interface RegistryRow {
  digest: string;
  table_name: string;
  dim: number;
  metric: string;
  index_kind: string;
  index_params: Record<string, number> | string;
  item_count: number;
  created_at: Date | string;
}

function rowToInfo(r: RegistryRow): ItemTableInfo {
  const params = typeof r.index_params === 'string' ? (JSON.parse(r.index_params) as Record<string, number>) : r.index_params;
  const kind = r.index_kind;
  const index: ResolvedIndex =
    kind === 'hnsw' ? { kind, m: params.m, efConstruction: params.efConstruction } : kind === 'ivfflat' ? { kind, lists: params.lists } : { kind: 'none' };
  return {
    digest: r.digest,
    table: r.table_name,
    dim: r.dim,
    metric: r.metric === 'cosine' ? 'cosine' : 'ip',
    index,
    itemCount: r.item_count,
    createdAt: r.created_at instanceof Date ? r.created_at.toISOString() : String(r.created_at),
  };
}

/**
 * The registry row of `digest` whose table exists with all its rows, or null. A missing
 * registry table is "nothing exported yet", not an error.
 */
export async function readItemTable(client: PgClient, digest: string): Promise<ItemTableInfo | null> {
  let rows: RegistryRow[];
  try {
    ({ rows } = await client.query<RegistryRow>(`SELECT * FROM ${REGISTRY_TABLE} WHERE digest = $1`, [digest]));
  } catch (err) {
    if (sqlState(err) === '42P01') return null;
    throw err;
  }
  if (rows.length === 0) return null;
  const info = rowToInfo(rows[0]);
  const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [info.table]);
  if (exists.rows[0]?.t == null) return null;
  const count = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${info.table}`);
  return Number(count.rows[0].n) === info.itemCount ? info : null;
}

function indexDdl(table: string, index: ResolvedIndex): string | null {
  // vector_ip_ops for both metrics: cosine tables hold unit vectors (see the module comment).
  if (index.kind === 'hnsw') {
    return `CREATE INDEX ${table}_hnsw ON ${table} USING hnsw (embedding vector_ip_ops) WITH (m = ${index.m}, ef_construction = ${index.efConstruction})`;
  }
  if (index.kind === 'ivfflat') return `CREATE INDEX ${table}_ivfflat ON ${table} USING ivfflat (embedding vector_ip_ops) WITH (lists = ${index.lists})`;
  return null;
}

async function insertRows(client: PgClient, driver: PgDriver, table: string, rows: Float32Array, dim: number): Promise<void> {
  const n = rows.length / dim;
  for (let start = 0; start < n; start += INSERT_BATCH_ROWS) {
    const end = Math.min(n, start + INSERT_BATCH_ROWS);
    const ids: number[] = [];
    const vectors: string[] = [];
    for (let i = start; i < end; i++) {
      ids.push(i + 1);
      vectors.push(driver.vectorLiteral(rows.subarray(i * dim, (i + 1) * dim)));
    }
    await client.query(`INSERT INTO ${table} (id, embedding) SELECT * FROM unnest($1::integer[], $2::vector[])`, [ids, vectors]);
  }
}

/** Creates the vector extension, or says how to get it when the server lacks it or refuses. */
async function ensureExtension(client: PgClient, connectionString: string): Promise<void> {
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  } catch (err) {
    throw new SeqrecError(
      'backend_unavailable',
      `PostgreSQL ${describeDatabase(connectionString)} has no usable pgvector extension (${(err as Error).message}): ` +
        'install pgvector on the server (e.g. the postgresql-NN-pgvector package, or pgvector/pgvector Docker images) and run CREATE EXTENSION vector as a superuser',
      { field: 'connectionString' },
    );
  }
}

/**
 * Writes the item table of a bundle (see the module comment), unless a complete one for
 * `digest` exists already. Exporters of the same database are serialised by an advisory lock.
 */
export async function writeItemTable(options: WriteItemTableOptions): Promise<WriteItemTableResult> {
  const { connectionString, digest, itemVectors, dim, metric } = options;
  checkItems(itemVectors, dim);
  if (metric !== 'ip' && metric !== 'cosine') {
    throw new SeqrecError('invalid_argument', `metric must be 'ip' or 'cosine', got ${String(metric)}`, { field: 'metric' });
  }
  if (itemVectors.length / dim < 2) throw new SeqrecError('invalid_argument', 'itemVectors has no item besides the padding row 0', { field: 'itemVectors' });
  const table = itemTableName(digest);
  const itemCount = itemVectors.length / dim - 1;
  const index = resolveIndex(options.index, itemCount, 'writeItemTable');
  const memory = options.maintenanceWorkMem;
  if (memory !== undefined && !MEMORY_RE.test(memory)) {
    throw new SeqrecError('invalid_argument', `maintenanceWorkMem must be a size such as '512MB' (kB, MB or GB), got ${JSON.stringify(memory)}`, {
      field: 'maintenanceWorkMem',
    });
  }
  const driver = await loadPgDriver();
  const pool = driver.createPool({ connectionString, max: 1, connectionTimeoutMillis: 10_000 });
  let client: PgClient | null = null;
  try {
    client = await pool.connect();
    await client.query('BEGIN');
    // One lock for every exporter: two processes writing the same digest would otherwise race.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('seqrec_items'))");
    await ensureExtension(client, connectionString);
    await client.query(REGISTRY_DDL);
    const existing = await readItemTable(client, digest);
    if (existing) {
      await client.query('COMMIT');
      return { ...existing, created: false };
    }
    // A table without a complete registry row is a leftover (dropped rows, an older attempt).
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, embedding vector(${dim}) NOT NULL)`);
    const rows = Float32Array.from(itemVectors.subarray(dim));
    if (metric === 'cosine') normaliseRows(rows, dim);
    await insertRows(client, driver, table, rows, dim);
    const ddl = indexDdl(table, index);
    if (ddl && memory) await client.query(`SET LOCAL maintenance_work_mem = '${memory}'`);
    if (ddl) await client.query(ddl);
    const { kind, ...params } = index;
    await client.query(
      `INSERT INTO ${REGISTRY_TABLE} (digest, table_name, dim, metric, index_kind, index_params, item_count) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (digest) DO UPDATE SET table_name = $2, dim = $3, metric = $4, index_kind = $5, index_params = $6, item_count = $7, created_at = now()`,
      [digest, table, dim, metric, kind, JSON.stringify(params), itemCount],
    );
    const written = await readItemTable(client, digest);
    await client.query('COMMIT');
    if (!written) throw new SeqrecError('backend_unavailable', `the item table ${table} was written but does not read back complete`);
    return { ...written, created: true };
  } catch (err) {
    await client?.query('ROLLBACK').catch(() => undefined);
    throw databaseError(err, `writing the item table ${table}`, connectionString);
  } finally {
    client?.release();
    await pool.end();
  }
}
