/**
 * The package as a user gets it: `npm pack` (which builds dist), a fresh app outside the repo,
 * `npm install <tarball>` from the npm registry (or its cache), then
 *   - a models-only install has none of the optional peers and no unused TF.js packages;
 *   - `import 'seqrec'` (ESM) and `require('seqrec')` (CommonJS) train a small GRU4Rec;
 *   - with fastify (the peer `seqrec/serve` needs) and @types/node added, a TS file that uses
 *     `seqrec` and `seqrec/serve` type-checks under TypeScript 5.9 with `skipLibCheck: false`,
 *     for ESM and CommonJS, and a bundle round-trips through `Recommender`;
 *   - `require('seqrec')` still does not load fastify when it is installed;
 *   - `npx seqrec setup faiss` makes `require('faiss-node')` work (once the CLI has it);
 *   - `npx seqrec setup native` builds the native kernels into the app's node_modules/seqrec,
 *     where they load (OpenBLAS) and `--check` passes.
 * Slow (a build and two installs) and needs the registry: runs when SEQREC_PACKAGE_TEST=1
 * (.ci/run sets it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HEAVY } from './heavy.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const enabled = process.env.SEQREC_PACKAGE_TEST === '1';
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

// CI exports SEQREC_NATIVE=1 for the tests; the app has no native kernels until its own setup
// step builds them, so every step before that runs without it.
const BASE_ENV: NodeJS.ProcessEnv = { ...process.env };
delete BASE_ENV.SEQREC_NATIVE;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, env: { ...BASE_ENV, ...env } });
}
const npm = (args: string[], cwd: string) => run(NPM, [...args, '--no-audit', '--no-fund', '--prefer-offline'], cwd);
const node = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => run(process.execPath, args, cwd, env);

// Trains one epoch of a tiny GRU4Rec: exercises tfjs-core, the gradients and a backend.
const TRAIN = `
await initBackend();
const data = SequenceDataset.fromLog(generateSynthetic({ numUsers: 60, numItems: 40, seed: 1 }), { samplesPerUser: 2 });
const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 10 });
const fit = await new Trainer(model, { epochs: 1, learningRate: 1e-2 }).fit(data);
if (!(fit.history.length === 1 && Number.isFinite(fit.history[0].loss) && fit.history[0].loss > 0)) throw new Error('bad fit ' + JSON.stringify(fit.history));
`;

test(
  'consumer app: install the packed tarball, type-check, run ESM and CommonJS',
  { skip: enabled ? false : 'set SEQREC_PACKAGE_TEST=1 to run (packs, installs from the npm registry; slow)', timeout: 15 * 60_000 },
  async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'seqrec-consumer-'));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    const app = join(work, 'app');
    execFileSync('mkdir', [app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'seqrec-consumer', version: '1.0.0', private: true }, null, 2));

    let tarball = '';
    await t.test('npm pack builds and packs the package', () => {
      const name = npm(['pack', '--silent', '--pack-destination', work], ROOT).trim().split('\n').pop()!;
      tarball = join(work, name);
      assert.ok(existsSync(tarball), tarball);
    });

    await t.test('a models-only install has no optional peers and no unused TF.js packages', () => {
      npm(['install', tarball], app);
      const has = (name: string) => existsSync(join(app, 'node_modules', name, 'package.json'));
      assert.ok(has('seqrec') && has('@tensorflow/tfjs-core'));
      assert.deepEqual(HEAVY.filter(has), []);
    });

    await t.test("import 'seqrec' (ESM) trains", () => {
      writeFileSync(
        join(app, 'train.mjs'),
        `import { GRU4Rec, SequenceDataset, Trainer, generateSynthetic, initBackend } from 'seqrec';\n${TRAIN}\nconsole.log('ok');\n`,
      );
      assert.equal(node(['train.mjs'], app).trim().split('\n').pop(), 'ok');
    });

    await t.test("require('seqrec') (CommonJS) trains", () => {
      writeFileSync(
        join(app, 'train.cjs'),
        `const { GRU4Rec, SequenceDataset, Trainer, generateSynthetic, initBackend } = require('seqrec');\n(async () => {\n${TRAIN}\nconsole.log('ok');\n})().catch((e) => { console.error(e); process.exit(1); });\n`,
      );
      assert.equal(node(['train.cjs'], app).trim().split('\n').pop(), 'ok');
    });

    await t.test('with the serve peer, seqrec and seqrec/serve type-check under TS 5.9 with skipLibCheck false', () => {
      npm(['install', 'fastify@^5', '@types/node@^20'], app);
      assert.match(node([TSC, '--version'], app), /Version 5\.9\./);
      const source = (imports: string) => `${imports}
export async function main(dir: string): Promise<string[]> {
  const report: BackendReport = await initBackend();
  const data = SequenceDataset.fromLog(generateSynthetic({ numUsers: 60, numItems: 40, seed: 1 }), { samplesPerUser: 1 });
  const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 4, maxLen: 5 });
  await exportBundle(model, dir, { vocabulary: data.vocabulary, popularity: data.itemPopularity(), popularitySource: 'test' });
  const recommender = await Recommender.load(dir);
  const app: Awaited<ReturnType<typeof createServer>> = await createServer(recommender);
  await app.close();
  const rec: Recommendation = recommender.recommend([], { k: 3 });
  const err: SeqrecError = new SeqrecError('invalid_argument', report.name);
  return [...rec.items.map((i) => String(i.id)), err.code];
}
`;
      const imports = `import { GRU4Rec, SequenceDataset, SeqrecError, generateSynthetic, initBackend, type BackendReport } from 'seqrec';
import { Recommender, createServer, exportBundle, type Recommendation } from 'seqrec/serve';`;
      // The same file as ESM (.mts) and as CommonJS (.cts): the import lines compile to require there.
      writeFileSync(join(app, 'esm.mts'), source(imports));
      writeFileSync(join(app, 'cjs.cts'), source(imports));
      // One program per format, as a real app has: the ESM and CommonJS declarations are two
      // copies, and a program holding both would see seqrec/serve's fastify augmentation twice.
      const options = { strict: true, skipLibCheck: false, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'], outDir: 'out' };
      for (const file of ['esm.mts', 'cjs.cts']) {
        const config = `tsconfig.${file}.json`;
        writeFileSync(join(app, config), JSON.stringify({ compilerOptions: options, files: [file] }, null, 2));
        try {
          node([TSC, '-p', config], app);
        } catch (err) {
          assert.fail(`tsc -p ${config} failed:\n${(err as { stdout?: string }).stdout}`);
        }
      }
    });

    await t.test('the compiled ESM and CommonJS apps run seqrec/serve end to end', () => {
      for (const file of ['out/esm.mjs', 'out/cjs.cjs']) {
        const dir = mkdtempSync(join(work, 'bundle-'));
        const loader = file.endsWith('.mjs') ? `import(${JSON.stringify('./' + file)})` : `Promise.resolve(require(${JSON.stringify('./' + file)}))`;
        const out = node(['-e', `${loader}.then((m) => m.main(${JSON.stringify(dir)})).then((r) => console.log(JSON.stringify(r)))`], app);
        const result = JSON.parse(out.trim().split('\n').pop()!) as string[];
        assert.equal(result.length, 4, file); // three popular items, then the error code
        assert.equal(result[3], 'invalid_argument');
      }
    });

    await t.test("require('seqrec') does not load fastify even when it is installed", () => {
      const out = node(['-e', `require('seqrec'); console.log(JSON.stringify(Object.keys(require.cache)))`], app);
      const loaded = JSON.parse(out.trim().split('\n').pop()!) as string[];
      assert.ok(loaded.some((f) => f.includes('tfjs-core')));
      assert.deepEqual(
        loaded.filter((f) => /node_modules[\\/](fastify|@resvg|umap-js|vega)/.test(f)),
        [],
      );
    });

    // `seqrec setup faiss` comes with the CLI slice of #16; until that is in the build this step
    // says so and skips instead of passing.
    await t.test('npx seqrec setup faiss makes faiss-node loadable', (st) => {
      const help = run(NPM, ['exec', '--no', '--', 'seqrec', '--help'], app);
      if (!/\bsetup\b/.test(help)) {
        st.skip('this build of the CLI has no `seqrec setup` command yet');
        return;
      }
      run(NPM, ['exec', '--no', '--', 'seqrec', 'setup', 'faiss'], app);
      node(['-e', `require('faiss-node')`], app);
      assert.ok(readdirSync(join(app, 'node_modules')).includes('faiss-node'));
    });

    await t.test("npx seqrec setup native builds the native kernels into the app's seqrec", (st) => {
      const help = run(NPM, ['exec', '--no', '--', 'seqrec', 'setup', '--help'], app);
      if (!/\bnative\b/.test(help)) {
        st.skip('this build of the CLI has no `seqrec setup native` yet');
        return;
      }
      run(NPM, ['exec', '--no', '--', 'seqrec', 'setup', 'native'], app);
      const addon = join(app, 'node_modules', 'seqrec', 'native', 'build', 'Release', 'seqrec_native.node');
      assert.ok(existsSync(addon), addon);
      const facts = JSON.parse(node(['-e', `console.log(JSON.stringify(require(${JSON.stringify(addon)}).facts()))`], app).trim()) as { openblas: string };
      assert.match(facts.openblas, /^OpenBLAS /);
      run(NPM, ['exec', '--no', '--', 'seqrec', 'setup', 'native', '--check'], app);
      // Once seqrec's public API reports the native status, the app's own import must see them on.
      const probe = `const s = await import('seqrec'); console.log(typeof s.nativeStatus === 'function' ? JSON.stringify(s.nativeStatus().loaded) : 'not exported');`;
      const loaded = node(['--input-type=module', '-e', probe], app, { SEQREC_NATIVE: '1' }).trim().split('\n').pop();
      if (loaded !== 'not exported') assert.equal(loaded, 'true');
    });
  },
);
