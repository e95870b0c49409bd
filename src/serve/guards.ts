/**
 * The HTTP server's defences, kept apart from the routes: bearer
 * tokens, Host/Origin checks for admin routes, the JSON body parser (depth limit, prototype
 * keys), seqrec-shaped answers for malformed HTTP, and path scrubbing of client messages.
 * See the Security section of docs/serving.md.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { basename, sep } from 'node:path';

export interface ResolvedAdmin {
  tokenDigest: Buffer;
  /** name -> absolute directory. */
  bundles: Map<string, string>;
  hosts: ReadonlySet<string>;
  origins: ReadonlySet<string>;
}

/** An error answered with `status` and body `{error, message}`. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

/** SHA-256 of a token: what is kept of the configured one, and what requests are compared by. */
export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The host name of a Host header value, lower-cased, without port or IPv6 brackets; null if malformed. */
export function hostName(header: string | undefined): string | null {
  if (!header) return null;
  const h = header.trim().toLowerCase();
  const m = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h) ?? /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  return m ? m[1] : null;
}

/**
 * Compares the bearer token over SHA-256 digests in constant time, so neither the contents nor
 * the length of the configured token leaks through timing.
 */
export function bearerMatches(header: string | undefined, tokenDigest: Buffer): boolean {
  const m = header ? /^Bearer +(\S+)$/i.exec(header) : null;
  return m !== null && timingSafeEqual(sha256(m[1]), tokenDigest);
}

/**
 * Why an admin request is refused before its token is even looked at: a Host that is not
 * ours (DNS rebinding) or an Origin that is not allowed (a browser page posting cross-site).
 */
export function foreignRequest(headers: { host?: string; origin?: string | string[] }, admin: ResolvedAdmin): string | null {
  const host = hostName(headers.host);
  if (host === null || !admin.hosts.has(host)) {
    return `admin routes accept only Host ${[...admin.hosts].join(', ')} (got ${headers.host === undefined ? 'none' : JSON.stringify(headers.host.slice(0, 100))}); add the name to allowedHosts / --admin-allowed-host`;
  }
  const origin = headers.origin;
  if (origin !== undefined && (Array.isArray(origin) || !admin.origins.has(origin.toLowerCase()))) {
    return admin.origins.size
      ? `admin routes accept Origin ${[...admin.origins].join(', ')} only`
      : 'admin routes refuse requests from web pages (an Origin header was sent); call them from a script or add the origin to allowedOrigins / --admin-allowed-origin';
  }
  return null;
}

/**
 * Nesting depth beyond `maxDepth` of arrays/objects, found in one linear pass over the raw
 * text (brackets inside strings do not count), and whether the text has an escape or a
 * prototype-like key so that the slower checked parse is needed.
 */
function scan(text: string, maxDepth: number): { tooDeep: boolean; suspicious: boolean } {
  let depth = 0;
  let inString = false;
  let escapes = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) {
        escapes = true;
        i++;
      } else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return { tooDeep: true, suspicious: false };
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return { tooDeep: false, suspicious: escapes || text.includes('__proto__') || text.includes('constructor') };
}

class ForbiddenKey extends Error {}

function refuseProtoKeys(key: string, value: unknown): unknown {
  if (key === '__proto__' || key === 'constructor') throw new ForbiddenKey(key);
  return value;
}

/**
 * Parses a JSON body: depth checked before parsing (a 1 MB `[[[...` costs a linear scan, not a
 * deep parse), then JSON.parse; keys `__proto__` and `constructor` are refused by name
 * (clients would otherwise only hear "not valid JSON", which is false).
 */
export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.length === 0) throw new HttpError(400, 'invalid_json', 'the request body is empty; send a JSON object');
  const { tooDeep, suspicious } = scan(text, maxDepth);
  if (tooDeep) throw new HttpError(400, 'invalid_json', `the request body is nested deeper than ${maxDepth} levels of arrays and objects`);
  try {
    return suspicious ? JSON.parse(text, refuseProtoKeys) : JSON.parse(text);
  } catch (err) {
    if (err instanceof ForbiddenKey) {
      throw new HttpError(
        400,
        'invalid_request',
        `the request body has a key '${err.message}'; keys named __proto__ and constructor are refused (prototype pollution)`,
      );
    }
    throw new HttpError(400, 'invalid_json', `the request body is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Answers what node's HTTP parser rejects (bad Content-Length, header overflow, timeouts) with
 * seqrec's `{error, message}` instead of fastify's default body, then closes the socket.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let body: { error: string; message: string };
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      status = 408;
      body = { error: 'request_timeout', message: 'the request was not received within the time limit (requestTimeout / headersTimeout)' };
      break;
    case 'HPE_HEADER_OVERFLOW':
      status = 431;
      body = { error: 'headers_too_large', message: 'the request headers are too large' };
      break;
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      body = { error: 'bad_request', message: 'the Content-Length header is invalid or repeated' };
      break;
    default:
      body = { error: 'bad_request', message: `malformed HTTP request (${err.code ?? 'parse error'}); check Content-Length and the request line` };
  }
  if (socket.writable) {
    const text = JSON.stringify(body);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(err);
}

/**
 * `message` with bundle directories replaced: `<dir>/x` becomes `x`, `<dir>` its name; any
 * other absolute path left by a lower layer becomes its last component (unless
 * `anyAbsolute` is false: messages quoting item ids, which may contain slashes).
 */
export function scrubPaths(message: string, dirs: ReadonlyMap<string, string>, anyAbsolute = true): string {
  let out = message;
  for (const [dir, name] of [...dirs].sort((a, b) => b[0].length - a[0].length)) {
    out = out
      .split(dir + sep)
      .join('')
      .split(dir)
      .join(name);
  }
  if (!anyAbsolute) return out;
  return out.replace(/(^|[\s'"(=])(\/[^\s'"():,]+)/g, (_m, pre: string, path: string) => `${pre}${basename(path)}`);
}
