/**
 * `seqrec setup native` (and `npm run setup:native` in a clone): builds seqrec's native
 * accelerator (native/*.c, an N-API addon on OpenBLAS and OpenMP) into the seqrec package the
 * project uses, at `<seqrec>/native/build/Release/seqrec_native.node`, where
 * src/backend/native.ts loads it. Offline, against Debian packages:
 *   1. If the addon there loads, passes the sgemm check and its build record
 *      (seqrec_native.json next to it) matches the current sources and settings, it says so.
 *   2. If a build for this key is cached (~/.cache/seqrec/native/<key>, or $SEQREC_CACHE_DIR),
 *      it is installed and verified.
 *   3. Otherwise: apt package libopenblas-dev and g++/make/python3 (installed when root, else
 *      the apt-get line is printed, exit 2); the sources copied to a temporary directory and
 *      compiled with npm's node-gyp, with -mavx2 -mfma when /proc/cpuinfo has both and the
 *      include directory of OpenBLAS's cblas.h; cached, installed atomically, verified.
 * The key hashes the C sources, binding.gyp, the Node ABI, the arch flags and OpenBLAS, so an
 * edited source or a new Node rebuilds. Verification runs in a child process (a broken addon
 * cannot take this one down).
 *
 * Flags: --force (rebuild even if it works), --check (only verify; exit 1 if broken or built
 * from other sources), --no-cache (neither read nor write the cache). Exit codes: 0 works,
 * 1 failed, 2 system packages missing and not root.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { nativePlan, type NativePlan } from './project.js';
import { cacheBase, dpkgFiles, dpkgInstalled, ensureSystem, isDebian, nodeGyp, run, SetupFailed } from './system.js';
import { VERIFY_NATIVE_SCRIPT } from './verify-native.js';

export { SetupFailed };

/** Bump when the build recipe changes, so cached builds are not reused. */
const RECIPE = 1;
const APT_PACKAGES = ['libopenblas-dev'];
const TOOLS = { 'g++': 'g++', make: 'make', python3: 'python3' };
const ADDON = 'seqrec_native.node';
/** The build record written next to the addon (and into the cache). */
const RECORD = 'seqrec_native.json';

export interface SetupNativeOptions {
  force?: boolean;
  check?: boolean;
  noCache?: boolean;
  /** Where the command was started (default: INIT_CWD, else the working directory). */
  cwd?: string;
  /** Progress lines (default: stdout). */
  say?: (line: string) => void;
}

/** What a build depends on besides the sources. */
export interface NativeSettings {
  /** The gyp variable seqrec_arch_flags: '-mavx2 -mfma' or ''. */
  archFlags: string;
  /** The directory with OpenBLAS's cblas.h (gyp variable seqrec_blas_include), or null if none. */
  blasInclude: string | null;
  /** The Debian version of libopenblas-dev, or null. */
  openblas: string | null;
  /** process.versions.modules: an addon is built for one Node ABI. */
  abi: string;
}

interface BuildRecord extends NativeSettings {
  key: string;
  recipe: number;
  builtAt: string;
}

/** '-mavx2 -mfma' when the CPU flags (from /proc/cpuinfo) include avx2 and fma, else ''. */
export function archFlags(cpuinfo: string | null = readOrNull('/proc/cpuinfo')): string {
  if (process.arch !== 'x64' || !cpuinfo) return '';
  const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '').trim().split(/\s+/));
  return flags.has('avx2') && flags.has('fma') ? '-mavx2 -mfma' : '';
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

const isOpenblasHeader = (dir: string) => /\bopenblas_get_config\b/.test(readOrNull(join(dir, 'cblas.h')) ?? '');

/**
 * The include directory of OpenBLAS's cblas.h. libopenblas-dev is a meta package: the header
 * comes from a variant (libopenblas-pthread-dev, -openmp-dev, -serial-dev), and
 * /usr/include/<multiarch>/cblas.h is an alternatives link to the selected one, which is
 * preferred because `-lopenblas` follows the same alternatives. A cblas.h without
 * openblas_get_config (netlib's) does not count.
 */
export function openblasInclude(): string | null {
  const variants = (spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status}\\n', 'libopenblas*-dev'], { encoding: 'utf8' }).stdout ?? '')
    .split('\n')
    .filter((l) => l.endsWith('install ok installed'))
    .map((l) => l.split(' ')[0]);
  const multiarch = existsSync('/usr/include') ? readdirSync('/usr/include').filter((d) => /-linux-/.test(d)) : [];
  const candidates = [
    ...variants.flatMap((p) =>
      dpkgFiles(p)
        .filter((f) => f.endsWith('/cblas.h'))
        .map((f) => dirname(f)),
    ),
    ...multiarch.map((d) => join('/usr/include', d)),
    '/usr/include/openblas',
    '/usr/include',
  ].filter((d) => isOpenblasHeader(d));
  const selected = multiarch.map((d) => join('/usr/include', d, 'cblas.h')).find((f) => existsSync(f) && isOpenblasHeader(dirname(f)));
  const preferred = selected ? dirname(realpathSync(selected)) : undefined;
  return candidates.find((d) => d === preferred) ?? candidates[0] ?? null;
}

