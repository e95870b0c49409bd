/**
 * A small parser for Python literal lines such as `{'reviewerID': 'A2S', 'overall': 5.0}`,
 * the `eval`-style lines of some Amazon 2014 dumps. It never evaluates code: it accepts only
 * dicts, lists, tuples, strings, numbers, `True`, `False` and `None`, and throws a
 * `SyntaxError` with a column for anything else.
 */

/** Nesting deeper than this is refused (no real review line comes close). */
const MAX_DEPTH = 64;

const NUMBER = /[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[lLjJ]?/y;
const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const WORDS: Record<string, unknown> = { True: true, False: false, None: null };
const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  v: '\v',
  a: '\x07',
};

class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  fail(what: string): never {
    throw new SyntaxError(`${what} at column ${this.pos + 1}`);
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === undefined) this.fail('unexpected end of line');
    if (c === '{') return this.dict(depth);
    if (c === '[') return this.sequence(']', depth);
    if (c === '(') return this.sequence(')', depth);
    if (c === "'" || c === '"') return this.string();
    if ((c === 'u' || c === 'U') && (this.text[this.pos + 1] === "'" || this.text[this.pos + 1] === '"')) {
      this.pos++;
      return this.string();
    }
    NUMBER.lastIndex = this.pos;
    const n = NUMBER.exec(this.text);
    if (n) {
      this.pos += n[0].length;
      const last = n[0][n[0].length - 1];
      if (last === 'j' || last === 'J') this.fail('complex numbers are not supported');
      return Number(last === 'l' || last === 'L' ? n[0].slice(0, -1) : n[0]);
    }
    WORD.lastIndex = this.pos;
    const w = WORD.exec(this.text);
    if (w && Object.hasOwn(WORDS, w[0])) {
      this.pos += w[0].length;
      return WORDS[w[0]];
    }
    this.fail(w ? `'${w[0]}' is not a literal` : `unexpected '${c}'`);
  }

  /** `{key: value, ...}`; keys must be strings or numbers. `__proto__` stays a plain key, as with `JSON.parse`. */
  dict(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return out;
      }
      const key = this.value(depth + 1);
      if (typeof key !== 'string' && typeof key !== 'number') this.fail('dict keys must be strings or numbers');
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      const name = String(key);
      const value = this.value(depth + 1);
      if (name === '__proto__') Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
      else out[name] = value;
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== '}') this.fail("expected ',' or '}'");
    }
  }

  /** A list or tuple, both returned as arrays. */
  sequence(close: ']' | ')', depth: number): unknown[] {
    const out: unknown[] = [];
    this.pos++;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) {
        this.pos++;
        return out;
      }
      out.push(this.value(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== close) this.fail(`expected ',' or '${close}'`);
    }
  }

  /** A single- or double-quoted string with Python's backslash escapes (no triple quotes). */
  string(): string {
    const quote = this.text[this.pos];
    if (this.text.startsWith(quote.repeat(3), this.pos)) this.fail('triple-quoted strings are not supported');
    this.pos++;
    let out = '';
    for (;;) {
      const end = this.text.indexOf(quote, this.pos);
      const slash = this.text.indexOf('\\', this.pos);
      if (end < 0) this.fail('unterminated string');
      if (slash < 0 || slash > end) {
        out += this.text.slice(this.pos, end);
        this.pos = end + 1;
        return out;
      }
      out += this.text.slice(this.pos, slash);
      this.pos = slash + 1;
      out += this.escape();
    }
  }

  escape(): string {
    const c = this.text[this.pos];
    if (c === undefined) this.fail('unterminated string');
    if (Object.hasOwn(SIMPLE_ESCAPES, c)) {
      this.pos++;
      return SIMPLE_ESCAPES[c];
    }
    const hex = (len: number): string => {
      const digits = this.text.slice(this.pos + 1, this.pos + 1 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(digits)) this.fail(`bad \\${c} escape`);
      const code = parseInt(digits, 16);
      if (code > 0x10ffff) this.fail(`bad \\${c} escape`);
      this.pos += 1 + len;
      return String.fromCodePoint(code);
    };
    if (c === 'x') return hex(2);
    if (c === 'u') return hex(4);
    if (c === 'U') return hex(8);
    const octal = /[0-7]{1,3}/y;
    octal.lastIndex = this.pos;
    const o = octal.exec(this.text);
    if (o) {
      this.pos += o[0].length;
      return String.fromCharCode(parseInt(o[0], 8));
    }
    // Python keeps unknown escapes such as `\d` as they are.
    this.pos++;
    return `\\${c}`;
  }
}

/** Parses one Python literal (the whole of `text`, surrounding spaces allowed). Throws `SyntaxError`. */
export function parsePythonLiteral(text: string): unknown {
  const reader = new Reader(text);
  const value = reader.value(0);
  reader.skipSpace();
  if (reader.pos < text.length) reader.fail('unexpected text after the value');
  return value;
}

/**
 * Parses a line holding one object: strict JSON, or else a Python dict literal (single
 * quotes, `True`/`False`/`None`). Throws `SyntaxError` saying which form was expected.
 */
export function parseObjectLine(line: string): Record<string, unknown> {
  const text = line.trim();
  // `{'` (or `{u'`) can only be a Python dict: skip the JSON attempt.
  const pythonLike = /^\{\s*[uU]?'/.test(text);
  let value: unknown;
  if (pythonLike) {
    try {
      value = parsePythonLiteral(text);
    } catch (e) {
      throw new SyntaxError(`not a simple Python dict literal (${(e as Error).message}); use strict JSON`);
    }
  } else {
    try {
      value = JSON.parse(text);
    } catch (e) {
      let python: unknown;
      try {
        python = text.startsWith('{') ? parsePythonLiteral(text) : undefined;
      } catch {
        python = undefined;
      }
      if (python === undefined) throw new SyntaxError(`invalid JSON (${(e as Error).message})`);
      value = python;
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SyntaxError('expected an object');
  return value as Record<string, unknown>;
}
