/**
 * `PgvectorRetriever`: top-k retrieval from an item table in PostgreSQL with pgvector (see
 * store.ts for the tables). An `AsyncRetriever`: each search is one transaction on a pooled
 * connection.
 *
 * A search sends all query rows in one statement (a LATERAL join over `unnest` of the query
 * vectors), each row asking for k + (the most items any user of the batch excludes)
 * candidates, then drops excluded items and merges interests here with the same helpers as
 * FaissRetriever, so exclusion and merging behave exactly as in the other retrievers.
 *
 * An index may return fewer rows than asked: HNSW stops at hnsw.ef_search candidates (so it
 * is raised per transaction to at least the candidates fetched; above pgvector's cap of 1000
 * the search runs without the index) and IVFFlat only looks into `probes` lists. A row that
 * comes back short is asked again with index scans off, an exact scan, so a list is only
 * shorter than k when the catalogue (minus exclusions) is.
 */
import { SeqrecError } from '../../errors.js';
import { mergeInterestCandidatesBatch } from '../merge.js';
import { TopKHeap } from '../topk.js';
import type { AsyncRetriever, SearchOptions, SearchResult } from '../types.js';
import { checkSearch, prepareQueries } from '../validate.js';
import { databaseError, loadPgDriver, type PgClient, type PgDriver, type PgPool } from './driver.js';
import { defaultProbes, MAX_EF_SEARCH, parseConnectOptions, PGVECTOR_DEFAULTS, type PgvectorConnectOptions, type ResolvedIndex } from './options.js';
import { readItemTable, writeItemTable, type ItemTableInfo, type WriteItemTableOptions } from './store.js';

/** Query rows per statement: bounds the statement's size and the rows one round trip returns. */
const SEARCH_CHUNK_ROWS = 256;

export interface PgvectorOpenOptions extends PgvectorConnectOptions {
  /** SHA-256 (hex) of the bundle's model.json: picks the item table. */
  digest: string;
  /** When given, the table must match (else a 'shape_mismatch' error naming the field). */
  expect?: { dim?: number; numItems?: number; metric?: 'ip' | 'cosine' };
  /** The bundle directory, for the message that says how to export a missing table. */
  bundleDir?: string;
}

interface Candidate {
  n: number;
  id: number;
  score: number;
}

export class PgvectorRetriever implements AsyncRetriever {
  readonly answersAsync = true;
  readonly dim: number;
  readonly numItems: number;
  readonly metric: 'ip' | 'cosine';
  /** The registry row of the table searched. */
  readonly table: ItemTableInfo;
  /** hnsw.ef_search (HNSW) and ivfflat.probes (IVFFlat) set for every search; null where not applicable. */
  readonly searchParams: { efSearch: number | null; probes: number | null };
  private readonly pool: PgPool;
  private readonly driver: PgDriver;
  private readonly connectionString: string;
  private disposed: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<unknown>>();

  private constructor(
    pool: PgPool,
    driver: PgDriver,
    connectionString: string,
    table: ItemTableInfo,
    params: { efSearch: number | null; probes: number | null },
  ) {
    this.pool = pool;
    this.driver = driver;
    this.connectionString = connectionString;
    this.table = table;
    this.dim = table.dim;
    this.numItems = table.itemCount + 1;
    this.metric = table.metric;
    this.searchParams = params;
  }

