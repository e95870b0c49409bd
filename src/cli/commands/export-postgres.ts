/**
 * `seqrec export --to postgres://...`: a bundle's item vectors into PostgreSQL + pgvector, as
 * the table named by the bundle's digest (src/retrieval/pgvector/store.ts), for
 * `seqrec serve --retriever pgvector`.
 */
import { loadBundle } from '../../bundle/bundle.js';
import { SeqrecError } from '../../errors.js';
import { describeDatabase } from '../../retrieval/pgvector/driver.js';
import type { PgvectorIndexOptions, ResolvedIndex } from '../../retrieval/pgvector/options.js';
import { writeItemTable } from '../../retrieval/pgvector/store.js';
import { itemMatrix } from '../../train/evaluate.js';
import type { Log } from '../command.js';
import { choice, int, str } from '../flags.js';

export const POSTGRES_EXPORT_FLAGS = {
  pgIndex: choice(['hnsw', 'ivfflat', 'none'] as const, 'with --to: the index built over the item table', { default: 'hnsw', placeholder: 'kind' }),
  pgM: int('with --to --pg-index hnsw: links per node (m; default 16)', { min: 2, max: 100 }),
  pgEfConstruction: int('with --to --pg-index hnsw: ef_construction (default 64, at least 2 * m)', { min: 4, max: 1000 }),
  pgLists: int('with --to --pg-index ivfflat: lists (default items / 1000, sqrt(items) above 1M)', { min: 1, max: 32768 }),
  pgMaintenanceWorkMem: str("with --to: maintenance_work_mem for the index build, e.g. 512MB (default: the server's)", { placeholder: 'size' }),
} as const;

interface PostgresFlags {
  to: string;
  pgIndex: 'hnsw' | 'ivfflat' | 'none';
  pgM?: number;
  pgEfConstruction?: number;
  pgLists?: number;
  pgMaintenanceWorkMem?: string;
}

function flagError(field: string, message: string): SeqrecError {
  return new SeqrecError('invalid_config', message, { field });
}

/** The --pg-* flags as index options; a parameter of another index kind is an error. */
function indexOptions(flags: PostgresFlags): PgvectorIndexOptions {
  const hnswOnly = flags.pgM !== undefined ? 'pg-m' : flags.pgEfConstruction !== undefined ? 'pg-ef-construction' : null;
  if (hnswOnly && flags.pgIndex !== 'hnsw') throw flagError(hnswOnly, `--${hnswOnly} applies to --pg-index hnsw, not ${flags.pgIndex}`);
  if (flags.pgLists !== undefined && flags.pgIndex !== 'ivfflat') throw flagError('pg-lists', `--pg-lists applies to --pg-index ivfflat, not ${flags.pgIndex}`);
  if (flags.pgIndex === 'hnsw') return { kind: 'hnsw', m: flags.pgM, efConstruction: flags.pgEfConstruction };
  if (flags.pgIndex === 'ivfflat') return { kind: 'ivfflat', lists: flags.pgLists };
  return { kind: 'none' };
}

function describeIndex(index: ResolvedIndex): string {
  if (index.kind === 'hnsw') return `HNSW m=${index.m} ef_construction=${index.efConstruction}`;
  if (index.kind === 'ivfflat') return `IVFFlat lists=${index.lists}`;
  return 'no index (exact scans)';
}

/** Writes the item table of the bundle in `dir` to `flags.to`, unless it is there already. */
export async function exportToPostgres(dir: string, flags: PostgresFlags, log: Log): Promise<void> {
  if (!/^postgres(ql)?:\/\//.test(flags.to)) {
    throw flagError('to', `--to must be a PostgreSQL URL like postgres://user@host:5432/db, got '${flags.to.replace(/:[^:@/]*@/, ':***@')}'`);
  }
  const index = indexOptions(flags);
  const bundle = await loadBundle(dir);
  try {
    const { model } = bundle;
    const where = describeDatabase(flags.to);
    const r = await writeItemTable({
      connectionString: flags.to,
      digest: bundle.digest,
      itemVectors: itemMatrix(model),
      dim: model.embeddingDim,
      metric: bundle.section.similarity,
      index,
      maintenanceWorkMem: flags.pgMaintenanceWorkMem,
    });
    log(
      r.created
        ? `wrote ${r.itemCount} item vectors (dim ${r.dim}, ${r.metric}) of bundle digest ${r.digest.slice(0, 12)}… to ${r.table} on ${where}, ${describeIndex(r.index)}`
        : `${r.table} on ${where} already holds the complete item table of bundle digest ${r.digest.slice(0, 12)}… (${describeIndex(r.index)}): nothing written`,
    );
  } finally {
    bundle.model.dispose();
  }
}
