/**
 * Bundle probes of `npm run bench:audit`: damaged data files, edited model.json, files that
 * point outside the bundle, FIFOs and symlinks. Loading any of them must be a clear
 * `bundle_invalid` that names bundle-relative files only and quotes no file content.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { SequenceDataset } from '../src/data/dataset.js';
import { generateSynthetic } from '../src/data/synthetic.js';
import { GRU4Rec } from '../src/models/gru4rec.js';
import { exportBundle } from '../src/bundle/bundle.js';
import { Recommender } from '../src/serve/recommender.js';
import { Trainer } from '../src/train/trainer.js';
import { SilentChange, expectError, type Probe } from './audit-probe.js';

/** Trains a tiny GRU4Rec and exports it to `dir`. */
export async function tinyBundle(dir: string, seed = 11): Promise<{ items: readonly string[] }> {
  const log = generateSynthetic({ numUsers: 150, numItems: 60, numClusters: 4, minLength: 6, maxLength: 14, seed });
  const data = SequenceDataset.fromLog(log, { maxLen: 8, seed });
  const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 8, seed });
  await new Trainer(model, { epochs: 1, batchSize: 32, parallelism: 1 }).fit(data);
  await exportBundle(model, dir, { vocabulary: data.vocabulary, popularity: data.itemPopularity() });
  model.dispose();
  return { items: data.vocabulary.items() };
}

/** The directory that holds model.json (the bundle itself, or its current version). */
export function manifestDir(bundle: string): string {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isFile() && e.name === 'model.json') found.push(d);
      else if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  walk(bundle);
  if (found.length !== 1) throw new Error(`expected one model.json below ${bundle}, found ${found.length}`);
  return found[0];
}

type Mutation = (dir: string, file: string) => void;

const FILE_DAMAGE: Record<string, Mutation> = {
  'truncated to half': (_d, f) => truncateSync(f, Math.floor(lstatSync(f).size / 2)),
  'one byte flipped': (_d, f) => {
    const b = readFileSync(f);
    b[Math.floor(b.length / 2)] ^= 0x01;
    writeFileSync(f, b);
  },
  'one byte appended': (_d, f) => writeFileSync(f, Buffer.concat([readFileSync(f), Buffer.from([0x20])])),
  emptied: (_d, f) => writeFileSync(f, ''),
  deleted: (_d, f) => unlinkSync(f),
  'replaced by a directory': (_d, f) => {
    unlinkSync(f);
    mkdirSync(f);
  },
  'replaced by a FIFO': (_d, f) => {
    unlinkSync(f);
    execFileSync('mkfifo', [f]);
  },
  'replaced by a symlink to /etc/passwd': (_d, f) => {
    unlinkSync(f);
    symlinkSync('/etc/passwd', f);
  },
};

type ManifestEdit = (m: Record<string, any>) => void;

