/** `seqrec setup <what>`: native extras, one subcommand each (faiss-node; seqrec's own native kernels). */
import { defineCommand, type CommandGroup } from '../command.js';
import { bool } from '../flags.js';
import { setupFaiss } from '../setup/faiss.js';
import { setupNative } from '../setup/native.js';
import { SetupFailed } from '../setup/system.js';

export const setupGroup: CommandGroup = {
  name: 'setup',
  summary: 'install optional native parts into your project: faiss, native',
  subcommands: [
    defineCommand({
      name: 'setup faiss',
      summary: "make require('faiss-node') work for this project's seqrec (builds it against Debian's libfaiss-dev when needed)",
      notes:
        "\nInstalls into <project>/node_modules/faiss-node, where <project> is the nearest package.json above\nnpm's INIT_CWD or the working directory, and verifies it the way that project's seqrec loads it.\nExit codes: 0 works, 1 failed, 2 system packages missing and not root (the apt-get line is printed).",
      flags: {
        force: bool('rebuild even if faiss-node works'),
        check: bool('only verify (exit 1 if faiss-node does not work)'),
        noCache: bool('neither read nor write the build cache (~/.cache/seqrec, or $SEQREC_CACHE_DIR)'),
      },
      backend: false,
      async run(values, log) {
        try {
          return await setupFaiss({ ...values, say: (line) => process.stdout.write(`seqrec setup faiss: ${line}\n`) });
        } catch (err) {
          if (!(err instanceof SetupFailed)) throw err;
          log(`seqrec setup faiss: ${err.message}`);
          return err.exitCode;
        }
      },
    }),
    defineCommand({
      name: 'setup native',
      summary: "build seqrec's native kernels (OpenBLAS sgemm, AVX2/OpenMP kernels) against Debian's libopenblas-dev",
      notes:
        "\nBuilds into <seqrec>/native/build/Release/seqrec_native.node of the seqrec your project uses (the nearest\npackage.json above npm's INIT_CWD or the working directory), where seqrec loads it; SEQREC_NATIVE=0 turns it off.\nExit codes: 0 works, 1 failed, 2 system packages missing and not root (the apt-get line is printed).",
      flags: {
        force: bool('rebuild even if the addon works'),
        check: bool('only verify (exit 1 if the addon does not work or was built from other sources)'),
        noCache: bool('neither read nor write the build cache (~/.cache/seqrec, or $SEQREC_CACHE_DIR)'),
      },
      backend: false,
      async run(values, log) {
        try {
          return await setupNative({ ...values, say: (line) => process.stdout.write(`seqrec setup native: ${line}\n`) });
        } catch (err) {
          if (!(err instanceof SetupFailed)) throw err;
          log(`seqrec setup native: ${err.message}`);
          return err.exitCode;
        }
      },
    }),
  ],
};
