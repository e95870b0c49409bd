/**
 * Ctrl-C during `seqrec train`: the first SIGINT stops training cleanly (the epoch under way is
 * dropped, the best epoch's weights are evaluated, written and reported, as after early
 * stopping); a second one exits at once with 130, the shell's code for SIGINT.
 */
export function interruptOnSigint(log: (line: string) => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
    log('\ninterrupted: stopping after this batch and evaluating the best epoch (Ctrl-C again to quit now)');
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onSigint) };
}
