/**
 * Model directories that are complete at every instant, even under `kill -9` or power loss.
 *
 *   DIR/CURRENT       {"format":"seqrec-pointer","version":1,"current":"v000004",
 *                      "manifest":{"bytes":N,"sha256":"..."},"previous":"v000003"}
 *   DIR/v000004/      the current version: model.json, weights.bin, ... history.json
 *   DIR/v000003/      the previous version, kept so that a reader that resolved the old
 *                     pointer a moment ago still finds its files
 *   DIR/NOTES.md ...  anything else is the user's and is never touched
 *
 * A save writes a new version into `DIR/.seqrec-tmp-<pid>-<hex>/` (marker file `.seqrec`
 * first, every file fsynced, then the directory), renames it to the next `vNNNNNN`, fsyncs
 * DIR, then replaces CURRENT by write-temp + fsync + rename + fsync(DIR). The rename of
 * CURRENT is the one commit point: before it readers get the old version, after it the new
 * one. Only then are versions other than the current and previous one removed.
 *
 * CURRENT also records model.json's size and SHA-256, so model.json is covered by a digest
 * like every other file (model.json records theirs).
 *
 * Leftovers of a killed save (temporary versions, `.CURRENT.tmp-*` files, versions never
 * committed, flat files of an older layout) are recognised by name pattern and, for
 * directories, the `.seqrec` marker, and removed by the next save; a load removes temporary
 * versions whose writer process is gone. A directory is removed by renaming it to
 * `.seqrec-trash-<pid>-<hex>` (after its marker was checked) and then deleting it, so a kill
 * during the delete leaves a name the next cleanup recognises. Nothing else in DIR is ever
 * removed.
 *
 * A directory without CURRENT is the flat layout of seqrec 0.1 (model.json at the top);
 * loaders still read it (src/bundle/checkpoint.ts decides what it must prove).
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rm, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { SeqrecError } from '../errors.js';
import { bundleInvalid, checkSchema, parseJsonFile } from './file-schema.js';

export const POINTER_FILE = 'CURRENT';
export const MARKER_FILE = '.seqrec';
const POINTER_FORMAT = 'seqrec-pointer';
const VERSION_RE = /^v(\d{6,9})$/;
const TMP_RE = /^\.seqrec-tmp-(\d+)-[0-9a-f]{8}$/;
const POINTER_TMP_RE = /^\.CURRENT\.tmp-(\d+)-[0-9a-f]{8}$/;
/** A directory being removed: renamed first, so that a kill in the middle of rm leaves a name we recognise. */
const TRASH_RE = /^\.seqrec-trash-(\d+)-[0-9a-f]{8}$/;
/** Names a manifest may give a file: one path component, no dot files, no separators. */
export const FILE_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Size and SHA-256 (hex) of a file's bytes. */
export interface FileDigest {
  bytes: number;
  sha256: string;
}

export const FileDigestSchema = z.strictObject({
  bytes: z
    .number()
    .int()
    .min(0)
    .max(2 ** 40),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits'),
});

