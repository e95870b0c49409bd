/** What a `seqrec` command declares: its flags, its help, whether it needs TF.js, and its run. */
import { parseFlags, type FlagTable, type FlagValues, type RawValue } from './flags.js';

export type Log = (line: string) => void;

export interface CommandInfo {
  /** 'train', or 'plot curves' for a subcommand. */
  readonly name: string;
  /** One line for `seqrec --help`. */
  readonly summary: string;
  /** Usage after `seqrec <name>` in the command's help, e.g. '--data FILE [flags]'. */
  readonly usage?: string;
  /** Text after the flag list in `seqrec <name> --help`. */
  readonly notes?: string;
  readonly flags: FlagTable;
  /**
   * Whether the command runs tensors (the backend is started only for these); a function
   * decides from the flag values (`serve --workers 2`: the primary process runs none).
   */
  readonly backend: boolean;
  /** Environment defaults applied before the backend starts (unset variables only). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface CliCommand extends CommandInfo {
  /** Validates the raw flags (a `SeqrecError` naming the flag) and returns the run (resolving with an exit code, or nothing for 0). */
  prepare(raw: Readonly<Record<string, RawValue>>): { needsBackend: boolean; backend?: string; run: (log: Log) => Promise<number | void> };
}

/** A command whose run receives options typed by its flag table. */
export function defineCommand<T extends FlagTable>(
  info: Omit<CommandInfo, 'backend'> & {
    flags: T;
    backend: boolean | ((values: FlagValues<T>) => boolean);
    run: (values: FlagValues<T>, log: Log) => Promise<number | void>;
  },
): CliCommand {
  const { run, backend: needs, ...rest } = info;
  return {
    ...rest,
    backend: needs !== false,
    prepare(raw) {
      const values = parseFlags(info.flags, raw);
      const backend = (values as { backend?: unknown }).backend;
      const needsBackend = typeof needs === 'function' ? needs(values) : needs;
      return { needsBackend, backend: typeof backend === 'string' ? backend : undefined, run: (log) => run(values, log) };
    },
  };
}

/** Commands grouped under one name: `seqrec plot curves`, `seqrec setup faiss`. */
export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly subcommands: readonly CliCommand[];
}
