// Component identities (name + SVCUID token), their configuration, accessControl policies, lifecycle
// state, and the configuration-change protocol: validators first, then update notifications
// (docs/greengrass-ipc.md: GetConfiguration … SendConfigurationValidityReport; policies reload on change).
import { randomBytes, randomUUID } from 'node:crypto';
import { isAuthorized, type Policy, type PolicyProblem, parseAccessControl } from './authorization.ts';
import { changedPaths, isJsonObject, type JsonObject, mergeAtPath, pathsOverlap } from './componentConfig.ts';

export interface Component {
  name: string;
  token: string;
  config: JsonObject;
  policies: Policy[];
  state: string;
  /** ms; UpdateConfiguration with an older timestamp fails (IPC guide, UpdateConfiguration). */
  lastModifiedMs: number;
}

export type ConfigListener = (event: { componentName: string; keyPath: string[] }) => void;
export type ValidateListener = (event: { configuration: JsonObject; deploymentId: string }) => void;

export type ValidityStatus = 'ACCEPTED' | 'REJECTED';
export type ChangeResult = { applied: true; changed: string[][] } | { applied: false; reason: string };

interface PendingValidation {
  component: string;
  remaining: number;
  settle: (result: { ok: true } | { ok: false; reason: string }) => void;
}

/** SVCUID: 16 random characters, upper case (nucleus ipc/AuthenticationHandler.java). */
export function newToken(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return [...randomBytes(16)].map((b) => alphabet[b % alphabet.length]).join('');
}

export class ComponentStore {
  private readonly byName = new Map<string, Component>();
  private readonly byToken = new Map<string, string>();
  private readonly configListeners = new Map<string, Set<{ keyPath: string[]; listener: ConfigListener }>>();
  private readonly validators = new Map<string, Set<ValidateListener>>();
  private readonly pending = new Map<string, PendingValidation>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly validationTimeoutMs: number;
  private readonly onPolicyProblem: (component: string, problem: PolicyProblem) => void;

  constructor(validationTimeoutMs: number, onPolicyProblem: (component: string, problem: PolicyProblem) => void) {
    this.validationTimeoutMs = validationTimeoutMs;
    this.onPolicyProblem = onPolicyProblem;
  }

  add(name: string, config: JsonObject, token: string = newToken()): Component {
    const old = this.byName.get(name);
    if (old) this.byToken.delete(old.token);
    const c: Component = { name, token, config: structuredClone(config), policies: [], state: 'NEW', lastModifiedMs: 0 };
    this.reloadPolicies(c);
    this.byName.set(name, c);
    this.byToken.set(token, name);
    return c;
  }

  get(name: string): Component | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  tokens(): Record<string, string> {
    return Object.fromEntries([...this.byName.values()].map((c) => [c.name, c.token]));
  }

  nameForToken(token: string): string | null {
    return this.byToken.get(token) ?? null;
  }

  authorized(component: string, service: string, operation: string, resource: string): boolean {
    const c = this.byName.get(component);
    return c !== undefined && isAuthorized(c.policies, service, operation, resource);
  }

  setState(component: string, state: string): boolean {
    const c = this.byName.get(component);
    if (!c) return false;
    c.state = state;
    return true;
  }

  subscribeConfig(component: string, keyPath: string[], listener: ConfigListener): () => void {
    const set = this.configListeners.get(component) ?? new Set();
    this.configListeners.set(component, set);
    const entry = { keyPath, listener };
    set.add(entry);
    return () => set.delete(entry);
  }

  subscribeValidation(component: string, listener: ValidateListener): () => void {
    const set = this.validators.get(component) ?? new Set();
    this.validators.set(component, set);
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Record one validity report; false when no such validation is waiting (timed out or never made). */
  report(component: string, deploymentId: string, status: ValidityStatus, message: string | undefined): boolean {
    const p = this.pending.get(deploymentId);
    if (!p || p.component !== component) return false;
    if (status === 'REJECTED') {
      p.settle({ ok: false, reason: message ?? 'rejected by the component' });
    } else if (--p.remaining <= 0) {
      p.settle({ ok: true });
    }
    return true;
  }

  /**
   * Merge `value` at `keyPath` into a component's configuration. Validation subscribers see the
   * candidate first; one REJECTED report, or no answer within the timeout, refuses the change (a
   * deployment with an unanswered validation fails; the nucleus's default wait is longer — ours is an
   * option). Changes are serialized so validations never interleave.
   */
  change(component: string, keyPath: string[], value: unknown, nowMs: number): Promise<ChangeResult> {
    const run = async (): Promise<ChangeResult> => {
      const c = this.byName.get(component);
      if (!c) return { applied: false, reason: `component ${component} not found` };
      const candidate = mergeAtPath(c.config, keyPath, value);
      if (!isJsonObject(candidate)) return { applied: false, reason: 'configuration must stay an object' };
      const verdict = await this.validate(c, candidate);
      if (!verdict.ok) return { applied: false, reason: verdict.reason };
      const changed = changedPaths(c.config, candidate);
      c.config = candidate;
      c.lastModifiedMs = nowMs;
      if (changed.some((p) => p[0] === 'accessControl')) this.reloadPolicies(c);
      this.notify(c.name, changed);
      return { applied: true, changed };
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private validate(c: Component, candidate: JsonObject): Promise<{ ok: true } | { ok: false; reason: string }> {
    const listeners = [...(this.validators.get(c.name) ?? [])];
    if (listeners.length === 0) return Promise.resolve({ ok: true });
    const deploymentId = randomUUID();
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle({ ok: false, reason: 'validation timed out' }), this.validationTimeoutMs);
      const settle = (r: { ok: true } | { ok: false; reason: string }): void => {
        if (!this.pending.has(deploymentId)) return;
        this.pending.delete(deploymentId);
        clearTimeout(timer);
        resolve(r);
      };
      this.pending.set(deploymentId, { component: c.name, remaining: listeners.length, settle });
      for (const l of listeners) l({ configuration: structuredClone(candidate), deploymentId });
    });
  }

  private notify(component: string, changed: string[][]): void {
    const set = this.configListeners.get(component);
    if (!set) return;
    for (const path of changed) {
      for (const { keyPath, listener } of [...set]) {
        if (pathsOverlap(keyPath, path)) listener({ componentName: component, keyPath: path });
      }
    }
  }

  private reloadPolicies(c: Component): void {
    const { policies, problems } = parseAccessControl(c.config.accessControl);
    c.policies = policies;
    for (const p of problems) this.onPolicyProblem(c.name, p);
  }
}
