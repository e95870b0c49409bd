/**
 * The one module that loads `pg` and `pgvector` (optional peer dependencies), on first use:
 * importing seqrec works without them, and only opening a `PgvectorRetriever` or writing an
 * item table needs them. Everything else in seqrec talks to PostgreSQL through the small
 * interfaces below, so no other file depends on pg's types.
 */
import { SeqrecError } from '../../errors.js';
import { loadOptional } from '../../util/optional.js';

/** How to get the drivers, for error messages. */
export const PG_INSTALL_HINT = 'install the PostgreSQL driver and the pgvector helpers next to seqrec: npm install pg pgvector';

export interface PgResult<R> {
  rows: R[];
}

/** One connection checked out of the pool (pg's PoolClient, as far as seqrec uses it). */
export interface PgClient {
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<PgResult<R>>;
  /** Returns the connection to the pool; `true` (or an error) destroys it instead. */
  release(destroy?: boolean | Error): void;
}

export interface PgPool {
  connect(): Promise<PgClient>;
  end(): Promise<void>;
}

export interface PgPoolOptions {
  connectionString: string;
  /** Connections at most. */
  max: number;
  /** Give up connecting after this long (ms). */
  connectionTimeoutMillis: number;
}

export interface PgDriver {
  createPool(options: PgPoolOptions): PgPool;
  /** A vector in pgvector's text form ('[1,2,3]'), for a `$n::vector` parameter. */
  vectorLiteral(values: ArrayLike<number>): string;
}

interface PgModule {
  Pool: new (options: PgPoolOptions) => PgPool & { on(event: 'error', listener: (err: Error) => void): void };
}
interface PgvectorModule {
  toSql(value: number[]): string;
}

let driver: Promise<PgDriver> | null = null;

/**
 * pg and pgvector, loaded once. Throws a `backend_unavailable` SeqrecError with the install
 * command when either is missing.
 */
export function loadPgDriver(): Promise<PgDriver> {
  driver ??= (async () => {
    const needed = 'the pgvector retriever (PostgreSQL item vectors)';
    const pg = await loadOptional('pg', needed, () => import('pg'));
    const pgvector = await loadOptional('pgvector', needed, () => import('pgvector/pg'));
    const Pool = ((pg as { default?: PgModule }).default ?? (pg as unknown as PgModule)).Pool;
    const toSql = ((pgvector as { default?: PgvectorModule }).default ?? (pgvector as unknown as PgvectorModule)).toSql;
    if (typeof Pool !== 'function' || typeof toSql !== 'function') {
      throw new SeqrecError('backend_unavailable', `the installed pg / pgvector packages do not look like node-postgres and pgvector-node; ${PG_INSTALL_HINT}`);
    }
    return {
      createPool(options) {
        const pool = new Pool(options);
        // An idle connection that breaks (server restart) makes the pool emit 'error'; without
        // a listener that would crash the process. The next query reconnects or fails itself.
        pool.on('error', () => undefined);
        return pool;
      },
      vectorLiteral: (values) => toSql(Array.from(values)),
    };
  })();
  // A failed load is not cached: installing the packages and retrying works without a restart.
  driver.catch(() => (driver = null));
  return driver;
}

/** `host:port/database` of a connection string, without the user or password, for messages. */
export function describeDatabase(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname || ''}`;
  } catch {
    return '(unparsable connection string)';
  }
}

/** A pg error's SQLSTATE code ('42P01' = undefined table), when it has one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** A driver or server error as a SeqrecError saying what was being done and where. */
export function databaseError(err: unknown, doing: string, connectionString: string): SeqrecError {
  if (err instanceof SeqrecError) return err;
  const e = err as { message?: string; code?: string };
  const where = describeDatabase(connectionString);
  const network = typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code);
  return new SeqrecError(
    'backend_unavailable',
    `${doing} on PostgreSQL ${where} failed: ${network ? `cannot connect (${e.code})` : (e.message ?? String(err))}`,
    { field: 'connectionString' },
  );
}
