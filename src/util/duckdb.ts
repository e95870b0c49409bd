/**
 * The one adapter over DuckDB (`@duckdb/node-api`, an optional peer that ships its binary):
 * imported on first use, with an install hint when it is missing.
 */
import { loadOptional } from './optional.js';

export type DuckDB = typeof import('@duckdb/node-api');
export type DuckDBConnection = import('@duckdb/node-api').DuckDBConnection;
export type DuckDBAppender = import('@duckdb/node-api').DuckDBAppender;

/** A connection to a fresh in-memory database (it spills to disk past its memory limit) and its closer. */
export async function openDuckDB(neededFor: string): Promise<{ connection: DuckDBConnection; close(): void }> {
  const duckdb = await loadOptional('@duckdb/node-api', neededFor, () => import('@duckdb/node-api'));
  const instance = await duckdb.DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  return {
    connection,
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}
