#!/usr/bin/env node
// Makes `require('faiss-node')` work for this project: `npm run setup:faiss`.
//
// faiss-node is seqrec's OPTIONAL faiss binding, declared in package.json `optionalDependencies`
// (^0.5.1). Measured on this machine kind (npm 11, no GitHub access) before choosing:
//   - `npm ci` / `npm install` run faiss-node's install script (prebuild-install, then
//     `git clone` faiss); both fail fast here (connection refused: ~0.3 s), npm tolerates the
//     failure of an optional dependency (exit 0, no message at the default log level) and removes
//     faiss-node and its 38 dependencies again. A fresh clone's `npm ci` therefore works and ends
//     without faiss-node; this script then puts a working one in place.
//   - Once this script has installed faiss-node 0.5.1, a later plain `npm install` or
//     `npm install <pkg>` keeps it (it matches the lockfile). With the alternative, an optional
//     peer dependency, npm treats it as extraneous and prunes it on every `npm install`.
//   - A user on an open network gets the prebuilt binary with a plain `npm install seqrec`;
//     `npm install --omit=optional` skips it.
//   Costs: package-lock.json locks faiss-node's 39 packages (prebuild-install and friends); on a
//   network that silently drops GitHub traffic instead of refusing it, the install script waits
//   for its timeouts; on a platform without a prebuilt binary but with GitHub access, it tries to
//   build faiss from source (cmake), which is faiss-node's own behaviour.
//   `npm ci` always deletes node_modules, so run this script after it (.ci/run does); from the
//   cache (below) that takes well under a second.
//
// What this script does, stopping at the first step that succeeds:
//   1. If `require('faiss-node')` already works from the project root (a search on a small
//      IndexFlatIP checked against brute force), it says so and exits 0.
//   2. If a build of faiss-node for this machine is cached (~/.cache/seqrec/faiss-node/<key>,
//      or $SEQREC_CACHE_DIR), it copies it into node_modules/faiss-node and verifies it.
//   3. Otherwise it builds one (Linux with apt only):
//      a. Debian packages libfaiss-dev (faiss 1.7.3 on bookworm: static libfaiss.a + headers),
//         libopenblas-dev (a fast BLAS/LAPACK for it), g++, make, python3 (for node-gyp): when
//         missing, they are installed with apt-get if running as root; otherwise the script
//         prints the one apt-get line to run and exits 2.
//      b. `npm pack` faiss-node@0.5.1 and the packages its build and loader need
//         (node-addon-api, bindings, file-uri-to-path) from the npm registry into a temp dir.
//      c. Compiles faiss-node's own src/faiss.cc with node-gyp (npm's bundled one) against the
//         system libfaiss.a: a generated binding.gyp (C++17, OpenMP, libfaiss.a linked
//         whole-archive, -lblas -llapack), and for faiss < 1.7.4 a force-included one-line
//         header making `faiss::idx_t` visible (1.7.3 only has `faiss::Index::idx_t`).
//         node-addon-api 8 is used with NODE_ADDON_API_CPP_EXCEPTIONS_ALL, so a faiss error
//         inside train/add/search becomes a JavaScript exception instead of aborting Node.
//      d. Assembles node_modules/faiss-node: faiss-node's package.json (its install script
//         removed, so `npm rebuild` cannot try to download again), lib/, the built
//         build/Release/faiss-node.node, and bindings + file-uri-to-path under its own
//         node_modules. Caches it for step 2 and verifies it.
//   Nothing from faiss-node's sources is kept in this repository.
//
// Flags: --force (rebuild even if faiss-node works), --check (only verify; exit 1 if broken),
//        --no-cache (neither read nor write the cache).
// Exit codes: 0 works, 1 failed, 2 system packages missing and not root (the command to run
// is printed).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir, availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const FAISS_NODE_VERSION = '0.5.1';
/** Build-time headers. 8.x adds NODE_ADDON_API_CPP_EXCEPTIONS_ALL; faiss.cc compiles unchanged. */
const NODE_ADDON_API_VERSION = '8.5.0';
/** faiss-node's runtime dependencies (lib/index.js loads the addon with `bindings`). */
const RUNTIME_DEPS = { bindings: '1.5.0', 'file-uri-to-path': '1.0.0' };
/** Bump when the build recipe changes, so cached builds are not reused. */
const RECIPE = 1;
const APT_PACKAGES = ['libfaiss-dev', 'libopenblas-dev'];
const TOOLS = { 'g++': 'g++', make: 'make', python3: 'python3' };

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'node_modules', 'faiss-node');
const args = new Set(process.argv.slice(2));
const t0 = Date.now();

