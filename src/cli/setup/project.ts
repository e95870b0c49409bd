/**
 * Where `seqrec setup` installs: the project that depends on seqrec (the consumer's root, or a
 * clone of seqrec itself), and the seqrec copy of that project whose `require('faiss-node')`
 * must work afterwards (faiss), or that the native addon is built into (native).
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, parse, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

function packageName(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name as string | undefined;
  } catch {
    return undefined;
  }
}

const insideNodeModules = (dir: string) => dir.split(sep).includes('node_modules');

/**
 * The project root for a command started in `start` (npm's INIT_CWD, else the working
 * directory): the nearest directory with a package.json that is not inside node_modules, so
 * running from `app/node_modules/seqrec` or `app/src` both give `app`.
 */
export function projectRoot(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (!insideNodeModules(dir) && existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir || dir === parse(dir).root) return undefined;
    dir = up;
  }
}

/** The seqrec package this module belongs to (the clone, or `node_modules/seqrec`). */
export function runningSeqrec(moduleUrl: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    if (packageName(dir) === 'seqrec') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no seqrec package.json above ${fileURLToPath(moduleUrl)}`);
    dir = up;
  }
}

/** The seqrec that `root` uses: itself when it is seqrec, else the one it resolves. */
export function projectSeqrec(root: string): string | undefined {
  if (packageName(root) === 'seqrec') return realpathSync(root);
  try {
    return dirname(realpathSync(createRequire(join(root, 'package.json')).resolve('seqrec/package.json')));
  } catch {
    return undefined;
  }
}

/** Whether `require('faiss-node')` from seqrec in `seqrecDir` looks in `nodeModules` (Node resolves from the real path). */
export function resolvesFrom(seqrecDir: string, nodeModules: string): boolean {
  const paths = createRequire(join(seqrecDir, 'package.json')).resolve.paths('faiss-node') ?? [];
  const want = existsSync(nodeModules) ? realpathSync(nodeModules) : resolve(nodeModules);
  return paths.some((p) => resolve(p) === want || (existsSync(p) && realpathSync(p) === want));
}

export interface InstallPlan {
  /** The consumer's project root. */
  root: string;
  /** Where faiss-node goes: `<root>/node_modules/faiss-node`. */
  target: string;
  /** The seqrec whose `require('faiss-node')` is verified. */
  seqrec: string;
}

/**
 * The plan for `seqrec setup faiss` started in `start`, or an explanation of why seqrec would
 * not find a faiss-node installed there.
 */
export function installPlan(start: string, running: string = runningSeqrec()): InstallPlan | { error: string } {
  const root = projectRoot(start);
  if (!root) return { error: `no package.json in ${start} or above: run this from your project (the one whose node_modules holds seqrec)` };
  const seqrec = projectSeqrec(root) ?? realpathSync(running);
  const nodeModules = join(root, 'node_modules');
  if (!resolvesFrom(seqrec, nodeModules)) {
    return {
      error: `seqrec in ${seqrec} does not look for packages in ${nodeModules}, so a faiss-node installed there would not be found; run this from the project that has seqrec installed (npm install seqrec), not a linked or global copy`,
    };
  }
  return { root, target: join(nodeModules, 'faiss-node'), seqrec };
}

export interface NativePlan {
  /** The project root, when there is one (the addon does not go there). */
  root: string | undefined;
  /** The seqrec package the addon is built into, and whose loader must find it. */
  seqrec: string;
  /** `<seqrec>/native`: the C sources and binding.gyp. */
  sources: string;
  /** `<seqrec>/native/build/Release/seqrec_native.node`, where src/backend/native.ts loads it. */
  target: string;
}

/**
 * The plan for `seqrec setup native` started in `start`: the addon belongs to a seqrec package
 * (its loader looks next to itself), so it goes into the seqrec the project resolves, else the
 * running one (a clone, or a command started outside any project).
 */
export function nativePlan(start: string, running: string = runningSeqrec()): NativePlan | { error: string } {
  const root = projectRoot(start);
  const seqrec = (root && projectSeqrec(root)) ?? realpathSync(running);
  const sources = join(seqrec, 'native');
  if (!existsSync(join(sources, 'binding.gyp'))) {
    return { error: `seqrec in ${seqrec} has no native/binding.gyp: this version of seqrec ships no native sources to build` };
  }
  return { root, seqrec, sources, target: join(sources, 'build', 'Release', 'seqrec_native.node') };
}
