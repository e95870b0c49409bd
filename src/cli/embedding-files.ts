/**
 * The files `seqrec embed` writes: one row per user (or item) with its id and its vector, as
 * Parquet (through the lazy hyparquet-writer adapter) or JSON lines. Rows are written as they
 * come and buffered only up to one Parquet row group, so memory does not grow with the rows.
 * Each file is written next to its path and renamed into place once complete.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { extname } from 'node:path';
import { SeqrecError } from '../errors.js';
import { createParquetSink, type ParquetSink } from '../util/parquet.js';

export type EmbeddingFormat = 'parquet' | 'jsonl';

/** The format a path's extension names; anything else is an `invalid_argument` error naming `flag`. */
export function embeddingFormat(path: string, flag: string): EmbeddingFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.parquet') return 'parquet';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new SeqrecError('invalid_argument', `--${flag} ${path}: the file name must end in .parquet or .jsonl (it picks the format)`, { field: flag });
}

/** `users.parquet` -> `users.items.parquet`: the default items file next to the users file. */
export function itemsPathFor(usersPath: string): string {
  const ext = extname(usersPath);
  return `${usersPath.slice(0, usersPath.length - ext.length)}.items${ext}`;
}

/** Rows of (id, vector); `vectors` holds `ids.length` vectors of `width` floats, back to back. */
export interface EmbeddingWriter {
  write(ids: readonly string[], vectors: Float32Array): Promise<void>;
  /** Rows written so far. */
  readonly rows: number;
  finish(): Promise<void>;
  /** Removes the partial file (after a failure). */
  abort(): Promise<void>;
}

/**
 * Rows per Parquet row group. hyparquet-writer flattens a group's lists into plain JS arrays
 * (values and levels, 3 entries a float), garbage V8 collects late: on amazon-beauty's 22,363
 * users (256 floats each) 8,192-row groups peaked at 849 MB RSS, 1,024-row groups at 382 MB
 * (docs/benchmarks.md, "Batch embedding export"). 1,024 rows of 256 floats is still 1 MB a group.
 */
const ROW_GROUP_ROWS = 1024;

export interface EmbeddingFileOptions {
  /** Column of the id: 'user' or 'item'. */
  idColumn: 'user' | 'item';
  /** Floats per row (K * D for users, D for items). */
  width: number;
  /** Key-value metadata of a Parquet file (model, interests, dim, layout). */
  metadata: Readonly<Record<string, string>>;
}

class ParquetEmbeddingWriter implements EmbeddingWriter {
  rows = 0;
  private ids: string[] = [];
  private vectors: number[][] = [];

  constructor(
    private readonly sink: ParquetSink,
    private readonly options: EmbeddingFileOptions,
  ) {}

  async write(ids: readonly string[], vectors: Float32Array): Promise<void> {
    const { width } = this.options;
    for (let r = 0; r < ids.length; r++) {
      this.ids.push(ids[r]);
      this.vectors.push(Array.from(vectors.subarray(r * width, (r + 1) * width)));
      if (this.ids.length === ROW_GROUP_ROWS) await this.flush();
    }
    this.rows += ids.length;
  }

  private async flush(): Promise<void> {
    if (this.ids.length === 0) return;
    await this.sink.write({ [this.options.idColumn]: this.ids, vector: this.vectors });
    this.ids = [];
    this.vectors = [];
  }

  async finish(): Promise<void> {
    await this.flush();
    await this.sink.finish();
  }

  abort(): Promise<void> {
    return this.sink.abort();
  }
}

class JsonlEmbeddingWriter implements EmbeddingWriter {
  rows = 0;
  private readonly partial: string;
  private readonly stream: WriteStream;
  private failure: Error | undefined;

  constructor(
    private readonly path: string,
    private readonly options: EmbeddingFileOptions,
  ) {
    this.partial = `${path}.partial`;
    this.stream = createWriteStream(this.partial);
    this.stream.on('error', (e) => (this.failure = e));
  }

  async write(ids: readonly string[], vectors: Float32Array): Promise<void> {
    const { width, idColumn } = this.options;
    let text = '';
    for (let r = 0; r < ids.length; r++) {
      // A float32 printed as the double it is parses back to the same float32.
      text += `${JSON.stringify({ [idColumn]: ids[r], vector: Array.from(vectors.subarray(r * width, (r + 1) * width)) })}\n`;
    }
    this.rows += ids.length;
    if (this.failure) throw this.failure;
    if (!this.stream.write(text)) await new Promise<void>((resolve) => this.stream.once('drain', resolve));
  }

  async finish(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.stream.end((e?: Error | null) => (e ? reject(e) : resolve())));
    if (this.failure) throw this.failure;
    await rename(this.partial, this.path);
  }

  async abort(): Promise<void> {
    this.stream.destroy();
    await rm(this.partial, { force: true });
  }
}

/** Opens `path` for writing in the format its extension names. */
export async function openEmbeddingFile(path: string, format: EmbeddingFormat, options: EmbeddingFileOptions): Promise<EmbeddingWriter> {
  if (format === 'jsonl') return new JsonlEmbeddingWriter(path, options);
  const sink = await createParquetSink(
    path,
    [
      { name: options.idColumn, type: 'string' },
      { name: 'vector', type: 'float-list' },
    ],
    options.metadata,
    `writing ${path}`,
  );
  return new ParquetEmbeddingWriter(sink, options);
}