function say(msg) {
  console.log(`[setup:faiss] ${msg}`);
}
function elapsed() {
  return `${((Date.now() - t0) / 1000).toFixed(1)} s`;
}
function fail(msg, code = 1) {
  console.error(`[setup:faiss] ERROR: ${msg}`);
  process.exit(code);
}
function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: opts.quiet ? 'pipe' : 'inherit', encoding: 'utf8', ...opts });
  if (r.error) throw new Error(`${cmd} could not be run: ${r.error.message}`);
  if (r.status !== 0) {
    const out = opts.quiet ? `\n${(r.stdout ?? '').slice(-4000)}${(r.stderr ?? '').slice(-4000)}` : '';
    throw new Error(`${cmd} ${argv.join(' ')} exited with ${r.status ?? r.signal}${out}`);
  }
  return r.stdout ?? '';
}

/**
 * Loads faiss-node the way the project would (resolved from the project root) in a child
 * process, so a broken addon cannot take this script down, and checks an IndexFlatIP search
 * against brute force. Returns { ok, detail }.
 */
function verify() {
  const code = `
    const { createRequire } = require('node:module');
    const req = createRequire(${JSON.stringify(join(root, 'package.json'))});
    const where = req.resolve('faiss-node');
    const faiss = req('faiss-node');
    const d = 16, n = 1000, nq = 5, k = 10;
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    const xb = Array.from({ length: n * d }, rnd), xq = Array.from({ length: nq * d }, rnd);
    const index = new faiss.IndexFlatIP(d);
    index.add(xb);
    if (index.ntotal() !== n || index.getDimension() !== d) throw new Error('ntotal/getDimension wrong');
    const { labels, distances } = index.search(xq, k);
    for (let q = 0; q < nq; q++) {
      const s = [];
      for (let i = 0; i < n; i++) { let t = 0; for (let j = 0; j < d; j++) t += xb[i * d + j] * xq[q * d + j]; s.push([i, t]); }
      s.sort((a, b) => b[1] - a[1]);
      for (let r = 0; r < k; r++) {
        if (labels[q * k + r] !== s[r][0] || Math.abs(distances[q * k + r] - s[r][1]) > 1e-4)
          throw new Error('search result differs from brute force at query ' + q + ', rank ' + r);
      }
    }
    const back = faiss.Index.fromBuffer(index.toBuffer());
    if (back.ntotal() !== n) throw new Error('toBuffer/fromBuffer round trip lost vectors');
    console.log(where);
  `;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8' });
  if (r.status === 0) return { ok: true, detail: r.stdout.trim() };
  const err = (r.stderr || '').trim().split('\n');
  const line = err.find((l) => /Error|Cannot find/.test(l)) ?? err[err.length - 1] ?? `exit ${r.status ?? r.signal}`;
  return { ok: false, detail: line.trim() };
}

function installedVersion() {
  try {
    return JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')).version ?? '?';
  } catch {
    return null;
  }
}

// ---- 1. Already working? ----
{
  const v = verify();
  if (args.has('--check')) {
    if (v.ok) {
      say(`faiss-node ${installedVersion() ?? ''} works (${v.detail}); IndexFlatIP search verified.`);
      process.exit(0);
    }
    fail(`faiss-node does not work: ${v.detail}. Run: npm run setup:faiss`);
  }
  if (v.ok && !args.has('--force')) {
    say(`faiss-node ${installedVersion() ?? ''} already works (${v.detail}); IndexFlatIP search verified. Nothing to do.`);
    process.exit(0);
  }
  say(v.ok ? 'faiss-node works, but --force: rebuilding.' : `faiss-node does not load here (${v.detail}).`);
}

if (process.platform !== 'linux' || !existsSync('/usr/bin/dpkg-query')) {
  fail(
    'building faiss-node from source is only automated on Debian/Ubuntu. On a machine that can reach GitHub, ' +
      `\`npm install faiss-node@${FAISS_NODE_VERSION}\` downloads a prebuilt binary instead.`,
  );
}

