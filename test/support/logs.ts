import type { LoggerService } from '@nestjs/common';
import { format } from 'node:util';

/*
 * A green run prints test names and the summary only. How to keep it that way:
 * - Apps built by createHttpApp/createEngineApp log into `app.logs` (a CapturedLogs), not the
 *   console. A test that expects the library to log (a store failure, a throwing listener) asserts
 *   the line, e.g. `expect(http.logs.take('ERROR')).toEqual([expect.stringContaining('...')])`.
 *   Building an app yourself? Pass `captureLogs()` as its `logger` (or to `.setLogger()`).
 *   Nest's `new Logger(context)` instances follow the app created LAST in the process.
 * - TypeORM data sources get `silentTypeOrmLogger` (see sessionDatabaseModule): fault tests make
 *   every query slow, and TypeORM prints slow queries whatever `logging` says.
 * - Figures worth keeping (soak, races) go to test/reliability/results/, not stdout.
 * - test/support/no-noise.setup.ts (vitest `setupFiles`) fails the test during which a Nest
 *   ERROR/WARN line, a TypeORM query dump, console.error or console.warn reaches the output.
 *   A deliberate notice (e.g. "mariadb is unreachable") is a console.warn framed by `***`.
 */

/** A log level of Nest's `LoggerService`, upper-cased as Nest prints it. */
export type LogLevelName = 'LOG' | 'ERROR' | 'WARN' | 'DEBUG' | 'VERBOSE' | 'FATAL';

/** A Nest logger that keeps `LEVEL [Context] message` lines instead of printing them. */
export class CapturedLogs implements LoggerService {
  /** Every line so far, oldest first. */
  readonly lines: string[] = [];

  log(message: unknown, ...optional: unknown[]): void {
    this.push('LOG', message, optional);
  }
  error(message: unknown, ...optional: unknown[]): void {
    this.push('ERROR', message, optional);
  }
  warn(message: unknown, ...optional: unknown[]): void {
    this.push('WARN', message, optional);
  }
  debug(message: unknown, ...optional: unknown[]): void {
    this.push('DEBUG', message, optional);
  }
  verbose(message: unknown, ...optional: unknown[]): void {
    this.push('VERBOSE', message, optional);
  }
  fatal(message: unknown, ...optional: unknown[]): void {
    this.push('FATAL', message, optional);
  }

  /** Removes and answers the lines of `level`, so the next assertion sees only new ones. */
  take(level: LogLevelName): string[] {
    const taken: string[] = [];
    for (let i = 0; i < this.lines.length;) {
      if (this.lines[i].startsWith(`${level} `)) taken.push(...this.lines.splice(i, 1));
      else i++;
    }
    return taken;
  }

  private push(level: LogLevelName, message: unknown, optional: unknown[]): void {
    // Nest passes the logger's context last; an error's stack may come before it.
    const context = typeof optional.at(-1) === 'string' ? (optional.at(-1) as string) : undefined;
    const text = typeof message === 'string' ? message : format(message);
    this.lines.push(`${level} ${context ? `[${context}] ` : ''}${text}`);
  }
}

/** A logger for a test app that keeps its lines for assertions (see the notes above). */
export function captureLogs(): CapturedLogs {
  return new CapturedLogs();
}
