/**
 * fastify is optional: the serve modules import without it, and only `createServer` fails,
 * with the install command. A child process hides fastify with a module resolve hook.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const HIDE_FASTIFY = `
export async function resolve(specifier, context, next) {
  if (specifier === 'fastify' || specifier.startsWith('fastify/')) {
    throw Object.assign(new Error("Cannot find package 'fastify'"), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  return next(specifier, context);
}`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HIDE_FASTIFY)}`)});`;

const CHILD = `
const server = await import(${JSON.stringify(new URL('../../src/serve/server.ts', import.meta.url).href)});
const out = { imported: typeof server.createServer === 'function', defaults: server.SERVER_DEFAULTS.maxJsonDepth };
try { await server.createServer({}, {}); out.created = true; } catch (e) { out.code = e.code; out.message = e.message; }
try { await server.createServer({}, { bodyLimt: 5 }); } catch (e) { out.optionCode = e.code; out.optionField = e.field; }
console.log(JSON.stringify(out));
`;

describe('optional fastify', () => {
  it('imports the server module without fastify; createServer names the install command', () => {
    const stdout = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, '--input-type=module', '-e', CHILD],
      {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        encoding: 'utf8',
      },
    );
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    assert.equal(out.imported, true);
    assert.equal(out.defaults, 32);
    assert.equal(out.created, undefined);
    assert.equal(out.code, 'backend_unavailable');
    assert.match(out.message, /seqrec serve needs the optional package 'fastify'.*npm install fastify/);
    // Options are checked before fastify is needed.
    assert.deepEqual([out.optionCode, out.optionField], ['invalid_config', 'bodyLimt']);
  });
});
