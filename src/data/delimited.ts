/**
 * Splitting one line of delimited text, with simple RFC 4180 quoting.
 */
import { LineError } from './line-error.js';

/**
 * Splits `line` at `delimiter`. A field that starts with `"` is quoted: it runs to the next
 * lone `"`, may contain the delimiter, and `""` inside it stands for one `"`.
 *
 * Quoted fields spanning several lines are not supported (the loader reads line by line);
 * an unterminated quote is reported as a malformed line rather than swallowing the file.
 */
export function splitDelimited(line: string, delimiter: string): string[] {
  // Fast path: most lines have no quotes at all.
  if (!line.includes('"')) return line.split(delimiter);
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new LineError('unterminated quoted field (quoted fields cannot span lines)');
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      fields.push(value);
      if (i === line.length) return fields;
      if (!line.startsWith(delimiter, i)) {
        throw new LineError(`unexpected text after a closing quote at column ${i + 1}`);
      }
      i += delimiter.length;
    } else {
      const d = line.indexOf(delimiter, i);
      if (d < 0) {
        fields.push(line.slice(i));
        return fields;
      }
      fields.push(line.slice(i, d));
      i = d + delimiter.length;
    }
  }
}

/** The CSV delimiter a header row most likely uses: `,` unless it only has `;` or tabs. */
export function inferDelimiter(header: string): string {
  if (header.includes(',')) return ',';
  if (header.includes(';')) return ';';
  if (header.includes('\t')) return '\t';
  if (header.includes('|')) return '|';
  return ',';
}