export function nativeSettings(): NativeSettings {
  return { archFlags: archFlags(), blasInclude: openblasInclude(), openblas: dpkgInstalled('libopenblas-dev'), abi: process.versions.modules };
}

/** The files a build uses: native/*.c, native/*.h and binding.gyp (never build/). */
export function nativeSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && (/\.[ch]$/.test(e.name) || e.name === 'binding.gyp'))
    .map((e) => e.name)
    .sort();
}

/** The cache key: the sources' bytes, the settings, the recipe and the CPU architecture. */
export function buildKey(sources: string, settings: NativeSettings): string {
  const h = createHash('sha256').update(JSON.stringify([RECIPE, process.arch, settings]));
  for (const name of nativeSources(sources)) h.update(`\0${name}\0`).update(readFileSync(join(sources, name)));
  return h.digest('hex').slice(0, 16);
}

/** Loads the addon in a child process and checks sgemm; the detail is facts() as JSON, or the error. */
export function verifyNative(addon: string): { ok: boolean; detail: string } {
  if (!existsSync(addon)) return { ok: false, detail: `${addon} does not exist` };
  const r = spawnSync(process.execPath, ['-e', VERIFY_NATIVE_SCRIPT, addon], { encoding: 'utf8', env: { ...process.env, OPENBLAS_THREAD_TIMEOUT: '4' } });
  if (r.status === 0) return { ok: true, detail: r.stdout.trim().split('\n').pop() ?? '' };
  const err = (r.stderr || '').trim().split('\n');
  const line = err.find((l) => /Error/.test(l)) ?? err[err.length - 1] ?? `exit ${r.status ?? r.signal}`;
  return { ok: false, detail: line.trim() };
}

function readRecord(path: string): BuildRecord | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as BuildRecord;
  } catch {
    return null;
  }
}