/** Records `text` as model.json's digest in the bundle's pointer (CURRENT), if it has one. */
function resign(bundle: string, text: string): void {
  const pointer = join(bundle, 'CURRENT');
  if (!existsSync(pointer)) return;
  const p = JSON.parse(readFileSync(pointer, 'utf8'));
  p.manifest = { bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') };
  writeFileSync(pointer, JSON.stringify(p));
}

const MANIFEST_EDITS: Record<string, ManifestEdit> = {
  'config.maxLen one bit flipped': (m) => (m.config.maxLen ^= 1),
  'config.maxLen + 1': (m) => (m.config.maxLen += 1),
  'config.embeddingDim 6,400,000': (m) => (m.config.embeddingDim = 6_400_000),
  'config.embeddingDim -8': (m) => (m.config.embeddingDim = -8),
  'config with an unknown key': (m) => (m.config.hiddenDimm = 8),
  "model 'constructor'": (m) => (m.model = 'constructor'),
  "model '__proto__'": (m) => (m.model = '__proto__'),
  "model 'nope'": (m) => (m.model = 'nope'),
  'a weight offset + 1': (m) => (m.weights[1].offset += 1),
  'a weight offset − 5': (m) => (m.weights[1].offset -= 5),
  'two weight names swapped': (m) => ([m.weights[0].name, m.weights[1].name] = [m.weights[1].name, m.weights[0].name]),
  'a weight shape changed': (m) => (m.weights[0].shape = [m.weights[0].shape[0] * 2, ...m.weights[0].shape.slice(1)]),
  'the files section deleted': (m) => delete m.files,
  "one file's digest deleted": (m) => delete m.files['weights.bin'],
  'an unknown top-level key': (m) => (m.extra = true),
  'format version 99': (m) => (m.version = 99),
  "popularity file '../../../../etc/passwd'": (m) => (m.bundle.popularity.file = '../../../../etc/passwd'),
  "popularity file '/etc/passwd'": (m) => (m.bundle.popularity.file = '/etc/passwd'),
  'item embeddings from an unknown weight': (m) => (m.bundle.itemEmbeddings.weight = 'nope'),
};

export async function bundleProbes(work: string): Promise<Probe[]> {
  const good = join(work, 'bundle-good');
  await tinyBundle(good);
  // `.seqrec` only marks a directory as seqrec's for clean-up; it carries no model data.
  const files = readdirSync(manifestDir(good)).filter((f) => f !== 'model.json' && f !== '.seqrec');
  let n = 0;
  /** A fresh copy of the good bundle, damaged by `mutate`, then loaded. */
  const probe = (name: string, mutate: (dir: string) => void): Probe => ({
    area: 'bundle',
    name,
    timeoutMs: 20_000,
    run: async () => {
      const copy = join(work, `bundle-probe-${n++}`);
      cpSync(good, copy, { recursive: true });
      mutate(copy);
      return expectError(
        async () => {
          const rec = await Recommender.load(copy);
          rec.dispose();
          throw new SilentChange('the damaged bundle loaded');
        },
        { code: 'bundle_invalid', noPaths: true, notMentions: /root:x?:0:0/ },
      );
    },
  });
  const probes: Probe[] = [];
  for (const file of files) {
    for (const [what, mutate] of Object.entries(FILE_DAMAGE)) {
      probes.push(probe(`${file} ${what}`, (copy) => mutate(copy, join(manifestDir(copy), file))));
    }
  }
  for (const [what, edit] of Object.entries(MANIFEST_EDITS)) {
    probes.push(
      probe(`model.json: ${what}`, (copy) => {
        const path = join(manifestDir(copy), 'model.json');
        const m = JSON.parse(readFileSync(path, 'utf8'));
        edit(m);
        writeFileSync(path, JSON.stringify(m, null, 2));
      }),
    );
  }
  // The same edits with the pointer's digest updated to match, as a hand edit that also fixes
  // CURRENT would be: then the schema and the checks against the weights must refuse them.
  const STRUCTURAL = Object.keys(MANIFEST_EDITS).filter((what) => !/maxLen/.test(what));
  for (const what of STRUCTURAL) {
    probes.push(
      probe(`model.json: ${what}, CURRENT's digest updated`, (copy) => {
        const path = join(manifestDir(copy), 'model.json');
        const m = JSON.parse(readFileSync(path, 'utf8'));
        MANIFEST_EDITS[what](m);
        const text = JSON.stringify(m, null, 2);
        writeFileSync(path, text);
        resign(copy, text);
      }),
    );
  }
  for (const [what, mutate] of Object.entries(FILE_DAMAGE)) {
    if (what === 'one byte appended') continue; // whitespace after JSON: same meaning
    probes.push(probe(`model.json ${what}`, (copy) => mutate(copy, join(manifestDir(copy), 'model.json'))));
  }
  probes.push(
    probe('model.json nested 100,000 levels deep', (copy) => writeFileSync(join(manifestDir(copy), 'model.json'), '['.repeat(100_000) + ']'.repeat(100_000))),
    probe('a data file symlinked to another bundle’s copy outside the bundle', (copy) => {
      const f = join(manifestDir(copy), 'popularity.json');
      const outside = join(work, `outside-${n}.json`);
      cpSync(f, outside);
      unlinkSync(f);
      symlinkSync(outside, f);
    }),
  );
  // Files seqrec keeps beside the versions (a pointer to the current one, if the layout has it).
  for (const top of readdirSync(good)) {
    const path = join(good, top);
    if (!lstatSync(path).isFile() || existsSync(join(manifestDir(good), top))) continue;
    for (const [what, mutate] of Object.entries(FILE_DAMAGE)) {
      if (what === 'one byte appended') continue;
      probes.push(probe(`${relative(good, path)} ${what}`, (copy) => mutate(copy, join(copy, top))));
    }
  }
  return probes;
}
