/**
 * What `seqrec setup faiss` and `seqrec setup native` share: running a child process with its
 * output kept for the error, Debian packages and build tools (installed with apt-get when root,
 * else the apt-get line and exit 2), npm's own node-gyp and the Node headers, the build cache.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** A failure with the exit code it stands for (2: system packages missing). */
export class SetupFailed extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Runs a command; throws with its exit status (and, when quiet, the tail of its output). */
export function run(cmd: string, argv: string[], opts: SpawnSyncOptions & { quiet?: boolean } = {}): string {
  const r = spawnSync(cmd, argv, { stdio: opts.quiet ? 'pipe' : 'inherit', encoding: 'utf8', ...opts });
  if (r.error) throw new Error(`${cmd} could not be run: ${r.error.message}`);
  if (r.status !== 0) {
    const out = opts.quiet ? `\n${String(r.stdout ?? '').slice(-4000)}${String(r.stderr ?? '').slice(-4000)}` : '';
    throw new Error(`${cmd} ${argv.join(' ')} exited with ${r.status ?? r.signal}${out}`);
  }
  return String(r.stdout ?? '');
}

/** The installed version of a Debian package, or null. */
export function dpkgInstalled(pkg: string): string | null {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status} ${Version}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.startsWith('install ok installed') ? (r.stdout.split(' ').pop() ?? null) : null;
}

/** The files a Debian package installed (empty when it is not installed). */
export function dpkgFiles(pkg: string): string[] {
  const r = spawnSync('dpkg-query', ['-L', pkg], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [];
}

export function hasTool(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

export const isDebian = (): boolean => process.platform === 'linux' && existsSync('/usr/bin/dpkg-query');

export interface SystemNeeds {
  /** Debian packages that must be installed. */
  packages: readonly string[];
  /** Commands that must be on PATH, each with the Debian package that provides it. */
  tools: Readonly<Record<string, string>>;
  /** The command to run again afterwards, for the message (e.g. `seqrec setup native`). */
  command: string;
}

/** How the system is probed and changed; replaced in tests so nothing is installed. */
export interface SystemProbe {
  installed: (pkg: string) => boolean;
  hasTool: (tool: string) => boolean;
  isRoot: () => boolean;
  aptGet: (argv: string[]) => void;
}

const realProbe: SystemProbe = {
  installed: (pkg) => dpkgInstalled(pkg) !== null,
  hasTool,
  isRoot: () => typeof process.getuid === 'function' && process.getuid() === 0,
  aptGet: (argv) => void run('apt-get', argv, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }),
};

/**
 * Makes sure the packages and tools are there: installs what is missing with apt-get when
 * root; otherwise throws (exit code 2) with the one apt-get line to run.
 */
export function ensureSystem(needs: SystemNeeds, say: (line: string) => void, probe: SystemProbe = realProbe): void {
  const missing = needs.packages.filter((p) => !probe.installed(p));
  for (const [tool, pkg] of Object.entries(needs.tools)) if (!probe.hasTool(tool) && !missing.includes(pkg)) missing.push(pkg);
  if (missing.length === 0) return;
  if (!probe.isRoot()) {
    const line = `sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`;
    throw new SetupFailed(`missing system packages: ${missing.join(', ')}. Install them with:\n  ${line}\nthen run \`${needs.command}\` again.`, 2);
  }
  say(`installing system packages: ${missing.join(' ')}`);
  // Wait for another apt/dpkg run (unattended upgrades, a parallel install) instead of failing.
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  const install = [...lock, 'install', '-y', '--no-install-recommends', ...missing];
  try {
    probe.aptGet(install);
  } catch {
    say('apt-get install failed; running apt-get update and retrying');
    try {
      probe.aptGet([...lock, 'update']);
      probe.aptGet(install);
    } catch (err) {
      throw new SetupFailed(`apt-get install ${missing.join(' ')} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/**
 * node-gyp as npm ships it (npm_config_node_gyp under npm, else next to this node), and the
 * Node headers to build against, so no download is needed; `argv` runs it.
 */
export function nodeGyp(): { script: string | undefined; nodedir: string | undefined; argv: (args: string[]) => [string, string[]] } {
  const script = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ].find((p): p is string => !!p && existsSync(p));
  const nodedir = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')].find(
    (d): d is string => !!d && existsSync(join(d, 'include', 'node', 'node_api.h')),
  );
  return { script, nodedir, argv: (args) => (script ? [process.execPath, [script, ...args]] : ['npx', ['--yes', 'node-gyp@11', ...args]]) };
}

/** `<cache>/seqrec`: $SEQREC_CACHE_DIR, else $XDG_CACHE_HOME/seqrec, else ~/.cache/seqrec. */
export function cacheBase(): string {
  return process.env.SEQREC_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'seqrec');
}
