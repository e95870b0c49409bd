/**
 * Loading an optional dependency (fastify for serve, resvg and umap-js for plot, faiss-node) on
 * first use, with an error that says how to install it instead of Node's bare
 * ERR_MODULE_NOT_FOUND.
 */
import { SeqrecError } from '../errors.js';

/** `import(name)`, or `backend_unavailable` naming what needs it and the install command. */
export async function loadOptional<T>(name: string, neededFor: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new SeqrecError('backend_unavailable', `${neededFor} needs the optional package '${name}', which is not installed: npm install ${name}`, {
        field: name,
      });
    }
    throw err;
  }
}
