// The last configuration that passed validation, persisted atomically, so that a restart while offline
// (no GetConfiguration answer, or a nucleus that comes up later) enforces at once with what it had.
// The raw object is stored (defaults are filled in again on load, by the current schema) and it is
// validated again on load: a file written by an older version that no longer validates is not trusted.
import { readJsonFile, writeFileAtomic } from '../store/atomicFile.ts';
import type { ComponentConfig } from './schema.ts';
import { type ConfigCheck, validateConfig } from './validate.ts';

export type LastGoodLoad =
  | { kind: 'missing' }
  | { kind: 'ok'; config: ComponentConfig; raw: Record<string, unknown>; savedAt: number }
  | { kind: 'invalid'; errors: string[] }
  | { kind: 'corrupt'; error: string; quarantinedTo: string };

interface Saved {
  savedAt: number;
  config: Record<string, unknown>;
}

export class LastGoodConfigStore {
  readonly path: string;
  private readonly checks: readonly ConfigCheck[];

  constructor(path: string, checks: readonly ConfigCheck[] = []) {
    this.path = path;
    this.checks = checks;
  }

  /**
   * Validate `raw` and persist it only if valid. Returns the validation result: the caller applies the
   * config on ok and keeps the previous one otherwise. `nowMs` is passed in (no clock here).
   * Throws if a valid configuration cannot be written (disk full, read-only): the caller decides whether
   * to apply it anyway; it must not be reported as persisted.
   */
  saveIfValid(raw: unknown, nowMs: number): ReturnType<typeof validateConfig> {
    const r = validateConfig(raw, this.checks);
    if (r.ok) this.saveValidated(raw as Record<string, unknown>, nowMs);
    return r;
  }

  /** Persist a raw configuration the caller has just validated with the same checks. Throws like saveIfValid. */
  saveValidated(raw: Record<string, unknown>, nowMs: number): void {
    const saved: Saved = { savedAt: nowMs, config: raw };
    writeFileAtomic(this.path, JSON.stringify(saved));
  }

  load(): LastGoodLoad {
    const r = readJsonFile<Saved>(this.path, (x) => {
      const o = x as Partial<Saved> | null;
      return typeof o === 'object' && o !== null && typeof o.savedAt === 'number' && typeof o.config === 'object' && o.config !== null
        ? null
        : 'not a saved configuration';
    });
    if (r.kind !== 'ok') return r;
    const v = validateConfig(r.value.config, this.checks);
    if (!v.ok) return { kind: 'invalid', errors: v.errors };
    return { kind: 'ok', config: v.config, raw: r.value.config, savedAt: r.value.savedAt };
  }
}
