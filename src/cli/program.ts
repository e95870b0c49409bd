/**
 * From argv to one command and its raw flags, with commander (per-command help and parsing).
 * Unknown commands and flags are found here, before any backend starts or any data is read;
 * the flag values are validated next, by the command's schemas (src/cli/command.ts).
 */
import { Command, CommanderError, Option } from 'commander';
import { SeqrecError } from '../errors.js';
import { didYouMean } from '../util/schema.js';
import type { CliCommand, CommandGroup } from './command.js';
import { kebab, unknownFlag, type FlagTable, type RawValue } from './flags.js';
import { benchCommand } from './commands/bench.js';
import { demoCommand } from './commands/demo.js';
import { embedCommand } from './commands/embed.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { plotGroup } from './commands/plot.js';
import { recommendCommand } from './commands/recommend.js';
import { runsCommand } from './commands/runs.js';
import { tuneCommand } from './commands/tune.js';
import { serveCommand } from './commands/serve.js';
import { setupGroup } from './commands/setup.js';
import { trainCommand } from './commands/train.js';

export const COMMANDS: readonly (CliCommand | CommandGroup)[] = [
  demoCommand,
  trainCommand,
  evalCommand,
  benchCommand,
  tuneCommand,
  runsCommand,
  recommendCommand,
  exportCommand,
  embedCommand,
  serveCommand,
  plotGroup,
  setupGroup,
];

const isGroup = (c: CliCommand | CommandGroup): c is CommandGroup => 'subcommands' in c;

/** Every runnable command, subcommands included. */
export function leafCommands(): CliCommand[] {
  return COMMANDS.flatMap((c) => (isGroup(c) ? [...c.subcommands] : [c]));
}

export type ParsedCommandLine =
  | { kind: 'help'; text: string; exitCode: number }
  | { kind: 'error'; where: string; message: string }
  | { kind: 'run'; command: CliCommand; raw: Record<string, RawValue> };

const HELP_FLAGS = new Set(['-h', '--help']);

function leafProgram(def: CliCommand, parent: Command): { cmd: Command; options: Map<string, Option> } {
  const cmd = new Command(def.name.split(' ').pop()!)
    .description(def.summary)
    .usage(def.usage ?? '[flags]')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined })
    .action(() => undefined);
  const options = new Map<string, Option>();
  for (const [key, flag] of Object.entries(def.flags)) {
    const option = new Option(flag.kind === 'boolean' ? `--${kebab(key)}` : `--${kebab(key)} <${flag.placeholder}>`, flag.description);
    if (flag.kind === 'list') option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    cmd.addOption(option);
    options.set(key, option);
  }
  parent.addCommand(cmd);
  return { cmd, options };
}

function program(): { root: Command; leaves: Map<CliCommand, { cmd: Command; options: Map<string, Option> }>; groups: Map<CommandGroup, Command> } {
  const root = new Command('seqrec')
    .description('sequential recall for Node.js: train, evaluate, serve and plot GRU4Rec, YouTube DNN, MIND and ComiRec')
    .usage('<command> [flags]')
    .helpCommand(false);
  const leaves = new Map<CliCommand, { cmd: Command; options: Map<string, Option> }>();
  const groups = new Map<CommandGroup, Command>();
  for (const c of COMMANDS) {
    if (isGroup(c)) {
      const group = new Command(c.name).description(c.summary).usage('<what> [flags]').helpCommand(false);
      root.addCommand(group);
      groups.set(c, group);
      for (const sub of c.subcommands) leaves.set(sub, leafProgram(sub, group));
    } else {
      leaves.set(c, leafProgram(c, root));
    }
  }
  return { root, leaves, groups };
}

