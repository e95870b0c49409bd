/**
 * The token-per-item formats: `sequence` (`user item1 item2 ...`) and `session-lines`
 * (`session item1 item2 ...`, one line per session).
 */
import { id, isNumeric } from '../fields.js';
import { LineError } from '../line-error.js';
import type { LineParser, ParserOptions, RecordSink } from './parser.js';

function tokens(line: string, delimiter: string | undefined): string[] {
  return delimiter === undefined ? line.trim().split(/\s+/) : line.split(delimiter).map((t) => t.trim());
}

/** `user item1 item2 ...`; the timestamp is the position (file order). */
export function sequenceParser(_firstLine: string, options: ParserOptions, sink: RecordSink): LineParser {
  const { delimiter } = options;
  return {
    headerConsumed: false,
    parse(line) {
      const t = tokens(line, delimiter);
      if (t.length < 2) throw new LineError('expected a user id followed by at least one item, got 1 field', 'item');
      const user = id(t[0], 'user');
      const items = t.slice(1).map((x) => id(x, 'item'));
      for (const item of items) sink.add(user, item, undefined);
    },
  };
}

/**
 * `session item1 item2 ...`, one session per line in click order. Unlike `sequence`, a session
 * id on a second line is malformed: it usually means two files with overlapping ids were joined.
 */
export function sessionLinesParser(_firstLine: string, options: ParserOptions, sink: RecordSink): LineParser {
  const { delimiter } = options;
  const seen = new Map<string, number>();
  return {
    headerConsumed: false,
    parse(line, lineNumber) {
      const t = tokens(line, delimiter);
      if (t.length < 2) throw new LineError('expected a session id followed by at least one item, got 1 field', 'item');
      const session = id(t[0], 'session');
      const items = t.slice(1).map((x) => id(x, 'item'));
      const earlier = seen.get(session);
      if (earlier !== undefined) {
        throw new LineError(`session '${session}' already appeared on line ${earlier} (one line per session)`, 'session');
      }
      seen.set(session, lineNumber);
      for (const item of items) sink.add(session, item, undefined);
    },
  };
}

/** Tab-separated numbers that are not the four of `u.data` (e.g. `1\t2\t3`): a sequence line. */
export function isNumericTabLine(line: string): boolean {
  const fields = line.split('\t');
  return line.includes('\t') && fields.length !== 4 && fields.every(isNumeric);
}
