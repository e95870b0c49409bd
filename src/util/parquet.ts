/**
 * The one adapter over the Parquet libraries (hyparquet to read, hyparquet-writer to write,
 * both optional peers, imported on first use): the rest of seqrec sees row groups of plain
 * values and a writer that takes one batch of columns at a time.
 */
import { rename, rm } from 'node:fs/promises';
import { SeqrecError } from '../errors.js';
import { loadOptional } from './optional.js';

type Hyparquet = typeof import('hyparquet');
type HyparquetWriter = typeof import('hyparquet-writer');

const reader = (neededFor: string): Promise<Hyparquet> => loadOptional('hyparquet', neededFor, () => import('hyparquet'));
const writer = (neededFor: string): Promise<HyparquetWriter> => loadOptional('hyparquet-writer', neededFor, () => import('hyparquet-writer'));

/** An open Parquet file: its top-level column names and its rows, one row group at a time. */
export interface ParquetSource {
  readonly columns: readonly string[];
  readonly numRows: number;
  /** Rows of `columns` (values as hyparquet decodes them), row group by row group; `start` is the 0-based first row. */
  rowGroups(columns: readonly string[]): AsyncGenerator<{ start: number; rows: unknown[][] }>;
}

/** Opens `path` for reading; a file that is not Parquet is a `data_parse` error naming it. */
export async function openParquet(path: string, neededFor: string): Promise<ParquetSource> {
  const pq = await reader(neededFor);
  const file = await pq.asyncBufferFromFile(path);
  let metadata: Awaited<ReturnType<Hyparquet['parquetMetadataAsync']>>;
  try {
    metadata = await pq.parquetMetadataAsync(file);
  } catch (e) {
    throw new SeqrecError('data_parse', `${path}: not a readable Parquet file (${(e as Error).message})`, { file: path });
  }
  const columns = pq.parquetSchema(metadata).children.map((c) => c.element.name);
  const groups = metadata.row_groups.map((g) => Number(g.num_rows));
  return {
    columns,
    numRows: Number(metadata.num_rows),
    async *rowGroups(wanted) {
      let start = 0;
      for (const n of groups) {
        const rows = await new Promise<unknown[][]>((resolve, reject) => {
          pq.parquetRead({ file, metadata, columns: [...wanted], rowStart: start, rowEnd: start + n, rowFormat: 'array', onComplete: resolve }).catch(reject);
        });
        yield { start, rows };
        start += n;
      }
    },
  };
}

/** A column of a Parquet file seqrec writes: required strings or int32s, or a required list of float32s. */
export interface ParquetColumnSpec {
  readonly name: string;
  readonly type: 'string' | 'int32' | 'float-list';
}

/** Batches of rows appended as row groups; the file appears at its path only once `finish` succeeds. */
export interface ParquetSink {
  /** One row group: every column's values for the same rows (float lists as Float32Arrays). */
  write(columns: Readonly<Record<string, readonly unknown[]>>): Promise<void>;
  finish(): Promise<void>;
  /** Removes the partial file (after a failure). */
  abort(): Promise<void>;
}

type WriterSchema = ConstructorParameters<HyparquetWriter['ParquetWriter']>[0]['schema'];
type ColumnData = Parameters<InstanceType<HyparquetWriter['ParquetWriter']>['write']>[0]['columnData'][number]['data'];

function schemaOf(columns: readonly ParquetColumnSpec[]): WriterSchema {
  const schema: WriterSchema = [{ name: 'root', num_children: columns.length }];
  for (const c of columns) {
    if (c.type === 'string') schema.push({ name: c.name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' });
    else if (c.type === 'int32') schema.push({ name: c.name, type: 'INT32', repetition_type: 'REQUIRED' });
    else {
      // The standard three-level LIST, so DuckDB, pandas and Spark read it as a list of floats.
      schema.push(
        { name: c.name, repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
      );
    }
  }
  return schema;
}

/**
 * A streaming Parquet writer: each `write` becomes one row group and is flushed to disk as
 * it is encoded (hyparquet-writer's `ParquetWriter` over its file writer), so memory holds one
 * batch, not the file. Written to `path.partial` and renamed at `finish`.
 */
export async function createParquetSink(
  path: string,
  columns: readonly ParquetColumnSpec[],
  metadata: Readonly<Record<string, string>>,
  neededFor: string,
): Promise<ParquetSink> {
  const pw = await writer(neededFor);
  const partial = `${path}.partial`;
  const w = new pw.ParquetWriter({
    writer: pw.fileWriter(partial),
    schema: schemaOf(columns),
    kvMetadata: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    createdBy: 'seqrec',
  });
  return {
    async write(data) {
      const n = data[columns[0].name].length;
      // One call, one row group: rowGroupSize = the batch.
      await w.write({
        columnData: columns.map((c) => ({ name: c.name, data: data[c.name] as ColumnData })),
        rowGroupSize: Math.max(1, n),
      });
    },
    async finish() {
      await w.finish();
      await rename(partial, path);
    },
    abort: () => rm(partial, { force: true }),
  };
}
