import { SeqrecError } from '../errors.js';

/**
 * When `seqrec train` stops besides its epochs: `--max-minutes` (the Trainer's `maxSeconds`) and
 * Ctrl-C. The first SIGINT stops training cleanly (after the batch under way, which is dropped
 * with its epoch; the best epoch's weights are evaluated, written and reported, as after early
 * stopping); a second one exits at once with 130, the shell's code for SIGINT.
 */
export function trainingStops(
  maxMinutes: number | undefined,
  log: (line: string) => void,
): { options: { maxSeconds?: number; signal: AbortSignal }; trained(epochs: number): void; dispose(): void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
    log('\ninterrupted: stopping after this batch and evaluating the best epoch (Ctrl-C again to quit now)');
  };
  process.on('SIGINT', onSigint);
  return {
    options: { maxSeconds: maxMinutes === undefined ? undefined : maxMinutes * 60, signal: controller.signal },
    /** Refuses to go on to evaluation when no epoch finished. */
    trained(epochs) {
      if (epochs === 0) throw new SeqrecError('interrupted', 'training was interrupted before its first epoch ended: nothing to evaluate');
    },
    dispose: () => process.off('SIGINT', onSigint),
  };
}
