/**
 * `seqrec setup faiss` (and `npm run setup:faiss` in a clone): makes `require('faiss-node')`
 * work for the seqrec of the project it is run from.
 *
 * faiss-node is seqrec's OPTIONAL faiss binding (`optionalDependencies`, ^0.5.1). Its own
 * install script (prebuild-install, then `git clone` faiss) fails without GitHub access, and
 * npm then silently drops it. This puts a working one in place, stopping at the first step
 * that succeeds:
 *   1. If `require('faiss-node')` resolved the way the project's seqrec resolves it already
 *      works (an IndexFlatIP search checked against brute force), it says so.
 *   2. If a build for this machine is cached (~/.cache/seqrec/faiss-node/<key>, or
 *      $SEQREC_CACHE_DIR), it copies it into <project>/node_modules/faiss-node and verifies it.
 *   3. Otherwise it builds one (Debian/Ubuntu only): apt packages libfaiss-dev and
 *      libopenblas-dev (installed when root, else the apt-get line is printed, exit 2); `npm
 *      pack` of faiss-node and the packages its build and loader need; faiss-node's
 *      src/faiss.cc compiled with npm's node-gyp against the static libfaiss.a (C++17, OpenMP,
 *      NODE_ADDON_API_CPP_EXCEPTIONS_ALL so a faiss error becomes a JavaScript exception; for
 *      faiss < 1.7.4 a force-included header makes `faiss::idx_t` visible; typed-array
 *      searchTyped/addTyped/trainTyped and setOmpThreads added, faiss-typed.ts); the package
 *      assembled without its install script, cached for step 2, installed and verified.
 * The project is the consumer's (INIT_CWD or the working directory, walked up to its
 * package.json), never seqrec's own folder inside node_modules. docs/retrieval.md has the
 * measurements behind these choices.
 *
 * Flags: --force (rebuild even if faiss-node works), --check (only verify; exit 1 if broken),
 * --no-cache (neither read nor write the cache). Exit codes: 0 works, 1 failed, 2 system
 * packages missing and not root.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { installPlan, type InstallPlan } from './project.js';
import { patchFaissSource } from './faiss-typed.js';
import { cacheBase, dpkgFiles, dpkgInstalled, ensureSystem, isDebian, nodeGyp, run, SetupFailed } from './system.js';
import { VERIFY_SCRIPT } from './verify-faiss.js';

const FAISS_NODE_VERSION = '0.5.1';
/** Build-time headers. 8.x adds NODE_ADDON_API_CPP_EXCEPTIONS_ALL; faiss.cc compiles unchanged. */
const NODE_ADDON_API_VERSION = '8.5.0';
/** faiss-node's runtime dependencies (lib/index.js loads the addon with `bindings`). */
const RUNTIME_DEPS = { bindings: '1.5.0', 'file-uri-to-path': '1.0.0' };
/** Bump when the build recipe changes, so cached builds are not reused. */
const RECIPE = 2;
const APT_PACKAGES = ['libfaiss-dev', 'libopenblas-dev'];
const TOOLS = { 'g++': 'g++', make: 'make', python3: 'python3' };

export interface SetupFaissOptions {
  force?: boolean;
  check?: boolean;
  noCache?: boolean;
  /** Where the command was started (default: INIT_CWD, else the working directory). */
  cwd?: string;
  /** Progress lines (default: stdout). */
  say?: (line: string) => void;
}

export { SetupFailed };

/**
 * Loads faiss-node in a child process (a broken addon cannot take this one down), resolved
 * from `seqrecDir` as seqrec's own `createRequire(import.meta.url)` does, and checks a search.
 */
export function verifyFaiss(seqrecDir: string): { ok: boolean; detail: string } {
  const r = spawnSync(process.execPath, ['-e', VERIFY_SCRIPT, join(seqrecDir, 'package.json')], { cwd: seqrecDir, encoding: 'utf8' });
  if (r.status === 0) return { ok: true, detail: r.stdout.trim() };
  const err = (r.stderr || '').trim().split('\n');
  const line = err.find((l) => /Error|Cannot find/.test(l)) ?? err[err.length - 1] ?? `exit ${r.status ?? r.signal}`;
  return { ok: false, detail: line.trim() };
}

