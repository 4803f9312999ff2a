/**
 * DuckDB (a dev dependency) as the warehouse in tests: it writes the Parquet files rec reads and
 * reads back the Parquet files rec writes.
 */
import { DuckDBInstance } from '@duckdb/node-api';

/** Runs each statement in a fresh in-memory DuckDB; returns the rows of the last (values as DuckDB's JS values). */
export async function duckdb(...statements: string[]): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    await con.run('SET threads = 1');
    let last: Record<string, unknown>[] = [];
    for (const sql of statements) {
      const reader = await con.runAndReadAll(sql);
      last = reader.getRowObjectsJS() as Record<string, unknown>[];
    }
    return last;
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

/** A single-quoted SQL string literal. */
export function q(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
