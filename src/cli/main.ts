#!/usr/bin/env node
/**
 * The `seqrec` command line. Order of work: find the command and its flags (unknown ones fail
 * here), validate the flag values, then start the TF.js backend (only for commands that run
 * tensors), then run. One precedence rule for settings: flags over defaults. Progress goes to
 * stderr, results to stdout; an error is one line, `seqrec <command>: <message>`.
 */
import { initBackend, reportBackendOnce, useBackend } from '../backend/index.js';
import { SeqrecError } from '../errors.js';
import { parseCommandLine } from './program.js';
import { cliProgress } from './progress.js';

function fail(where: string, message: string): void {
  // Messages from deeper code may already name the command.
  process.stderr.write(`${message.startsWith(`${where}:`) ? message : `${where}: ${message}`}\n`);
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return parsed.exitCode;
  }
  if (parsed.kind === 'error') {
    fail(parsed.where, parsed.message);
    return 2;
  }
  const { command, raw } = parsed;
  const where = `seqrec ${command.name}`;
  // Lines go through the progress reporter so they never garble a progress bar on stderr.
  const log = cliProgress().log;
  try {
    const prepared = command.prepare(raw);
    if (prepared.needsBackend) {
      for (const [name, value] of Object.entries(command.env ?? {})) if ((process.env[name] ?? '') === '') process.env[name] = value;
      if (prepared.backend) await useBackend(prepared.backend);
      else await initBackend();
      reportBackendOnce(log);
    }
    return (await prepared.run(log)) ?? 0;
  } catch (err) {
    if (err instanceof SeqrecError) {
      fail(where, err.message);
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