/** Flags not in `table` (`--epoch`, `-x`), checked before commander parses anything. */
function checkFlags(args: readonly string[], def: CliCommand): void {
  for (let i = 0; i < args.length; i++) {
    const token = args[i];
    if (token === '--') return;
    if (!token.startsWith('-') || token === '-') continue;
    const name = token.startsWith('--') ? token.slice(2).split('=')[0] : token.slice(1);
    const key = Object.keys(def.flags).find((k) => kebab(k) === name);
    if (key === undefined) {
      const elsewhere = leafCommands()
        .filter((c) => c !== def && hasFlag(c.flags, name))
        .map((c) => c.name);
      throw unknownFlag(token.startsWith('--') ? name : token.slice(1), def.name, def.flags, elsewhere);
    }
    // The next token is this flag's value, even when it starts with '-'.
    if (def.flags[key].kind !== 'boolean' && !token.includes('=')) i++;
  }
}

const hasFlag = (table: FlagTable, name: string) => Object.keys(table).some((k) => kebab(k) === name);

/** Reads argv (without node and the script): help, a usage error, or a command to run. */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const { root, leaves, groups } = program();
  const first = argv[0];
  // helpInformation() leaves out addHelpText(): the closing lines are added here.
  const rootHelp = `${root.helpInformation()}\n\`seqrec <command> --help\` lists a command's flags.\n`;
  if (first === undefined) return { kind: 'help', text: rootHelp, exitCode: 2 };
  if (HELP_FLAGS.has(first)) return { kind: 'help', text: rootHelp, exitCode: 0 };
  const names = COMMANDS.map((c) => c.name);
  const top = COMMANDS.find((c) => c.name === first);
  if (!top) {
    const what = first.startsWith('-') ? `a command comes first, got '${first}'` : `unknown command '${first}'${didYouMean(first, names)}`;
    return { kind: 'error', where: 'seqrec', message: `${what}; seqrec --help lists the commands (${names.join(', ')})` };
  }
  let def: CliCommand;
  let rest: readonly string[];
  if (isGroup(top)) {
    const group = groups.get(top)!;
    const second = argv[1];
    if (second === undefined || HELP_FLAGS.has(second))
      return {
        kind: 'help',
        text: `${group.helpInformation()}\n\`seqrec ${top.name} <what> --help\` lists its flags.\n`,
        exitCode: second === undefined ? 2 : 0,
      };
    const subs = top.subcommands.map((s) => s.name.split(' ').pop()!);
    const sub = top.subcommands.find((s) => s.name === `${top.name} ${second}`);
    if (!sub)
      return {
        kind: 'error',
        where: `seqrec ${top.name}`,
        message: `say which: seqrec ${top.name} ${subs.join('|')} (got '${second}'${didYouMean(second, subs)})`,
      };
    def = sub;
    rest = argv.slice(2);
  } else {
    def = top;
    rest = argv.slice(1);
  }
  const { cmd, options } = leaves.get(def)!;
  const where = `seqrec ${def.name}`;
  const end = rest.indexOf('--');
  if ((end < 0 ? rest : rest.slice(0, end)).some((a) => HELP_FLAGS.has(a)))
    return { kind: 'help', text: `${cmd.helpInformation()}${def.notes ? `${def.notes}\n` : ''}`, exitCode: 0 };
  try {
    checkFlags(rest, def);
    cmd.parse(rest, { from: 'user' });
  } catch (err) {
    if (err instanceof SeqrecError) return { kind: 'error', where, message: err.message };
    if (err instanceof CommanderError)
      return { kind: 'error', where, message: `${err.message.replace(/^error: /, '').replace(/\.$/, '')}; ${where} --help lists its flags` };
    throw err;
  }
  const raw: Record<string, RawValue> = {};
  for (const [key, option] of options) {
    const value = cmd.getOptionValue(option.attributeName()) as RawValue;
    // `--no-cache` is commander's negation of `cache` (true unless given); the table's `noCache` is the switch itself.
    raw[key] = option.negate ? (value === false ? true : undefined) : value;
  }
  return { kind: 'run', command: def, raw };
}