export function digestOf(bytes: Uint8Array): FileDigest {
  return { bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
}

const PointerSchema = z.strictObject({
  format: z.literal(POINTER_FORMAT),
  version: z.literal(1),
  current: z.string().regex(VERSION_RE, 'expected a version name like v000001'),
  manifest: FileDigestSchema,
  previous: z.string().regex(VERSION_RE).nullable(),
});
type Pointer = z.infer<typeof PointerSchema>;

const invalid = (file: string, why: string): SeqrecError => bundleInvalid(file, why);

/**
 * Opens `name` in `dir` for reading if it is a regular file: O_NOFOLLOW refuses a symlink,
 * O_NONBLOCK keeps a FIFO from blocking the open, fstat refuses FIFOs, devices and dirs.
 * Returns null when the file does not exist. Errors name `name` only.
 */
export async function openRegular(dir: string, name: string): Promise<FileHandle | null> {
  if (!FILE_NAME_RE.test(name) && name !== POINTER_FILE && name !== MARKER_FILE) throw invalid(name, 'not a plain file name inside the bundle');
  const flags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
  let handle: FileHandle;
  try {
    handle = await open(join(dir, name), flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw invalid(name, 'is a symbolic link; bundle files must be regular files inside the bundle');
    throw invalid(name, `cannot open (${code ?? 'error'})`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw invalid(name, 'not a regular file');
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Reads a regular file (see `openRegular`), refusing files over `maxBytes`; null when absent. */
export async function readRegular(dir: string, name: string, maxBytes = 2 ** 31 - 1): Promise<Buffer | null> {
  const handle = await openRegular(dir, name);
  if (!handle) return null;
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) throw invalid(name, `${size} bytes is more than the ${maxBytes} allowed`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Streams a regular file through SHA-256 (for files too big to want in memory twice). */
export async function digestRegular(dir: string, name: string): Promise<FileDigest | null> {
  const handle = await openRegular(dir, name);
  if (!handle) return null;
  try {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of handle.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.byteLength;
    }
    return { bytes, sha256: hash.digest('hex') };
  } finally {
    await handle.close();
  }
}

export interface ResolvedDir {
  /** Real path of the directory the caller named. */
  root: string;
  /** Real path of the directory holding model.json: the current version, or `root` (flat). */
  dir: string;
  /** The current version's name, or null for a flat directory. */
  version: string | null;
  /** model.json's digest from CURRENT (null for a flat directory). */
  manifest: FileDigest | null;
}

async function readPointer(root: string): Promise<Pointer | null> {
  const bytes = await readRegular(root, POINTER_FILE, 64 * 1024);
  if (!bytes) return null;
  return checkSchema(PointerSchema, parseJsonFile(bytes, POINTER_FILE), POINTER_FILE);
}

/** Resolves a model directory to the directory holding its files (see the module comment). */
export async function resolveModelDir(dir: string): Promise<ResolvedDir> {
  // The directory's own name only: never its absolute path (error bodies reach HTTP clients).
  const name = basename(resolve(dir)) || '.';
  let root: string;
  try {
    root = await realpath(dir);
  } catch {
    throw new SeqrecError('bundle_invalid', `${name}: no such bundle directory`, { file: name });
  }
  const info = await lstat(root);
  if (!info.isDirectory())
    throw new SeqrecError('bundle_invalid', `${name}: not a directory (a bundle is a directory with CURRENT or model.json)`, { file: name });
  await removeDeadTemporaries(root).catch(() => undefined);
  const pointer = await readPointer(root);
  if (!pointer) return { root, dir: root, version: null, manifest: null };
  const versionDir = join(root, pointer.current);
  const vInfo = await lstat(versionDir).catch(() => null);
  if (!vInfo) throw invalid(POINTER_FILE, `names version ${pointer.current}, which does not exist`);
  if (!vInfo.isDirectory()) throw invalid(POINTER_FILE, `names ${pointer.current}, which is not a directory inside the bundle`);
  const real = await realpath(versionDir);
  if (!real.startsWith(root + sep)) throw invalid(POINTER_FILE, `names ${pointer.current}, which resolves outside the bundle`);
  return { root, dir: real, version: pointer.current, manifest: pointer.manifest };
}

export type DirectoryState = 'missing' | 'empty' | 'seqrec' | 'foreign';

/**
 * What `dir` holds: nothing, an empty directory, a seqrec model (CURRENT, or a flat
 * model.json with format 'seqrec-model') or something else. Files seqrec did not write next
 * to a model (NOTES.md) do not make it foreign.
 */
export async function inspectDirectory(dir: string): Promise<{ state: DirectoryState; hasModel: boolean }> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'missing', hasModel: false };
    throw new SeqrecError('invalid_argument', `cannot use the output directory (${code ?? 'error'})`, { field: 'out' });
  }
  if (names.length === 0) return { state: 'empty', hasModel: false };
  if (names.includes(POINTER_FILE)) {
    const pointer = await readPointer(dir).catch(() => null);
    if (pointer) return { state: 'seqrec', hasModel: true };
  }
  if (names.includes('model.json') && (await flatManifestNames(dir)) !== null) return { state: 'seqrec', hasModel: true };
  // Only the debris of a killed first save: still ours.
  if (names.every((n) => TMP_RE.test(n) || POINTER_TMP_RE.test(n) || TRASH_RE.test(n) || VERSION_RE.test(n))) return { state: 'seqrec', hasModel: false };
  return { state: 'foreign', hasModel: false };
}

/** The data files a flat (seqrec 0.1) model directory may hold besides model.json. */
const FLAT_FILES = ['weights.bin', 'vocabulary.json', 'popularity.json', 'history.json', 'faiss.index', 'faiss.index.json'];

/** The data files of a flat (seqrec 0.1) model in `dir`, or null when `dir` holds none. */
async function flatManifestNames(dir: string): Promise<string[] | null> {
  try {
    const bytes = await readRegular(dir, 'model.json', 64 * 2 ** 20);
    if (!bytes) return null;
    const m = JSON.parse(bytes.toString('utf8')) as { format?: unknown };
    if (m.format !== 'seqrec-model') return null;
    // Only names seqrec 0.1 wrote: a model.json that lists NOTES.md must not get it removed.
    return FLAT_FILES.slice();
  } catch {
    return null;
  }
}

/** Throws unless a model may be saved into `dir`: it is missing, empty or already seqrec's. */
export async function assertWritableModelDir(dir: string, options: { replace?: 'allow' | 'refuse' } = {}): Promise<DirectoryState> {
  const { state, hasModel } = await inspectDirectory(dir);
  if (state === 'foreign') {
    throw new SeqrecError(
      'invalid_argument',
      'the output directory is not empty and holds no seqrec model; refusing to write into it (choose a new or empty directory)',
      { field: 'out' },
    );
  }
  if (hasModel && options.replace === 'refuse') {
    throw new SeqrecError(
      'invalid_argument',
      'the output directory already holds a seqrec model; pass --force to replace it (the previous version is kept next to the new one)',
      { field: 'out' },
    );
  }
  return state;
}

async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch (err) {
    // Some platforms (Windows) cannot fsync a directory; the renames are still atomic there.
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await handle?.close();
  }
}

/** Writes a new file (never an existing one) and fsyncs it before returning. */
export async function writeDurable(path: string, bytes: Uint8Array | string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isMarked(dir: string): Promise<boolean> {
  const info = await lstat(join(dir, MARKER_FILE)).catch(() => null);
  return info !== null && info.isFile();
}

/** Versions this process renamed into place and has not committed yet (saves racing in one process). */
const inFlight = new Set<string>();

/** The pid recorded in a directory's marker, or null when unreadable. */
async function markerPid(dir: string): Promise<number | null> {
  try {
    const bytes = await readRegular(dir, MARKER_FILE, 4096);
    const pid = bytes ? (JSON.parse(bytes.toString('utf8')) as { pid?: unknown }).pid : undefined;
    return typeof pid === 'number' && Number.isInteger(pid) ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Removes a directory seqrec wrote (checked by the caller): renamed to a trash name first, so
 * that a kill during the recursive delete (which may take the marker first) leaves a name
 * that the next cleanup recognises by itself.
 */
async function removeOwnDir(root: string, name: string): Promise<void> {
  const trash = join(root, `.seqrec-trash-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await rename(join(root, name), trash);
  } catch {
    return; // already gone (another process cleaned it)
  }
  await rm(trash, { recursive: true, force: true });
}

/** Removes temporary versions, pointer temps and trash whose writer is gone (safe next to a live save). */
async function removeDeadTemporaries(root: string): Promise<void> {
  for (const name of await readdir(root)) {
    const path = join(root, name);
    const trash = TRASH_RE.exec(name);
    if (trash) {
      if (!alive(Number(trash[1]))) await rm(path, { recursive: true, force: true });
      continue;
    }
    const tmp = TMP_RE.exec(name) ?? POINTER_TMP_RE.exec(name);
    if (!tmp || alive(Number(tmp[1]))) continue;
    const info = await lstat(path).catch(() => null);
    if (info?.isDirectory() && (await isMarked(path))) await removeOwnDir(root, name);
    // Killed between mkdir and the marker: rmdir removes only an empty directory, so nothing else can go.
    else if (info?.isDirectory() && TMP_RE.test(name)) await rmdir(path).catch(() => undefined);
    else if (info?.isFile() && POINTER_TMP_RE.test(name)) await unlink(path).catch(() => undefined);
  }
}

/**
 * After a commit: removes what seqrec left in `root` and no longer needs: dead temporaries,
 * versions other than `keep`, and the files of a flat model this save superseded.
 */
async function removeLeftovers(root: string, keep: Set<string>): Promise<void> {
  await removeDeadTemporaries(root);
  for (const name of await readdir(root)) {
    if (!VERSION_RE.test(name) || keep.has(name)) continue;
    const path = join(root, name);
    // A version another live process renamed into place but has not committed yet is its to commit.
    const writer = await markerPid(path);
    if (inFlight.has(path) || (writer !== null && writer !== process.pid && alive(writer))) continue;
    const info = await lstat(path).catch(() => null);
    if (!info?.isDirectory() || !((await isMarked(path)) || (await flatManifestNames(path)) !== null)) continue;
    // Whatever CURRENT names stays, read last, just before the removal: a save racing ours may
    // have committed this version since our commit (it was not in flight above, so it cannot
    // commit between this read and the rename).
    const now = await readPointer(root).catch(() => null);
    if (now && (now.current === name || now.previous === name)) continue;
    await removeOwnDir(root, name);
  }
  const flat = await flatManifestNames(root);
  if (flat) {
    // Data files first, model.json last: while it exists it still lists what remains to remove.
    for (const name of flat) await unlink(join(root, name)).catch(() => undefined);
    await unlink(join(root, 'model.json.sha256')).catch(() => undefined);
    await unlink(join(root, 'model.json'));
  }
}

export interface SaveVersionOptions {
  /** 'refuse': throw when `dir` already holds a model (the CLI without --force). Default 'allow'. */
  replace?: 'allow' | 'refuse';
}

/**
 * Saves a new version of the model directory `dir` atomically (see the module comment).
 * `write(tmp)` writes the version's files into `tmp` (with `writeDurable`) and returns the
 * digest of the model.json it wrote. Returns the committed version's directory.
 */
export async function saveVersion(dir: string, write: (tmp: string) => Promise<FileDigest>, options: SaveVersionOptions = {}): Promise<string> {
  const created = (await mkdir(dir, { recursive: true })) !== undefined;
  // A new directory's own entry must be durable too.
  if (created) await fsyncDir(dirname(resolve(dir)));
  await assertWritableModelDir(dir, options);
  const root = await realpath(dir);
  await removeDeadTemporaries(root);
  const tmp = join(root, `.seqrec-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  let committed = false;
  let renamed: string | null = null;
  try {
    await writeDurable(join(tmp, MARKER_FILE), JSON.stringify({ format: 'seqrec-dir', pid: process.pid, createdAt: new Date().toISOString() }) + '\n');
    const manifest = await write(tmp);
    await fsyncDir(tmp);
    const previous = (await readPointer(root).catch(() => null))?.current ?? null;
    let version = '';
    for (let attempt = 0; ; attempt++) {
      const names = await readdir(root);
      const highest = Math.max(0, ...names.map((n) => Number(VERSION_RE.exec(n)?.[1] ?? 0)));
      version = `v${String(highest + 1 + attempt).padStart(6, '0')}`;
      try {
        await rename(tmp, join(root, version));
        renamed = join(root, version);
        inFlight.add(renamed);
        break;
      } catch (err) {
        // Another save took that number first.
        if (!['EEXIST', 'ENOTEMPTY', 'EISDIR'].includes((err as NodeJS.ErrnoException).code ?? '') || attempt > 100) throw err;
      }
    }
    await fsyncDir(root);
    const pointer: Pointer = { format: POINTER_FORMAT, version: 1, current: version, manifest, previous };
    const pointerTmp = join(root, `.CURRENT.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    await writeDurable(pointerTmp, JSON.stringify(pointer) + '\n');
    await rename(pointerTmp, join(root, POINTER_FILE));
    committed = true;
    await fsyncDir(root);
    await removeLeftovers(root, new Set([version, ...(previous ? [previous] : [])]));
    return join(root, version);
  } catch (err) {
    if (!committed) await removeOwnDir(root, basename(tmp)).catch(() => undefined);
    throw err;
  } finally {
    if (renamed) inFlight.delete(renamed);
  }
}