  /**
   * Opens the item table of `digest` (written by `PgvectorRetriever.create`, `writeItemTable`
   * or `seqrec export --to`). Fails with 'invalid_config' naming the digest and the export
   * command when the database has no complete table for it.
   */
  static async open(options: PgvectorOpenOptions): Promise<PgvectorRetriever> {
    if (options === null || typeof options !== 'object') {
      throw new SeqrecError('invalid_argument', `PgvectorRetriever.open: options must be an object, got ${String(options)}`, { field: 'options' });
    }
    const { digest, expect, bundleDir, ...rest } = options;
    const o = parseConnectOptions(rest, 'PgvectorRetriever.open');
    const driver = await loadPgDriver();
    const pool = driver.createPool({
      connectionString: o.connectionString,
      max: o.poolSize ?? PGVECTOR_DEFAULTS.poolSize,
      connectionTimeoutMillis: o.connectTimeoutMs ?? PGVECTOR_DEFAULTS.connectTimeoutMs,
    });
    try {
      let table: ItemTableInfo | null;
      let client: PgClient | null = null;
      try {
        client = await pool.connect();
        // In a transaction: pglite-socket multiplexes connections over one session and keeps a transaction's statements together.
        await client.query('BEGIN');
        table = await readItemTable(client, digest);
        await client.query('COMMIT');
      } catch (err) {
        await client?.query('ROLLBACK').catch(() => undefined);
        throw databaseError(err, 'reading the seqrec_bundles registry', o.connectionString);
      } finally {
        client?.release();
      }
      if (!table) {
        throw new SeqrecError(
          'invalid_config',
          `the database has no complete pgvector item table for bundle digest ${digest}; write it with ` +
            `\`seqrec export --model ${bundleDir ?? 'BUNDLE_DIR'} --to <database-url>\` (the same bundle you serve)`,
          { field: 'digest' },
        );
      }
      for (const [field, want] of Object.entries(expect ?? {})) {
        const got = field === 'numItems' ? table.itemCount + 1 : table[field as 'dim' | 'metric'];
        if (want !== undefined && got !== want) {
          throw new SeqrecError('shape_mismatch', `the item table ${table.table} has ${field} ${String(got)}, the bundle ${String(want)}`, { field });
        }
      }
      return new PgvectorRetriever(pool, driver, o.connectionString, table, searchParams(table.index, o));
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }

  /** Writes the item table (unless a complete one for the digest exists) and opens it. */
  static async create(options: WriteItemTableOptions & Omit<PgvectorOpenOptions, 'digest'>): Promise<PgvectorRetriever> {
    const { itemVectors, dim, metric, index, maintenanceWorkMem, ...open } = options;
    await writeItemTable({ connectionString: options.connectionString, digest: options.digest, itemVectors, dim, metric, index, maintenanceWorkMem });
    return PgvectorRetriever.open({ ...open, expect: { dim, metric, numItems: itemVectors.length / dim } });
  }

  search(queries: Float32Array, options: SearchOptions): Promise<SearchResult> {
    if (this.disposed) {
      return Promise.reject(new SeqrecError('invalid_argument', 'this PgvectorRetriever has been disposed; open a new one to search'));
    }
    let run: Promise<SearchResult>;
    try {
      run = this.run(queries, options);
    } catch (err) {
      return Promise.reject(err);
    }
    this.inFlight.add(run);
    const forget = () => this.inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Waits for the searches in flight (a reload disposes the old state while they finish), then closes the pool. */
  dispose(): Promise<void> {
    this.disposed ??= Promise.allSettled([...this.inFlight]).then(() => this.pool.end().catch(() => undefined));
    return this.disposed;
  }

  /** Checks the arguments synchronously (so bad input fails the same way as elsewhere), then searches. */
  private run(queries: Float32Array, options: SearchOptions): Promise<SearchResult> {
    const { k, interests, numQueries, exclude } = checkSearch(queries, options, this.dim);
    const { rows, userSets } = prepareQueries(queries, this.metric, this.dim, numQueries, exclude);
    return this.searchRows(rows, numQueries, k, interests, userSets);
  }

  private async searchRows(
    rows: Float32Array,
    numQueries: number,
    k: number,
    interests: number,
    userSets: (ReadonlySet<number> | null)[],
  ): Promise<SearchResult> {
    const dim = this.dim;
    const numRows = numQueries * interests;
    const numReal = this.numItems - 1;
    const ids = new Int32Array(numRows * k);
    const scores = new Float32Array(numRows * k);
    const heap = new TopKHeap(k);
    let client: PgClient | null = null;
    try {
      client = await this.pool.connect();
      for (let r0 = 0; r0 < numRows; r0 += SEARCH_CHUNK_ROWS) {
        const r1 = Math.min(numRows, r0 + SEARCH_CHUNK_ROWS);
        let maxExcluded = 0;
        for (let u = Math.floor(r0 / interests); u <= Math.floor((r1 - 1) / interests); u++) maxExcluded = Math.max(maxExcluded, userSets[u]?.size ?? 0);
        const fetch = Math.min(numReal, k + maxExcluded);
        const vectors: string[] = [];
        for (let r = r0; r < r1; r++) vectors.push(this.driver.vectorLiteral(rows.subarray(r * dim, (r + 1) * dim)));
        const found = await this.candidates(client, vectors, fetch, false);
        const short: number[] = [];
        for (let i = 0; i < vectors.length; i++) if (found[i].length < fetch) short.push(i);
        if (short.length > 0) {
          const exact = await this.candidates(
            client,
            short.map((i) => vectors[i]),
            fetch,
            true,
          );
          short.forEach((i, j) => (found[i] = exact[j]));
        }
        for (let r = r0; r < r1; r++) {
          const ex = userSets[Math.floor(r / interests)];
          for (const c of found[r - r0]) if (ex === null || !ex.has(c.id)) heap.push(c.id, Math.fround(c.score));
          heap.drainInto(ids, scores, r * k);
        }
      }
    } catch (err) {
      throw databaseError(err, `searching ${this.table.table}`, this.connectionString);
    } finally {
      client?.release();
    }
    if (interests === 1) return { k, numQueries, ids, scores };
    // Each interest's list already has exclusions applied and padding removed.
    return mergeInterestCandidatesBatch(ids, scores, interests, k, k);
  }

  /** Up to `fetch` candidates per query vector, in one transaction; `exact` turns index scans off. */
  private async candidates(client: PgClient, vectors: string[], fetch: number, exact: boolean): Promise<Candidate[][]> {
    const out: Candidate[][] = vectors.map(() => []);
    if (fetch === 0) return out;
    const settings: string[] = [];
    const { efSearch, probes } = this.searchParams;
    // Integers checked by the schema: safe to write into the statement.
    if (exact || (efSearch !== null && fetch > MAX_EF_SEARCH)) settings.push('SET LOCAL enable_indexscan = off');
    else if (efSearch !== null) settings.push(`SET LOCAL hnsw.ef_search = ${Math.max(efSearch, fetch)}`);
    if (probes !== null && !exact) settings.push(`SET LOCAL ivfflat.probes = ${probes}`);
    await client.query(['BEGIN', ...settings].join('; '));
    try {
      const { rows } = await client.query<Candidate>(
        `SELECT q.n::integer AS n, s.id, s.score FROM unnest($1::vector[]) WITH ORDINALITY AS q(v, n)
         CROSS JOIN LATERAL (SELECT t.id, (t.embedding <#> q.v) * -1 AS score FROM ${this.table.table} t ORDER BY t.embedding <#> q.v LIMIT ${fetch}) s`,
        [vectors],
      );
      await client.query('COMMIT');
      for (const row of rows) out[row.n - 1].push(row);
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
}

/** The query-time parameters for `index`: the options given, else the documented defaults. */
function searchParams(index: ResolvedIndex, o: { efSearch?: number; probes?: number }): { efSearch: number | null; probes: number | null } {
  if (o.efSearch !== undefined && index.kind !== 'hnsw') {
    throw new SeqrecError('invalid_config', `efSearch applies to HNSW indexes; this item table has index '${index.kind}'`, { field: 'efSearch' });
  }
  if (o.probes !== undefined && index.kind !== 'ivfflat') {
    throw new SeqrecError('invalid_config', `probes applies to IVFFlat indexes; this item table has index '${index.kind}'`, { field: 'probes' });
  }
  if (index.kind === 'hnsw') return { efSearch: o.efSearch ?? PGVECTOR_DEFAULTS.efSearch, probes: null };
  if (index.kind === 'ivfflat') {
    if (o.probes !== undefined && o.probes > index.lists) {
      throw new SeqrecError('invalid_config', `probes must be in [1, lists = ${index.lists}], got ${o.probes}`, { field: 'probes' });
    }
    return { efSearch: null, probes: o.probes ?? defaultProbes(index.lists) };
  }
  return { efSearch: null, probes: null };
}
