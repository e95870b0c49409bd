/** Packages a models-only user does not need; none of them may be loaded by `import 'seqrec'`. */
export const HEAVY = [
  'fastify',
  'pg',
  'pgvector',
  '@electric-sql/pglite',
  '@resvg/resvg-js',
  'umap-js',
  'vega',
  'vega-lite',
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-layers',
  '@tensorflow/tfjs-converter',
  '@tensorflow/tfjs-data',
  '@tensorflow/tfjs-backend-webgl',
];
