/**
 * PostgreSQL + pgvector retrieval (pg and pgvector are optional), split by concern under
 * ./pgvector/: loading the drivers (driver.ts), options and table names (options.ts), the
 * item table and its registry (store.ts), the retriever (retriever.ts).
 */
export { PgvectorRetriever, type PgvectorOpenOptions } from './pgvector/retriever.js';
export { writeItemTable, type ItemTableInfo, type WriteItemTableOptions, type WriteItemTableResult } from './pgvector/store.js';
export {
  itemTableName,
  PGVECTOR_DEFAULTS,
  REGISTRY_TABLE,
  ITEM_TABLE_PREFIX,
  type PgvectorConnectOptions,
  type PgvectorIndexOptions,
  type ResolvedIndex,
} from './pgvector/options.js';
export { PG_INSTALL_HINT } from './pgvector/driver.js';
