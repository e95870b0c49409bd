/**
 * `seqrec setup native`: it builds into the seqrec package the project uses (a consumer's
 * node_modules/seqrec, or the clone), keys its cache on the sources and settings, asks for the
 * apt-get line instead of failing obscurely, and --check tells a working, current addon from a
 * missing or stale one. The one real build (about 4 s) runs only where the Debian packages are
 * already installed, so the test never runs apt-get.
 */
import assert from 'node:assert/strict';
import { appendFile, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nativePlan } from '../../src/cli/setup/project.js';
import { archFlags, buildKey, nativeSettings, nativeSources } from '../../src/cli/setup/native.js';
import { dpkgInstalled, ensureSystem, hasTool, isDebian, SetupFailed, type SystemProbe } from '../../src/cli/setup/system.js';
import { runCli } from '../serve/helpers.js';
import { standInApp } from './stand-in-app.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let tmp: string;
let app: string;
let appSeqrec: string;

before(async () => {
  ({ tmp, app, appSeqrec } = await standInApp('seqrec-setup-native-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

describe('seqrec setup native: where it builds', () => {
  it("refuses a seqrec without native sources, then targets the consumer's seqrec", async () => {
    const none = nativePlan(join(app, 'src'), REPO);
    assert.ok('error' in none);
    assert.match(none.error, new RegExp(`seqrec in ${appSeqrec} has no native/binding.gyp`));
    await cp(join(REPO, 'native'), join(appSeqrec, 'native'), { recursive: true, filter: (src) => !src.includes(`${join('native', 'build')}`) });
    const plan = nativePlan(join(app, 'src'), REPO);
    assert.deepEqual(plan, {
      root: app,
      seqrec: appSeqrec,
      sources: join(appSeqrec, 'native'),
      target: join(appSeqrec, 'native', 'build', 'Release', 'seqrec_native.node'),
    });
  });

  it('in a clone, or outside any project: the running seqrec', () => {
    const clone = nativePlan(REPO, REPO);
    assert.ok(!('error' in clone));
    assert.equal(clone.target, join(REPO, 'native', 'build', 'Release', 'seqrec_native.node'));
    const outside = nativePlan('/', REPO);
    assert.ok(!('error' in outside));
    assert.equal(outside.seqrec, REPO);
  });
});

describe('seqrec setup native: build settings and cache key', () => {
  it('AVX2/FMA flags only when the CPU has both', () => {
    const cpu = (flags: string) => `processor\t: 0\nflags\t\t: ${flags}\n`;
    const want = process.arch === 'x64' ? '-mavx2 -mfma' : '';
    assert.equal(archFlags(cpu('fpu sse2 avx avx2 fma bmi2')), want);
    assert.equal(archFlags(cpu('fpu sse2 avx avx2')), '');
    assert.equal(archFlags(cpu('fpu sse2 fma')), '');
    assert.equal(archFlags(null), '');
  });

  it('the key follows the sources and every setting, not the build directory', async () => {
    const src = join(tmp, 'keysrc');
    await cp(join(REPO, 'native'), src, { recursive: true, filter: (s) => !s.includes(`${join('native', 'build')}`) });
    assert.deepEqual(nativeSources(src), ['binding.gyp', 'embedding.c', 'matmul.c', 'napi_util.h', 'optim.c', 'random.c', 'retrieval.c', 'seqrec_native.c']);
    const settings = { archFlags: '-mavx2 -mfma', blasInclude: '/usr/include/x86_64-linux-gnu/openblas-pthread', openblas: '0.3.21+ds-4', abi: '115' };
    const key = buildKey(src, settings);
    assert.match(key, /^[0-9a-f]{16}$/);
    await mkdir(join(src, 'build', 'Release'), { recursive: true });
    await writeFile(join(src, 'build', 'Release', 'junk.o'), 'x');
    assert.equal(buildKey(src, settings), key);
    for (const change of [{ archFlags: '' }, { abi: '127' }, { openblas: '0.3.26' }, { blasInclude: '/usr/include' }]) {
      assert.notEqual(buildKey(src, { ...settings, ...change }), key, JSON.stringify(change));
    }
    await appendFile(join(src, 'optim.c'), '\n/* edited */\n');
    assert.notEqual(buildKey(src, settings), key);
  });
});

describe('seqrec setup native: system packages', () => {
  const probe = (over: Partial<SystemProbe>): SystemProbe & { calls: string[][] } => {
    const calls: string[][] = [];
    return { installed: () => true, hasTool: () => true, isRoot: () => false, aptGet: (argv) => void calls.push(argv), calls, ...over };
  };
  const needs = { packages: ['libopenblas-dev'], tools: { 'g++': 'g++', make: 'make', python3: 'python3' }, command: 'seqrec setup native' };

  it('not root: the apt-get line for what is missing, exit code 2', () => {
    const p = probe({ installed: () => false, hasTool: (t) => t !== 'g++' });
    assert.throws(
      () => ensureSystem(needs, () => {}, p),
      (err: unknown) =>
        err instanceof SetupFailed &&
        err.exitCode === 2 &&
        err.message.includes('missing system packages: libopenblas-dev, g++') &&
        err.message.includes('sudo apt-get update && sudo apt-get install -y --no-install-recommends libopenblas-dev g++') &&
        err.message.includes('then run `seqrec setup native` again'),
    );
    assert.deepEqual(p.calls, []);
  });

  it('root: apt-get install, with apt-get update and a retry when the first install fails', () => {
    const p = probe({ installed: (pkg) => pkg !== 'libopenblas-dev', isRoot: () => true });
    ensureSystem(needs, () => {}, p);
    assert.deepEqual(p.calls, [['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '--no-install-recommends', 'libopenblas-dev']]);
    let n = 0;
    const flaky = probe({
      hasTool: (t) => t !== 'make',
      isRoot: () => true,
      aptGet: (argv) => {
        flaky.calls.push(argv);
        if (n++ === 0) throw new Error('404');
      },
    });
    ensureSystem(needs, () => {}, flaky);
    assert.deepEqual(
      flaky.calls.map((c) => c[2]),
      ['install', 'update', 'install'],
    );
    assert.deepEqual(probe({}).calls, []);
  });
});

const canBuild = isDebian() && dpkgInstalled('libopenblas-dev') !== null && ['g++', 'make', 'python3'].every(hasTool) && nativeSettings().blasInclude !== null;

describe(
  'seqrec setup native: build, --check, cache',
  { skip: canBuild ? false : 'needs Debian with libopenblas-dev, g++, make, python3 already installed (npm run setup:native installs them)' },
  () => {
    it("builds into the consumer's seqrec, checks it, reinstalls from the cache, notices edited sources", { timeout: 120_000 }, async () => {
      const env = { INIT_CWD: join(app, 'src'), SEQREC_CACHE_DIR: join(tmp, 'cache') };
      const target = join(appSeqrec, 'native', 'build', 'Release', 'seqrec_native.node');
      if (!existsSync(join(appSeqrec, 'native')))
        await cp(join(REPO, 'native'), join(appSeqrec, 'native'), { recursive: true, filter: (s) => !s.includes(`${join('native', 'build')}`) });

      const missing = runCli(['setup', 'native', '--check'], env);
      assert.equal(await missing.exited, 1, missing.stdout());
      assert.match(missing.stderr(), /seqrec setup native: the native addon does not work for seqrec in .*: .*does not exist\. Run: seqrec setup native/);

      const built = runCli(['setup', 'native'], env);
      assert.equal(await built.exited, 0, built.stderr() + built.stdout());
      assert.match(built.stdout(), /compiled in/);
      assert.match(built.stdout(), /verified: sgemm matches JavaScript \(OpenBLAS/);
      assert.ok(existsSync(target));
      const record = JSON.parse(await readFile(join(dirname(target), 'seqrec_native.json'), 'utf8')) as { key: string; abi: string };
      assert.equal(record.abi, process.versions.modules);
      assert.ok(existsSync(join(tmp, 'cache', 'native', record.key, 'seqrec_native.node')));
      // The sources the package ships stay as they are: the build ran in a copy.
      assert.deepEqual(nativeSources(join(appSeqrec, 'native')), nativeSources(join(REPO, 'native')));
      assert.ok(!existsSync(join(appSeqrec, 'native', 'build', 'Makefile')));

      const check = runCli(['setup', 'native', '--check'], env);
      assert.equal(await check.exited, 0, check.stderr());
      assert.match(check.stdout(), /works \(OpenBLAS .*\); sgemm verified/);
      assert.match(check.stdout(), /facts\(\): \{"openblas":"OpenBLAS/);

      await rm(target);
      const cached = runCli(['setup', 'native'], env);
      assert.equal(await cached.exited, 0, cached.stderr());
      assert.match(cached.stdout(), /installed cached build/);
      assert.doesNotMatch(cached.stdout(), /compiled in/);

      await appendFile(join(appSeqrec, 'native', 'optim.c'), '\n/* edited */\n');
      const stale = runCli(['setup', 'native', '--check'], env);
      assert.equal(await stale.exited, 1);
      assert.match(stale.stderr(), /works but was built from other sources or settings/);
    });
  },
);
