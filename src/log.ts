// Logging with pino, one convention everywhere:
// - a caught error goes in the `err` field as it is, `log.error({ err, ...context }, 'constant message')`;
//   pino's default err serializer writes its type, message, stack and own properties (a CommandError's
//   kind and stderr, an IpcError's errorCode): https://github.com/pinojs/pino-std-serializers;
// - a problem known only as text (a parse result, a `path: message`) goes in `reason`, a list of them in
//   `errors`;
// - the message is a constant sentence: values go in fields, never into the message.
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
