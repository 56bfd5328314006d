/** A pino-compatible logger for specs that records every call as [level, fields, message]. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export type LogCall = [level: LogLevel, fields: Record<string, unknown>, message: string | undefined];

export interface CollectingLogger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  fatal(fields: object, message?: string): void;
  calls: LogCall[];
  /** Calls at `level` whose fields contain every given key/value. */
  find(level: LogLevel, match?: Record<string, unknown>): LogCall[];
}

export function collectingLogger(): CollectingLogger {
  const calls: LogCall[] = [];
  const at = (level: LogLevel) => (fields: object, message?: string) => {
    calls.push([level, { ...(fields as Record<string, unknown>) }, message]);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    calls,
    find(level, match = {}) {
      return calls.filter(([l, fields]) => l === level && Object.entries(match).every(([k, v]) => Object.is(fields[k], v)));
    },
  };
}
