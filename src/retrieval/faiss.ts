/**
 * faiss-backed retrieval (faiss-node, optional), split by concern under ./faiss/: loading the
 * native addon (native.ts), the retriever (retriever.ts), search-parameter calibration
 * (calibrate.ts), saving and reading the index with its sidecar (persist.ts).
 */
export { FaissRetriever } from './faiss/retriever.js';
export type { FaissRetrieverOptions, FaissLoadOptions } from './faiss/options.js';
export { FAISS_INSTALL_HINT, faissAvailable, faissNodeVersion, loadFaissNode } from './faiss/native.js';
export { FAISS_SIDECAR_FORMAT, FAISS_SIDECAR_VERSION, FaissSidecarSchema, type FaissIndexSidecar } from './faiss/persist.js';
export { minTrainingRows } from './faiss/checks.js';
export type { CalibrationReport } from './faiss/calibrate.js';
