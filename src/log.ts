import { type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** 1 = stdout (Greengrass captures it into the component log), 2 = stderr (commands whose stdout is data). */
  fd?: 1 | 2;
  name?: string;
}

/**
 * The one root logger of a process; modules take `root.child({ module: '…' })`. Levels are written as
 * words ("level":"warn"): Greengrass stores a component's stdout as INFO whatever it says, so a number
 * would be the only, and an obscure, sign of a warning in its log.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (process.env.DEFENDER_EDGE_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  return pino(
    { name: options.name ?? 'defender-edge', level, base: { pid: process.pid }, formatters: { level: (label) => ({ level: label }) } },
    pino.destination({ fd: options.fd ?? 1, sync: true }),
  );
}

/** A logger that drops everything: for tests and pure library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
