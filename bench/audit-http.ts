/**
 * HTTP probes of `npm run bench:audit`: the admin route and its token, Host and Origin,
 * what answers reveal, unbounded work (k, nesting, slow clients, connection floods), hung
 * reloads and malformed HTTP. Every server listens on 127.0.0.1 only; every loop is bounded.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, cpSync, openSync, symlinkSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Recommender } from '../src/serve/recommender.js';
import { createServer, type ServerOptions } from '../src/serve/server.js';
import { manifestDir, tinyBundle } from './audit-bundle.js';
import { SecurityIssue, expectError, type Probe, type ProbeResult } from './audit-probe.js';

const TOKEN = 'audit-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };

interface Answer {
  status: number;
  text: string;
  body: Record<string, unknown> | null;
}

async function request(base: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(base + path, { method, body, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers } });
  const text = await res.text();
  let parsed: Record<string, unknown> | null = null;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, text, body: parsed };
}

/** Writes `raw` to a fresh socket and returns what comes back before the server closes it (or `ms`). */
function rawExchange(port: number, raw: string, ms = 3000): Promise<string> {
  return new Promise((res) => {
    const socket = net.connect(port, '127.0.0.1');
    let out = '';
    const done = () => {
      socket.destroy();
      res(out);
    };
    const timer = setTimeout(done, ms);
    socket.on('data', (d) => (out += d));
    socket.on('close', () => {
      clearTimeout(timer);
      res(out);
    });
    socket.on('error', () => undefined);
    socket.write(raw);
  });
}

/** 4xx with seqrec's `{error, message}`: handled. A 5xx or another shape: a crash. */
function seqrec4xx(a: Answer, what: string): ProbeResult {
  const shape = a.body !== null && typeof a.body.error === 'string' && typeof a.body.message === 'string' && Object.keys(a.body).length === 2;
  if (a.status >= 400 && a.status < 500 && shape)
    return { outcome: 'handled', detail: `${a.status} ${a.body!.error}: ${String(a.body!.message).slice(0, 120)}` };
  if (a.status >= 200 && a.status < 300) return { outcome: 'silent_change', detail: `${what}: accepted (${a.status})` };
  return { outcome: 'crash', detail: `${what}: ${a.status} ${a.text.slice(0, 160)}` };
}

const ABSOLUTE = /\/(tmp|root|etc|home)\//;

