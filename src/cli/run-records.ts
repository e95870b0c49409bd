/**
 * Experiment records: every `seqrec train` and every model of a `seqrec bench` writes one JSON
 * file (`seqrec-run` format) with what is needed to compare and repeat it: the resolved
 * settings and model config, the data file's SHA-256, the seqrec and Node versions, the CPU and
 * backend, and the valid and test metrics. `seqrec runs` reads a directory of them into a
 * table. One schema (below) writes and reads the file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { backendReport, describeBackend } from '../backend/index.js';
import { seqrecRoot } from '../backend/native.js';
import { SeqrecError } from '../errors.js';
import { parseWith } from '../util/schema.js';

const Metrics = z.record(z.string(), z.number());

export const RunRecordSchema = z.strictObject({
  format: z.literal('seqrec-run'),
  version: z.literal(1),
  /** `<finished time>-<command>-<model>-<random>`, also the file name. */
  id: z.string(),
  command: z.enum(['train', 'bench']),
  startedAt: z.string(),
  finishedAt: z.string(),
  seqrec: z.string(),
  node: z.string(),
  cpu: z.string(),
  backend: z.string(),
  data: z.strictObject({ path: z.string(), sha256: z.string(), bytes: z.number() }),
  model: z.string(),
  /** The data settings, model config, loss and trainer options as resolved for the run. */
  config: z.record(z.string(), z.unknown()),
  epochs: z.number(),
  bestEpoch: z.number(),
  stoppedBy: z.string(),
  seconds: z.number(),
  valid: Metrics,
  test: Metrics,
  /** model.json digest of the bundle a warm start continued. */
  parent: z.string().optional(),
  /** The bundle the run wrote (train --out). */
  out: z.string().optional(),
});

export type RunRecord = z.infer<typeof RunRecordSchema>;

/** SHA-256 and size of a file, streamed. */
export async function fileDigest(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

let version: string | undefined;
/** The version in seqrec's package.json. */
function seqrecVersion(): string {
  version ??= (JSON.parse(readFileSync(join(seqrecRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}

/** The fields every record shares, filled in from this process and the data file. */
export async function runContext(dataPath: string, startedAt: Date): Promise<Pick<RunRecord, 'startedAt' | 'seqrec' | 'node' | 'cpu' | 'backend' | 'data'>> {
  const report = backendReport();
  return {
    startedAt: startedAt.toISOString(),
    seqrec: seqrecVersion(),
    node: process.version,
    cpu: `${cpus()[0]?.model ?? 'unknown CPU'} x ${cpus().length}`,
    backend: report ? describeBackend(report).replace(/^seqrec backend: /, '') : 'none',
    data: { path: dataPath, ...(await fileDigest(dataPath)) },
  };
}

/** Writes `record` to `<dir>/<id>.json` (complete or not at all); returns the path. */
export async function writeRunRecord(dir: string, record: Omit<RunRecord, 'format' | 'version' | 'id' | 'finishedAt'>): Promise<string> {
  const finishedAt = new Date();
  const stamp = finishedAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const id = `${stamp}-${record.command}-${record.model}-${randomBytes(2).toString('hex')}`;
  const full = RunRecordSchema.parse({ format: 'seqrec-run', version: 1, id, finishedAt: finishedAt.toISOString(), ...record });
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${id}.json`);
  await writeFile(`${path}.partial`, JSON.stringify(full, null, 1) + '\n');
  await rename(`${path}.partial`, path);
  return path;
}

/** Every record in `dir`, oldest first; a file that is not a valid record is an error naming it. */
export async function readRunRecords(dir: string): Promise<RunRecord[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch {
    throw new SeqrecError('invalid_argument', `no run records in ${dir} (seqrec train and seqrec bench write them there; see --runs-dir)`, { file: dir });
  }
  const records: RunRecord[] = [];
  for (const name of names) {
    const file = join(dir, name);
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new SeqrecError('data_parse', `${file}: not JSON (${(e as Error).message})`, { file });
    }
    records.push(parseWith(RunRecordSchema, json, { where: file }));
  }
  return records.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
}