/** Writes `content` (or copies `from`) to `to` via a temporary file in the same directory and a rename. */
function atomicWrite(to: string, content: { from: string } | { text: string }): void {
  mkdirSync(dirname(to), { recursive: true });
  const tmp = `${to}.tmp-${process.pid}`;
  try {
    if ('from' in content) copyFileSync(content.from, tmp);
    else writeFileSync(tmp, content.text);
    renameSync(tmp, to);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Runs one step; any failure becomes a SetupFailed that names it. */
function step<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SetupFailed) throw err;
    throw new SetupFailed(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function describeFacts(detail: string): string {
  try {
    const f = JSON.parse(detail) as { openblas?: string; threads?: number; avx2?: boolean };
    return `${f.openblas ?? '?'}; ${f.avx2 ? 'AVX2/FMA' : 'no AVX2'}; ${f.threads ?? '?'} threads`;
  } catch {
    return detail;
  }
}

/** Runs the setup; resolves with the exit code, or rejects with `SetupFailed`. */
export async function setupNative(options: SetupNativeOptions = {}): Promise<number> {
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  const plan = nativePlan(options.cwd ?? process.env.INIT_CWD ?? process.cwd());
  if ('error' in plan) throw new SetupFailed(plan.error);
  const recordPath = join(dirname(plan.target), RECORD);

  // ---- 1. Already built from these sources, and working? ----
  const v = verifyNative(plan.target);
  const record = readRecord(recordPath);
  const current = buildKey(plan.sources, nativeSettings());
  const stale = record !== null && record.key !== current;
  if (options.check) {
    if (!v.ok) throw new SetupFailed(`the native addon does not work for seqrec in ${plan.seqrec}: ${v.detail}. Run: seqrec setup native`);
    if (stale)
      throw new SetupFailed(`${plan.target} works but was built from other sources or settings (key ${record.key}, now ${current}). Run: seqrec setup native`);
    say(`${plan.target} works (${describeFacts(v.detail)}); sgemm verified${record ? '' : '; no build record (built by hand?)'}.`);
    say(`facts(): ${v.detail}`);
    return 0;
  }
  if (v.ok && record?.key === current && !options.force) {
    say(`${plan.target} is built from these sources and works (${describeFacts(v.detail)}); sgemm verified. Nothing to do.`);
    return 0;
  }
  const why = options.force ? '--force' : !v.ok ? v.detail : record ? 'built from other sources or settings' : 'no build record (built by hand?)';
  say(`setting up the native addon for seqrec in ${plan.seqrec} (${why}).`);
  if (!isDebian()) {
    throw new SetupFailed(
      'building the native addon is only automated on Debian/Ubuntu (apt package libopenblas-dev); elsewhere seqrec uses its WebAssembly kernels.',
    );
  }
  step('checking system packages', () => ensureSystem({ packages: APT_PACKAGES, tools: TOOLS, command: 'seqrec setup native' }, say));
  const settings = nativeSettings();
  if (!settings.blasInclude)
    throw new SetupFailed('finding OpenBLAS failed: no cblas.h declaring openblas_get_config under /usr/include (libopenblas-dev installed?)');
  const key = buildKey(plan.sources, settings);
  const cacheDir = join(cacheBase(), 'native', key);

  // ---- 2. Cache ----
  if (!options.noCache && !options.force && existsSync(join(cacheDir, ADDON))) {
    step(`installing the cached build ${cacheDir}`, () =>
      install(join(cacheDir, ADDON), plan, { ...settings, key, recipe: RECIPE, builtAt: new Date().toISOString() }),
    );
    const c = verifyNative(plan.target);
    if (c.ok) {
      say(`installed cached build ${cacheDir} -> ${plan.target}.`);
      say(`verified: sgemm matches JavaScript (${describeFacts(c.detail)}); facts(): ${c.detail}. Done in ${elapsed()}.`);
      return 0;
    }
    say(`the cached build does not work (${c.detail}); rebuilding`);
    rmSync(cacheDir, { recursive: true, force: true });
  }

  // ---- 3. Build ----
  build(plan, settings, key, options.noCache ? undefined : cacheDir, say);
  const b = verifyNative(plan.target);
  if (!b.ok) throw new SetupFailed(`verifying the built addon ${plan.target} failed: ${b.detail}`);
  say(`verified: sgemm matches JavaScript (${describeFacts(b.detail)}); facts(): ${b.detail}. Done in ${elapsed()}.`);
  return 0;
}

/** Puts the addon and its record in place; each is renamed over the old one, never half-written. */
function install(addon: string, plan: NativePlan, record: BuildRecord): void {
  const recordPath = join(dirname(plan.target), RECORD);
  // The old record goes first: an interrupted install then reads as "no record", not as current.
  rmSync(recordPath, { force: true });
  atomicWrite(plan.target, { from: addon });
  atomicWrite(recordPath, { text: JSON.stringify(record, null, 2) + '\n' });
}

function build(plan: NativePlan, settings: NativeSettings, key: string, cacheDir: string | undefined, say: (line: string) => void): void {
  const work = mkdtempSync(join(tmpdir(), 'seqrec-native-'));
  try {
    const files = nativeSources(plan.sources);
    step(`copying ${plan.sources} to ${work}`, () => {
      for (const f of files) copyFileSync(join(plan.sources, f), join(work, f));
    });
    const gyp = nodeGyp();
    const args = [
      'rebuild',
      '-j',
      String(Math.max(1, availableParallelism())),
      ...(gyp.nodedir ? [`--nodedir=${gyp.nodedir}`] : []),
      '--',
      `-Dseqrec_arch_flags=${settings.archFlags}`,
      `-Dseqrec_blas_include=${settings.blasInclude}`,
    ];
    say(
      `compiling ${files.filter((f) => f.endsWith('.c')).join(', ')} (arch flags '${settings.archFlags}', cblas.h from ${settings.blasInclude}, ` +
        `libopenblas-dev ${settings.openblas}, Node ABI ${settings.abi}); node-gyp ${gyp.script ?? '(npx)'}${gyp.nodedir ? `, headers ${gyp.nodedir}/include/node` : ''}`,
    );
    const tBuild = Date.now();
    step('compiling with node-gyp', () => run(...gyp.argv(args), { quiet: true, cwd: work }));
    say(`compiled in ${((Date.now() - tBuild) / 1000).toFixed(1)} s`);
    const built = join(work, 'build', 'Release', ADDON);
    if (!existsSync(built)) throw new SetupFailed(`compiling with node-gyp failed: it exited 0 but produced no ${built}`);
    const record: BuildRecord = { ...settings, key, recipe: RECIPE, builtAt: new Date().toISOString() };
    // Checked before it replaces anything: a build that does not load leaves the old addon alone.
    const pre = verifyNative(built);
    if (!pre.ok) throw new SetupFailed(`verifying the freshly built addon failed: ${pre.detail}`);
    if (cacheDir) {
      step(`writing the cache ${cacheDir}`, () => {
        const tmp = `${cacheDir}.tmp-${process.pid}`;
        rmSync(tmp, { recursive: true, force: true });
        mkdirSync(tmp, { recursive: true });
        copyFileSync(built, join(tmp, ADDON));
        writeFileSync(join(tmp, RECORD), JSON.stringify(record, null, 2) + '\n');
        rmSync(cacheDir, { recursive: true, force: true });
        renameSync(tmp, cacheDir);
      });
    }
    step(`installing into ${dirname(plan.target)}`, () => install(built, plan, record));
    say(`installed ${plan.target}${cacheDir ? `; cached in ${cacheDir}` : ''}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