export async function httpProbes(work: string): Promise<Probe[]> {
  const dirA = join(work, 'http-a');
  const dirB = join(work, 'http-b');
  const { items } = await tinyBundle(dirA, 21);
  await tinyBundle(dirB, 22);
  // A bundle whose popularity file is a link to /etc/passwd, and one whose model.json is a FIFO.
  const passwd = join(work, 'http-passwd');
  cpSync(dirA, passwd, { recursive: true });
  unlinkSync(join(manifestDir(passwd), 'popularity.json'));
  symlinkSync('/etc/passwd', join(manifestDir(passwd), 'popularity.json'));
  const fifo = join(work, 'http-fifo');
  cpSync(dirA, fifo, { recursive: true });
  const fifoFile = join(manifestDir(fifo), 'model.json');
  unlinkSync(fifoFile);
  execFileSync('mkfifo', [fifoFile]);

  const rec = await Recommender.load(dirA, { maxK: 100 });
  const servers: FastifyInstance[] = [];
  const start = async (options: ServerOptions): Promise<{ base: string; port: number }> => {
    const app = await createServer(rec, options);
    servers.push(app);
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    return { base, port: Number(new URL(base).port) };
  };
  const plain = await start({});
  const admin = await start({ admin: { token: TOKEN, bundles: { b: dirB, passwd, fifo } }, reloadTimeoutMs: 2000 });
  const tight = await start({ requestTimeoutMs: 1000, headersTimeoutMs: 1000, connectionTimeoutMs: 2000, maxConnections: 20 });
  const generation = () => rec.info().generation;

  const probe = (name: string, run: () => Promise<ProbeResult>, timeoutMs = 20_000): Probe => ({ area: 'http', name, run, timeoutMs });
  const mustRefuse = (name: string, base: string, path: string, body: string | undefined, headers: Record<string, string>, status: number[]): Probe =>
    probe(name, async () => {
      const before = generation();
      const a = await request(base, 'POST', path, body, headers);
      if (generation() !== before) return { outcome: 'security', detail: `the server reloaded (${a.status})` };
      if (!status.includes(a.status)) return a.status < 300 ? { outcome: 'security', detail: `answered ${a.status}` } : seqrec4xx(a, name);
      return seqrec4xx(a, name);
    });

  const probes: Probe[] = [
    // Item 1: admin is off by default and never takes a path.
    mustRefuse('default server: POST /admin/reload with a dir', plain.base, '/admin/reload', JSON.stringify({ dir: dirB }), {}, [404]),
    mustRefuse('default server: bodiless POST /admin/reload (CORS simple request)', plain.base, '/admin/reload', undefined, {}, [404]),
    mustRefuse('admin: a dir in the body, with the right token', admin.base, '/admin/reload', JSON.stringify({ dir: dirB }), AUTH, [400]),
    mustRefuse('admin: a bundle name not in the allow-list', admin.base, '/admin/reload', JSON.stringify({ bundle: '../http-b' }), AUTH, [400, 404]),
    // Item 2: the token fails closed.
    ...[undefined, '', true, {}].map((value) =>
      probe(`createServer with admin ${JSON.stringify(value === undefined ? { token: undefined } : value)}`, () =>
        expectError(
          async () => {
            const app = await createServer(rec, {
              admin: (value === undefined
                ? { token: process.env.SEQREC_AUDIT_UNSET }
                : typeof value === 'string'
                  ? { token: value }
                  : value) as ServerOptions['admin'],
            });
            await app.close();
            throw new SecurityIssue('the server started with an open admin');
          },
          { code: 'invalid_config' },
        ),
      ),
    ),
    mustRefuse('admin: no Authorization', admin.base, '/admin/reload', '{}', {}, [401]),
    mustRefuse('admin: an empty Bearer', admin.base, '/admin/reload', '{}', { authorization: 'Bearer ' }, [401]),
    mustRefuse('admin: a wrong token of the same length', admin.base, '/admin/reload', '{}', { authorization: `Bearer ${TOKEN.replace(/.$/, 'x')}` }, [401]),
    mustRefuse('admin: a prefix of the token', admin.base, '/admin/reload', '{}', { authorization: `Bearer ${TOKEN.slice(0, 5)}` }, [401]),
    mustRefuse('admin: the token in another scheme', admin.base, '/admin/reload', '{}', { authorization: `Basic ${TOKEN}` }, [401]),
    // Item 1: Host and Origin (DNS rebinding, cross-site requests).
    // fetch does not let a caller set Host, so this one goes over a raw socket.
    probe('admin: right token, foreign Host (DNS rebinding)', async () => {
      const before = generation();
      const out = await rawExchange(
        admin.port,
        `POST /admin/reload HTTP/1.1\r\nHost: attacker.example:${admin.port}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      );
      if (generation() !== before) return { outcome: 'security', detail: `the server reloaded: ${out.split('\r\n')[0]}` };
      return /^HTTP\/1\.1 403/.test(out) && /"error"/.test(out)
        ? { outcome: 'handled', detail: out.split('\r\n')[0] }
        : { outcome: 'crash', detail: out.slice(0, 160) };
    }),
    mustRefuse('admin: right token, foreign Origin', admin.base, '/admin/reload', '{}', { ...AUTH, origin: 'http://attacker.example' }, [403]),
    mustRefuse('admin: right token, Origin null', admin.base, '/admin/reload', '{}', { ...AUTH, origin: 'null' }, [403]),
    // Item 3: what answers reveal.
    probe('/health names no absolute path', async () => {
      const a = await request(plain.base, 'GET', '/health');
      return ABSOLUTE.test(a.text) ? { outcome: 'security', detail: a.text.slice(0, 200) } : { outcome: 'handled', detail: `bundle ${String(a.body?.bundle)}` };
    }),
    probe('admin: reload of a bundle whose popularity file links to /etc/passwd', async () => {
      const before = generation();
      const a = await request(admin.base, 'POST', '/admin/reload', JSON.stringify({ bundle: 'passwd' }), AUTH);
      if (generation() !== before) return { outcome: 'silent_change', detail: 'the bundle loaded' };
      if (/root:|\/etc\/passwd|\/tmp\//.test(a.text)) return { outcome: 'security', detail: a.text.slice(0, 200) };
      return a.status >= 400 && a.status < 600 && a.body?.error
        ? { outcome: 'handled', detail: `${a.status} ${String(a.body.message).slice(0, 120)}` }
        : seqrec4xx(a, 'passwd');
    }),
    // Item 5: a FIFO cannot hang reloads; the old bundle keeps serving.
    probe('admin: reload of a bundle whose model.json is a FIFO, twice', async () => {
      const before = generation();
      for (let i = 0; i < 2; i++) {
        const t0 = Date.now();
        const a = await request(admin.base, 'POST', '/admin/reload', JSON.stringify({ bundle: 'fifo' }), AUTH);
        if (a.status < 400) return { outcome: 'silent_change', detail: `reload ${i + 1} answered ${a.status}` };
        if (Date.now() - t0 > 5000) return { outcome: 'crash', detail: `reload ${i + 1} took ${Date.now() - t0} ms` };
      }
      const r = await request(admin.base, 'POST', '/recommend', JSON.stringify({ history: [items[1]], k: 3 }));
      if (r.status !== 200 || generation() !== before) return { outcome: 'crash', detail: `after the hung reloads: ${r.status}, generation ${generation()}` };
      return { outcome: 'handled', detail: 'both reloads failed fast; the old bundle serves' };
    }),
    // Item 4: unbounded work.
    probe('Recommender.recommend with k = 2^31 − 1 on a 60-item catalogue', async () => {
      const rss0 = process.memoryUsage().rss;
      let got: number;
      try {
        got = rec.recommend([items[1]], { k: 2 ** 31 - 1 }).items.length;
      } catch (e) {
        return { outcome: 'handled', detail: `refused: ${(e as Error).message}` };
      }
      const grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
      if (got > items.length || grew > 200) return { outcome: 'security', detail: `${got} items, RSS +${grew.toFixed(0)} MB` };
      return { outcome: 'handled', detail: `${got} items, RSS +${grew.toFixed(0)} MB` };
    }),
    probe('POST /recommend with k = 2^31 − 1', async () =>
      seqrec4xx(await request(plain.base, 'POST', '/recommend', JSON.stringify({ history: [items[1]], k: 2 ** 31 - 1 })), 'k'),
    ),
    probe('800 KB of nested [[[…]]] in a body, answered fast', async () => {
      const depth = 400_000;
      const t0 = performance.now();
      const a = await request(plain.base, 'POST', '/recommend', '['.repeat(depth) + ']'.repeat(depth));
      const ms = performance.now() - t0;
      if (ms > 200) return { outcome: 'security', detail: `${ms.toFixed(0)} ms for one request (${a.status})` };
      return seqrec4xx(a, 'nesting');
    }),
    probe('50 slow-body clients are dropped by the request timeout (1 s configured)', async () => {
      const sockets = Array.from({ length: 50 }, () => net.connect(tight.port, '127.0.0.1'));
      let closed = 0;
      for (const s of sockets) {
        s.on('close', () => closed++);
        s.on('error', () => undefined);
        s.resume(); // a paused socket never sees the server's close
        s.write('POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
      }
      const t0 = Date.now();
      while (closed < sockets.length && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 100));
      sockets.forEach((s) => s.destroy());
      return closed === sockets.length
        ? { outcome: 'handled', detail: `all 50 closed after ${Date.now() - t0} ms` }
        : { outcome: 'security', detail: `${sockets.length - closed} of 50 still held after 5 s` };
    }),
    probe('slow headers (slowloris) are dropped by the headers timeout', async () => {
      const s = net.connect(tight.port, '127.0.0.1');
      let closed = false;
      s.on('close', () => (closed = true));
      s.on('error', () => undefined);
      s.resume();
      s.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      const t0 = Date.now();
      while (!closed && Date.now() - t0 < 5000) {
        s.write('X-a: b\r\n');
        await new Promise((r) => setTimeout(r, 200));
      }
      s.destroy();
      return closed ? { outcome: 'handled', detail: `closed after ${Date.now() - t0} ms` } : { outcome: 'security', detail: 'held for 5 s' };
    }),
    probe('a flood of 60 idle connections against maxConnections 20', async () => {
      const sockets = Array.from({ length: 60 }, () => net.connect(tight.port, '127.0.0.1').resume());
      let open = 0;
      await Promise.all(
        sockets.map(
          (s) =>
            new Promise<void>((r) => {
              s.on('connect', () => r());
              s.on('error', () => r());
            }),
        ),
      );
      await new Promise((r) => setTimeout(r, 300));
      for (const s of sockets) if (!s.destroyed && s.readyState === 'open') open++;
      sockets.forEach((s) => s.destroy());
      return open <= 20 ? { outcome: 'handled', detail: `${open} kept open` } : { outcome: 'security', detail: `${open} of 60 kept open` };
    }),
    // Item 13: messages that say what is wrong, in seqrec's shape.
    probe('a __proto__ key in a body', async () => {
      const a = await request(plain.base, 'POST', '/recommend', '{"__proto__":{"k":5},"history":[]}');
      if (/not valid JSON/.test(a.text)) return { outcome: 'crash', detail: `misleading: ${a.text}` };
      return seqrec4xx(a, '__proto__');
    }),
    probe('a constructor.prototype key in a body', async () =>
      seqrec4xx(await request(plain.base, 'POST', '/recommend', '{"constructor":{"prototype":{"k":5}},"history":[]}'), 'constructor'),
    ),
    probe('GET /%zz (a bad URL)', async () => seqrec4xx(await request(plain.base, 'GET', '/%zz'), 'bad url')),
    probe('a Content-Length that promises more than is sent', async () => {
      const out = await rawExchange(
        tight.port,
        'POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"history":[]}',
      );
      if (/^HTTP\/1\.1 5/.test(out)) return { outcome: 'crash', detail: out.split('\r\n')[0] };
      if (out === '' || /^HTTP\/1\.1 4\d\d/.test(out)) {
        const body = out.split('\r\n\r\n')[1] ?? '';
        if (out && !/"error"/.test(body)) return { outcome: 'crash', detail: `not seqrec's shape: ${body.slice(0, 100)}` };
        return { outcome: 'handled', detail: out ? out.split('\r\n')[0] : 'closed by the request timeout' };
      }
      return { outcome: 'silent_change', detail: out.split('\r\n')[0] };
    }),
    probe('a Content-Length that is not a number', async () => {
      const out = await rawExchange(
        plain.port,
        'POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: abc\r\nConnection: close\r\n\r\n{}',
      );
      if (!/^HTTP\/1\.1 4\d\d/.test(out)) return { outcome: out ? 'crash' : 'handled', detail: out.split('\r\n')[0] || 'connection closed' };
      return /"error"/.test(out)
        ? { outcome: 'handled', detail: out.split('\r\n')[0] }
        : { outcome: 'crash', detail: `not seqrec's shape: ${out.slice(0, 160)}` };
    }),
  ];

  // Malformed bodies on every route: a seqrec 4xx each.
  const bodies: [string, string][] = [
    ['an empty body', ''],
    ['truncated JSON', '{"history":["a"'],
    ['a JSON array', '[1,2]'],
    ['a JSON string', '"history"'],
    ['null', 'null'],
    ['history as a string', '{"history":"a,b"}'],
    ['history of objects', '{"history":[{"id":1}]}'],
    ['k as a string', '{"history":[],"k":"5"}'],
    ['k = 0', '{"history":[],"k":0}'],
    ['k = 2.5', '{"history":[],"k":2.5}'],
    ['k = -1', '{"history":[],"k":-1}'],
    ['an unknown field', '{"history":[],"kk":5}'],
    ['a 513-character id', JSON.stringify({ history: ['x'.repeat(513)] })],
    ['interests = -1', '{"history":[],"interests":-1}'],
    ['excludeSeen = "yes"', '{"history":[],"excludeSeen":"yes"}'],
    ['2,000 history entries (maxHistory 1000)', JSON.stringify({ history: Array.from({ length: 2000 }, () => items[1]) })],
    ['a UTF-16 body', Buffer.from('{"history":[]}', 'utf16le').toString('latin1')],
  ];
  for (const route of ['/recommend', '/recommend/batch', '/similar']) {
    for (const [what, body] of bodies) probes.push(probe(`${route}: ${what}`, async () => seqrec4xx(await request(plain.base, 'POST', route, body), what)));
  }

  probes.push({
    area: 'http',
    name: 'teardown',
    setup: true,
    run: async () => {
      await Promise.all(servers.map((s) => s.close()));
      rec.dispose();
      // A load abandoned on the FIFO still waits for a writer: opening the write end ends it.
      try {
        closeSync(openSync(fifoFile, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader left
      }
      return { outcome: 'handled' };
    },
  });
  return probes;
}