// ---- 2a. System packages ----
function dpkgInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status} ${Version}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.startsWith('install ok installed') ? r.stdout.split(' ').pop() : null;
}
function hasTool(tool) {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}
{
  const missing = APT_PACKAGES.filter((p) => !dpkgInstalled(p));
  for (const [tool, pkg] of Object.entries(TOOLS)) if (!hasTool(tool)) missing.push(pkg);
  if (missing.length > 0) {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
      const line = `sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`;
      fail(`missing system packages: ${missing.join(', ')}. Install them with:\n  ${line}\nthen run \`npm run setup:faiss\` again.`, 2);
    }
    say(`installing system packages: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Wait for another apt/dpkg run (unattended upgrades, a parallel install) instead of failing.
    const lock = ['-o', 'DPkg::Lock::Timeout=600'];
    const apt = [...lock, 'install', '-y', '--no-install-recommends', ...missing];
    try {
      run('apt-get', apt, { env });
    } catch {
      say('apt-get install failed; running apt-get update and retrying');
      run('apt-get', [...lock, 'update'], { env });
      run('apt-get', apt, { env });
    }
  }
}

const faissVersion = dpkgInstalled('libfaiss-dev');
const faissHeaderDir = '/usr/include/faiss';
const libfaiss = (() => {
  const list = spawnSync('dpkg-query', ['-L', 'libfaiss-dev'], { encoding: 'utf8' }).stdout ?? '';
  return list.split('\n').find((l) => l.endsWith('/libfaiss.a'));
})();
if (!libfaiss || !existsSync(libfaiss) || !existsSync(join(faissHeaderDir, 'Index.h'))) {
  fail(`libfaiss-dev ${faissVersion} does not provide libfaiss.a and ${faissHeaderDir}/Index.h as expected`);
}
const faissHeaderVersion = (() => {
  const h = readFileSync(join(faissHeaderDir, 'Index.h'), 'utf8');
  const v = ['MAJOR', 'MINOR', 'PATCH'].map((p) => Number(new RegExp(`FAISS_VERSION_${p}\\s+(\\d+)`).exec(h)?.[1] ?? NaN));
  return v.some(Number.isNaN) ? null : v;
})();
const blas = dpkgInstalled('libopenblas-dev') ? 'OpenBLAS' : 'system BLAS';

// ---- 2. Cache ----
const cacheKey = createHash('sha256')
  .update(JSON.stringify([RECIPE, FAISS_NODE_VERSION, NODE_ADDON_API_VERSION, RUNTIME_DEPS, faissVersion, process.arch, blas]))
  .digest('hex')
  .slice(0, 16);
const cacheBase = process.env.SEQREC_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'seqrec');
const cacheDir = join(cacheBase, 'faiss-node', `${FAISS_NODE_VERSION}-${cacheKey}`);
const useCache = !args.has('--no-cache') && !args.has('--force');

function installFrom(staged) {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.seqrec-tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(staged, tmp, { recursive: true });
  rmSync(target, { recursive: true, force: true });
  renameSync(tmp, target);
}

if (useCache && existsSync(join(cacheDir, 'build', 'Release', 'faiss-node.node'))) {
  installFrom(cacheDir);
  const v = verify();
  if (v.ok) {
    say(`installed cached build ${cacheDir} -> ${target} (faiss ${faissVersion}, ${blas}).`);
    say(`verified: require('faiss-node') loads and IndexFlatIP search matches brute force. Done in ${elapsed()}.`);
    process.exit(0);
  }
  say(`cached build did not work (${v.detail}); rebuilding`);
  rmSync(cacheDir, { recursive: true, force: true });
}

// ---- 3b. Sources from the npm registry ----
const work = mkdtempSync(join(tmpdir(), 'seqrec-faiss-'));
try {
  const specs = [
    `faiss-node@${FAISS_NODE_VERSION}`,
    `node-addon-api@${NODE_ADDON_API_VERSION}`,
    ...Object.entries(RUNTIME_DEPS).map(([n, v]) => `${n}@${v}`),
  ];
  say(`npm pack ${specs.join(' ')} (into ${work})`);
  const npmCli = process.env.npm_execpath && process.env.npm_execpath.endsWith('.js') ? process.env.npm_execpath : null;
  const packOut = npmCli
    ? run(process.execPath, [npmCli, 'pack', '--json', '--pack-destination', work, ...specs], { quiet: true, cwd: work })
    : run('npm', ['pack', '--json', '--pack-destination', work, ...specs], { quiet: true, cwd: work });
  const packed = JSON.parse(packOut);
  const unpack = (name) => {
    const entry = packed.find((p) => p.name === name);
    if (!entry) throw new Error(`npm pack did not produce ${name}`);
    const dir = join(work, 'unpacked', name);
    mkdirSync(dir, { recursive: true });
    run('tar', ['xzf', join(work, entry.filename), '-C', dir, '--strip-components=1'], { quiet: true });
    return dir;
  };
  const pkgDir = unpack('faiss-node');
  const napiDir = unpack('node-addon-api');
  const depDirs = Object.keys(RUNTIME_DEPS).map((n) => [n, unpack(n)]);

  // ---- 3c. Build ----
  const needShim = faissHeaderVersion !== null && (faissHeaderVersion[0] < 1 || (faissHeaderVersion[0] === 1 && (faissHeaderVersion[1] < 7 || (faissHeaderVersion[1] === 7 && faissHeaderVersion[2] < 4))));
  const cflags = ['-std=c++17', '-fexceptions', '-frtti', '-fopenmp'];
  if (needShim) {
    writeFileSync(
      join(pkgDir, 'seqrec-idx_t.h'),
      '// faiss < 1.7.4 defines idx_t only inside faiss::Index; faiss-node 0.5.1 uses faiss::idx_t.\n' +
        '#include <faiss/Index.h>\nnamespace faiss { using idx_t = Index::idx_t; }\n',
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
        libraries: ['-Wl,--whole-archive', libfaiss, '-Wl,--no-whole-archive', '-lblas', '-llapack', '-fopenmp'],
      },
    ],
  };
  writeFileSync(join(pkgDir, 'binding.gyp'), JSON.stringify(gyp, null, 2) + '\n');

  const nodeGyp = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ].find((p) => p && existsSync(p));
  const nodedir = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')].find(
    (d) => d && existsSync(join(d, 'include', 'node', 'node_api.h')),
  );
  const gypArgs = ['rebuild', `-j`, String(Math.max(1, availableParallelism())), ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  say(
    `compiling faiss-node ${FAISS_NODE_VERSION} (src/faiss.cc) against ${libfaiss} (faiss ${faissVersion}, ${blas})` +
      `${needShim ? ' with the faiss::idx_t shim' : ''}; node-gyp ${nodeGyp ?? '(npx)'}${nodedir ? `, headers ${nodedir}/include/node` : ''}`,
  );
  const tBuild = Date.now();
  if (nodeGyp) run(process.execPath, [nodeGyp, ...gypArgs], { quiet: true, cwd: pkgDir });
  else run('npx', ['--yes', 'node-gyp@11', ...gypArgs], { quiet: true, cwd: pkgDir });
  say(`compiled in ${((Date.now() - tBuild) / 1000).toFixed(1)} s`);

  // ---- 3d. Assemble ----
  const staged = join(work, 'staged');
  mkdirSync(join(staged, 'build', 'Release'), { recursive: true });
  for (const f of ['lib', 'LICENSE', 'README.md']) if (existsSync(join(pkgDir, f))) cpSync(join(pkgDir, f), join(staged, f), { recursive: true });
  cpSync(join(pkgDir, 'build', 'Release', 'faiss-node.node'), join(staged, 'build', 'Release', 'faiss-node.node'));
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  // Only what is shipped: the install script (prebuild-install / git clone) and the build-time
  // dependencies would make npm try to fetch or rebuild them.
  delete manifest.scripts;
  delete manifest.devDependencies;
  manifest.dependencies = { bindings: `^${RUNTIME_DEPS.bindings}` };
  manifest.gypfile = false;
  manifest.seqrecBuild = {
    note: 'Built from the npm tarball by seqrec scripts/setup-faiss.mjs against the system libfaiss; the install script is removed.',
    faiss: faissVersion,
    blas,
    nodeAddonApi: NODE_ADDON_API_VERSION,
    recipe: RECIPE,
    builtAt: new Date().toISOString(),
  };
  writeFileSync(join(staged, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  for (const [name, dir] of depDirs) cpSync(dir, join(staged, 'node_modules', name), { recursive: true });

  if (!args.has('--no-cache')) {
    rmSync(cacheDir, { recursive: true, force: true });
    mkdirSync(dirname(cacheDir), { recursive: true });
    cpSync(staged, cacheDir, { recursive: true });
  }
  installFrom(staged);
  say(`installed ${target} (package.json, lib/, build/Release/faiss-node.node, node_modules/{${Object.keys(RUNTIME_DEPS).join(',')}})` + (args.has('--no-cache') ? '' : `; cached in ${cacheDir}`));
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
} finally {
  rmSync(work, { recursive: true, force: true });
}

const v = verify();
if (!v.ok) fail(`the built faiss-node does not work: ${v.detail}`);
say(`verified: require('faiss-node') loads (${v.detail}) and IndexFlatIP search matches brute force. Done in ${elapsed()}.`);