function installedVersion(target: string): string {
  try {
    return (JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '';
  }
}

/** Runs the setup; resolves with the exit code, or rejects with `SetupFailed`. */
export async function setupFaiss(options: SetupFaissOptions = {}): Promise<number> {
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  const start = options.cwd ?? process.env.INIT_CWD ?? process.cwd();
  const plan = installPlan(start);
  if ('error' in plan) throw new SetupFailed(plan.error);
  const { target, seqrec } = plan;

  // ---- 1. Already working, for this project's seqrec? ----
  const v = verifyFaiss(seqrec);
  if (options.check) {
    if (v.ok) {
      say(`faiss-node ${installedVersion(target)} works for seqrec in ${seqrec} (${v.detail}); IndexFlatIP search verified.`);
      return 0;
    }
    throw new SetupFailed(`faiss-node does not work for seqrec in ${seqrec}: ${v.detail}. Run: seqrec setup faiss`);
  }
  // A faiss-node from elsewhere (npm's prebuilt binary, an older recipe) works but lacks the
  // typed-array batch search, which makes batch queries several times slower: replaced where
  // seqrec can build its own (Debian), kept otherwise.
  const untyped = v.ok && v.detail.includes('no searchTyped');
  if (v.ok && !options.force && (!untyped || !isDebian())) {
    const note = untyped ? " It lacks seqrec's typed-array batch search (slower batch queries); seqrec builds its own only on Debian/Ubuntu." : '';
    say(`faiss-node ${installedVersion(target)} already works for seqrec in ${seqrec} (${v.detail}); IndexFlatIP search verified. Nothing to do.${note}`);
    return 0;
  }
  say(
    untyped && !options.force
      ? "faiss-node works but is not seqrec's build (no typed-array batch search): replacing it with seqrec's."
      : v.ok
        ? 'faiss-node works, but --force: rebuilding.'
        : `faiss-node does not load for seqrec in ${seqrec} (${v.detail}); installing into ${target}.`,
  );
  if (!isDebian()) {
    throw new SetupFailed(
      'building faiss-node from source is only automated on Debian/Ubuntu. On a machine that can reach GitHub, ' +
        `\`npm install faiss-node@${FAISS_NODE_VERSION}\` downloads a prebuilt binary instead.`,
    );
  }
  const system = systemPackages(say);
  const cacheKey = createHash('sha256')
    .update(JSON.stringify([RECIPE, FAISS_NODE_VERSION, NODE_ADDON_API_VERSION, RUNTIME_DEPS, system.faissVersion, process.arch, system.blas]))
    .digest('hex')
    .slice(0, 16);
  const cacheDir = join(cacheBase(), 'faiss-node', `${FAISS_NODE_VERSION}-${cacheKey}`);

  // ---- 2. Cache ----
  if (!options.noCache && !options.force && existsSync(join(cacheDir, 'build', 'Release', 'faiss-node.node'))) {
    installFrom(cacheDir, target);
    const c = verifyFaiss(seqrec);
    if (c.ok) {
      say(`installed cached build ${cacheDir} -> ${target} (faiss ${system.faissVersion}, ${system.blas}).`);
      say(`verified: require('faiss-node') from seqrec in ${seqrec} loads (${c.detail}) and IndexFlatIP search matches brute force. Done in ${elapsed()}.`);
      return 0;
    }
    say(`cached build did not work (${c.detail}); rebuilding`);
    rmSync(cacheDir, { recursive: true, force: true });
  }

  // ---- 3. Build ----
  buildInto(plan, system, options.noCache ? undefined : cacheDir, say);
  const b = verifyFaiss(seqrec);
  if (!b.ok) throw new SetupFailed(`the built faiss-node in ${target} does not work for seqrec in ${seqrec}: ${b.detail}`);
  say(`verified: require('faiss-node') from seqrec in ${seqrec} loads (${b.detail}) and IndexFlatIP search matches brute force. Done in ${elapsed()}.`);
  return 0;
}

function installFrom(staged: string, target: string): void {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.seqrec-tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(staged, tmp, { recursive: true });
  rmSync(target, { recursive: true, force: true });
  renameSync(tmp, target);
}

interface SystemLibs {
  faissVersion: string | null;
  libfaiss: string;
  headerVersion: number[] | null;
  blas: string;
}

/** 3a. libfaiss-dev, libopenblas-dev and the build tools; installed with apt-get when root. */
function systemPackages(say: (line: string) => void): SystemLibs {
  ensureSystem({ packages: APT_PACKAGES, tools: TOOLS, command: 'seqrec setup faiss' }, say);
  const faissVersion = dpkgInstalled('libfaiss-dev');
  const headerDir = '/usr/include/faiss';
  const libfaiss = dpkgFiles('libfaiss-dev').find((l) => l.endsWith('/libfaiss.a'));
  if (!libfaiss || !existsSync(libfaiss) || !existsSync(join(headerDir, 'Index.h'))) {
    throw new SetupFailed(`libfaiss-dev ${faissVersion} does not provide libfaiss.a and ${headerDir}/Index.h as expected`);
  }
  const h = readFileSync(join(headerDir, 'Index.h'), 'utf8');
  const v = ['MAJOR', 'MINOR', 'PATCH'].map((p) => Number(new RegExp(`FAISS_VERSION_${p}\\s+(\\d+)`).exec(h)?.[1] ?? NaN));
  return { faissVersion, libfaiss, headerVersion: v.some(Number.isNaN) ? null : v, blas: dpkgInstalled('libopenblas-dev') ? 'OpenBLAS' : 'system BLAS' };
}

/** npm itself: npm's CLI script when running under npm (not npx's), else `npm` on PATH. */
function npmCommand(): [string, string[]] {
  const cli = process.env.npm_execpath;
  return cli && basename(cli) === 'npm-cli.js' ? [process.execPath, [cli]] : ['npm', []];
}

/** 3b-3d: sources from the registry, compile, assemble, cache, install. */
function buildInto(plan: InstallPlan, system: SystemLibs, cacheDir: string | undefined, say: (line: string) => void): void {
  const work = mkdtempSync(join(tmpdir(), 'seqrec-faiss-'));
  try {
    const specs = [
      `faiss-node@${FAISS_NODE_VERSION}`,
      `node-addon-api@${NODE_ADDON_API_VERSION}`,
      ...Object.entries(RUNTIME_DEPS).map(([n, v]) => `${n}@${v}`),
    ];
    say(`npm pack ${specs.join(' ')} (into ${work})`);
    const [npm, npmArgs] = npmCommand();
    const packed = JSON.parse(run(npm, [...npmArgs, 'pack', '--json', '--pack-destination', work, ...specs], { quiet: true, cwd: work })) as {
      name: string;
      filename: string;
    }[];
    const unpack = (name: string) => {
      const entry = packed.find((p) => p.name === name);
      if (!entry) throw new Error(`npm pack did not produce ${name}`);
      const dir = join(work, 'unpacked', name);
      mkdirSync(dir, { recursive: true });
      run('tar', ['xzf', join(work, entry.filename), '-C', dir, '--strip-components=1'], { quiet: true });
      return dir;
    };
    const pkgDir = unpack('faiss-node');
    // Typed-array search/add (recipe 2): see faiss-typed.ts.
    const source = join(pkgDir, 'src', 'faiss.cc');
    writeFileSync(source, patchFaissSource(readFileSync(source, 'utf8')));
    const napiDir = unpack('node-addon-api');
    const depDirs = Object.keys(RUNTIME_DEPS).map((n) => [n, unpack(n)] as const);

    const hv = system.headerVersion;
    const needShim = hv !== null && (hv[0] < 1 || (hv[0] === 1 && (hv[1] < 7 || (hv[1] === 7 && hv[2] < 4))));
    const cflags = ['-std=c++17', '-fexceptions', '-frtti', '-fopenmp'];
    if (needShim) {
      writeFileSync(
        join(pkgDir, 'seqrec-idx_t.h'),
        '// faiss < 1.7.4 defines idx_t only inside faiss::Index; faiss-node 0.5.1 uses faiss::idx_t.\n#include <faiss/Index.h>\nnamespace faiss { using idx_t = Index::idx_t; }\n',
      );
      cflags.push('-include', '<(module_root_dir)/seqrec-idx_t.h');
    }
    const gyp = {
      targets: [
        {
          target_name: 'faiss-node',
          sources: ['src/faiss.cc'],
          include_dirs: [napiDir],
          defines: ['NAPI_VERSION=8', 'NODE_ADDON_API_CPP_EXCEPTIONS', 'NODE_ADDON_API_CPP_EXCEPTIONS_ALL'],
          'cflags!': ['-fno-exceptions', '-fno-rtti'],
          'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17', '-std=gnu++20'],
          cflags_cc: [...cflags, '-Wno-unused-but-set-variable', '-Wno-unused-variable'],
          libraries: ['-Wl,--whole-archive', system.libfaiss, '-Wl,--no-whole-archive', '-lblas', '-llapack', '-fopenmp'],
        },
      ],
    };
    writeFileSync(join(pkgDir, 'binding.gyp'), JSON.stringify(gyp, null, 2) + '\n');
    const gypTool = nodeGyp();
    const nodedir = gypTool.nodedir;
    const gypArgs = ['rebuild', '-j', String(Math.max(1, availableParallelism())), ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
    say(
      `compiling faiss-node ${FAISS_NODE_VERSION} (src/faiss.cc) against ${system.libfaiss} (faiss ${system.faissVersion}, ${system.blas})` +
        `${needShim ? ' with the faiss::idx_t shim' : ''}; node-gyp ${gypTool.script ?? '(npx)'}${nodedir ? `, headers ${nodedir}/include/node` : ''}`,
    );
    const tBuild = Date.now();
    run(...gypTool.argv(gypArgs), { quiet: true, cwd: pkgDir });
    say(`compiled in ${((Date.now() - tBuild) / 1000).toFixed(1)} s`);

    const staged = join(work, 'staged');
    mkdirSync(join(staged, 'build', 'Release'), { recursive: true });
    for (const f of ['lib', 'LICENSE', 'README.md']) if (existsSync(join(pkgDir, f))) cpSync(join(pkgDir, f), join(staged, f), { recursive: true });
    cpSync(join(pkgDir, 'build', 'Release', 'faiss-node.node'), join(staged, 'build', 'Release', 'faiss-node.node'));
    const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown>;
    // Only what is shipped: the install script (prebuild-install / git clone) and the build-time
    // dependencies would make npm try to fetch or rebuild them.
    delete manifest.scripts;
    delete manifest.devDependencies;
    manifest.dependencies = { bindings: `^${RUNTIME_DEPS.bindings}` };
    manifest.gypfile = false;
    manifest.seqrecBuild = {
      note: 'Built from the npm tarball by `seqrec setup faiss` against the system libfaiss; the install script is removed.',
      faiss: system.faissVersion,
      blas: system.blas,
      nodeAddonApi: NODE_ADDON_API_VERSION,
      recipe: RECIPE,
      builtAt: new Date().toISOString(),
    };
    writeFileSync(join(staged, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
    for (const [name, dir] of depDirs) cpSync(dir, join(staged, 'node_modules', name), { recursive: true });
    if (cacheDir) {
      rmSync(cacheDir, { recursive: true, force: true });
      mkdirSync(dirname(cacheDir), { recursive: true });
      cpSync(staged, cacheDir, { recursive: true });
    }
    installFrom(staged, plan.target);
    say(
      `installed ${plan.target} (package.json, lib/, build/Release/faiss-node.node, node_modules/{${Object.keys(RUNTIME_DEPS).join(',')}})${cacheDir ? `; cached in ${cacheDir}` : ''}`,
    );
  } catch (e) {
    if (e instanceof SetupFailed) throw e;
    throw new SetupFailed(e instanceof Error ? e.message : String(e));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
