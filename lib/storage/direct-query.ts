import { QueryFailedError, type DataSource } from 'typeorm';

/** Rows of a SELECT, or the affected-row count of a write. */
export interface DirectResult {
  records: Record<string, unknown>[];
  affected: number | undefined;
}

/** Runs one statement on a pooled connection. */
export type DirectQuery = (sql: string, parameters: unknown[]) => Promise<DirectResult>;

interface MysqlPool {
  query(
    options: { sql: string; timeout?: number },
    values: unknown[],
    callback: (error: Error | null, result: unknown) => void,
  ): void;
}

interface PostgresPool {
  query(
    sql: string,
    values: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/**
 * The request path's statements straight on the driver's own pool underneath the data source
 * (mysql2, pg), without a TypeORM query runner per statement (its connect, broadcaster and result
 * wrapping cost about as much CPU as the statement itself). Everything that bounds a wait stays:
 * the same pool (pool size, acquire and connect timeouts), the same per-statement timeout
 * (`enableQueryTimeout` + `maxQueryExecutionTime` on MySQL; `statement_timeout` / `query_timeout`
 * of the pg pool), and errors are TypeORM's `QueryFailedError` with the driver error inside, as
 * before. The data source's logger still sees every statement. `undefined` for other drivers, a
 * replicated MySQL pool cluster, or a data source that is not initialised: the caller keeps
 * TypeORM's query runner.
 */
export function directQuery(dataSource: DataSource): DirectQuery | undefined {
  if (!dataSource.isInitialized) return undefined;
  const { type } = dataSource.options;
  const { logger } = dataSource;
  const failed = (sql: string, parameters: unknown[], error: unknown) => {
    logger.logQueryError(error as Error, sql, parameters);
    return new QueryFailedError(sql, parameters, error as Error);
  };
  if (type === 'mysql' || type === 'mariadb') {
    const driver = dataSource.driver as unknown as { pool?: MysqlPool; poolCluster?: unknown };
    const { pool } = driver;
    if (!pool || driver.poolCluster) return undefined;
    const options = dataSource.options as { enableQueryTimeout?: boolean; maxQueryExecutionTime?: number };
    const timeout = options.enableQueryTimeout ? options.maxQueryExecutionTime || undefined : undefined;
    return (sql, parameters) =>
      new Promise((resolve, reject) => {
        logger.logQuery(sql, parameters);
        pool.query({ sql, timeout }, parameters, (error, result) => {
          if (error) return reject(failed(sql, parameters, error));
          if (Array.isArray(result))
            resolve({ records: result as Record<string, unknown>[], affected: undefined });
          else resolve({ records: [], affected: (result as { affectedRows?: number }).affectedRows });
        });
      });
  }
  if (type === 'postgres') {
    const driver = dataSource.driver as unknown as {
      master?: PostgresPool;
      options: { replication?: unknown };
    };
    const pool = driver.master;
    if (!pool || driver.options.replication) return undefined;
    return async (sql, parameters) => {
      logger.logQuery(sql, parameters);
      try {
        const result = await pool.query(sql, parameters);
        return { records: result.rows, affected: result.rowCount ?? undefined };
      } catch (error) {
        throw failed(sql, parameters, error);
      }
    };
  }
  return undefined;
}
