// Which metric sources failed this sample, and logging each failure ONCE: a failing source degrades only its
// metrics and is logged once with the reason; the rest keeps sampling.
import type { Logger } from '../log.ts';
import { CommandError } from '../system/commandRunner.ts';

/** How long a metric source's command (ss, ip, nft) may take: a sample must not wait longer for one source. */
export const SOURCE_COMMAND_TIMEOUT_MS = 5000;

export class SourceHealth {
  private readonly failing = new Map<string, string>();
  private current: string[] = [];
  private readonly logger: Logger;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  beginSample(): void {
    this.current = [];
  }

  /** Record a failure; warns only when the source starts failing or its reason changes. */
  fail(source: string, err: unknown): void {
    const reason = reasonOf(err);
    this.current.push(`${source}: ${reason}`);
    if (this.failing.get(source) !== reason) {
      this.failing.set(source, reason);
      this.logger.warn({ err, source }, 'metric source degraded; its metrics are left out until it recovers');
    }
  }

  ok(source: string): void {
    if (this.failing.delete(source)) this.logger.info({ source }, 'metric source recovered');
  }

  /** `source: reason` for every source that failed in this sample (HostSample.degraded). */
  degraded(): string[] {
    return [...this.current];
  }
}

export function reasonOf(err: unknown): string {
  if (err instanceof CommandError) return err.message;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `not found (${(err as NodeJS.ErrnoException).path ?? err.message})`;
    if (code === 'EACCES' || code === 'EPERM') return `permission denied (${(err as NodeJS.ErrnoException).path ?? err.message})`;
    return err.message;
  }
  return String(err);
}
