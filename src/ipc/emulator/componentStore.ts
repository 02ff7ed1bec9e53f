// Component identities (name + SVCUID token), their version, recipe defaults, configuration,
// accessControl policies and lifecycle state; configuration-update subscribers; and the validation
// protocol of the Java nucleus (aws-greengrass-nucleus builtin/services/configstore
// ConfigStoreIPCEventStreamAgent.java):
// - one validation listener per component: the first SubscribeToValidateConfigurationUpdates registers it
//   (computeIfAbsent), a second one is answered but gets no events, and closing any of them removes it;
// - a validity report is accepted only for a validation still waiting; only REJECTED refuses.
import { randomBytes, randomUUID } from 'node:crypto';
import { isPlainObject } from '../../plainObject.ts';
import { isAuthorized, type Policy, type PolicyProblem, parseAccessControl } from './authorization.ts';
import { changedPaths, type JsonObject, pathsOverlap } from './componentConfig.ts';
import type { NucleusFlavor } from './flavor.ts';

export interface Component {
  name: string;
  token: string;
  /** Has an IPC identity that is printed with the tokens (the recipe's component, `component`, deployed ones). */
  identity: boolean;
  version: string | undefined;
  /** The recipe's DefaultConfiguration (what a deployment's reset goes back to). */
  defaults: JsonObject;
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
export type Validation = { ok: true; requested: boolean } | { ok: false; reason: string; timedOut: boolean };

interface PendingValidation {
  settle: (result: Validation) => void;
}

/** SVCUID: 16 random characters, upper case (nucleus ipc/AuthenticationHandler.java); also valid base64 of 12 bytes (lite). */
export function newToken(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return [...randomBytes(16)].map((b) => alphabet[b % alphabet.length]).join('');
}

export interface AddOptions {
  token?: string;
  identity?: boolean;
  version?: string;
  defaults?: JsonObject;
}

export interface ComponentStoreOptions {
  flavor: NucleusFlavor;
  thingName: string;
  onPolicyProblem: (component: string, problem: PolicyProblem) => void;
}

export class ComponentStore {
  private readonly byName = new Map<string, Component>();
  private readonly byToken = new Map<string, string>();
  private readonly configListeners = new Map<string, Set<{ keyPath: string[]; listener: ConfigListener }>>();
  private readonly validators = new Map<string, ValidateListener>();
  private readonly pending = new Map<string, PendingValidation>();
  private readonly options: ComponentStoreOptions;

  constructor(options: ComponentStoreOptions) {
    this.options = options;
  }

  add(name: string, config: JsonObject, options: AddOptions = {}): Component {
    const old = this.byName.get(name);
    if (old) this.byToken.delete(old.token);
    const token = options.token ?? newToken();
    const c: Component = {
      name,
      token,
      identity: options.identity ?? true,
      version: options.version,
      defaults: structuredClone(options.defaults ?? {}),
      config: structuredClone(config),
      policies: [],
      state: 'NEW',
      lastModifiedMs: 0,
    };
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

  /** Tokens of the components with an IPC identity. */
  tokens(): Record<string, string> {
    return Object.fromEntries([...this.byName.values()].filter((c) => c.identity).map((c) => [c.name, c.token]));
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

  /**
   * Register a component's validation listener unless it has one; the returned function, called when this
   * stream closes, removes the component's listener whichever stream registered it.
   */
  subscribeValidation(component: string, listener: ValidateListener): () => void {
    if (!this.validators.has(component)) this.validators.set(component, listener);
    return () => {
      this.validators.delete(component);
    };
  }

  /** Record one validity report; false when no such validation is waiting (timed out or never made). */
  report(component: string, deploymentId: string, status: string | undefined, message: string | undefined): boolean {
    const p = this.pending.get(`${component}\u0000${deploymentId}`);
    if (!p) return false;
    if (status === 'REJECTED') p.settle({ ok: false, reason: message ?? 'rejected by the component', timedOut: false });
    else p.settle({ ok: true, requested: true });
    return true;
  }

  /**
   * Ask a component's validation listener about a candidate configuration and wait for its report (or the
   * timeout). No listener: nothing is asked and the candidate passes.
   */
  validate(component: string, candidate: JsonObject, deploymentId: string, timeoutMs: number): Promise<Validation> {
    const listener = this.validators.get(component);
    if (!listener) return Promise.resolve({ ok: true, requested: false });
    const key = `${component}\u0000${deploymentId}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle({ ok: false, reason: 'validation timed out', timedOut: true }), timeoutMs);
      const settle = (r: Validation): void => {
        if (!this.pending.has(key)) return;
        this.pending.delete(key);
        clearTimeout(timer);
        resolve(r);
      };
      this.pending.set(key, { settle });
      try {
        listener({ configuration: structuredClone(candidate), deploymentId });
      } catch (err) {
        settle({
          ok: false,
          reason: `Error requesting validation from component ${component}: ${(err as Error).message}`,
          timedOut: false,
        });
      }
    });
  }

  /** Install a new configuration (and version); reloads policies and notifies subscribers. */
  commit(component: string, config: JsonObject, nowMs: number, version?: string): string[][] {
    const c = this.byName.get(component);
    if (!c) throw new Error(`component ${component} not found`);
    const changed = changedPaths(c.config, config);
    c.config = structuredClone(config);
    if (version !== undefined) c.version = version;
    if (changed.length > 0) c.lastModifiedMs = nowMs;
    if (changed.some((p) => p[0] === 'accessControl')) this.reloadPolicies(c);
    this.notify(c.name, changed);
    return changed;
  }

  /** A fresh deployment id for validation requests. */
  static deploymentId(): string {
    return randomUUID();
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
    const { policies, problems } = parseAccessControl(isPlainObject(c.config) ? c.config.accessControl : undefined, {
      flavor: this.options.flavor,
      thingName: this.options.thingName,
    });
    c.policies = policies;
    for (const p of problems) this.onPolicyProblem(c.name, p);
  }

  private onPolicyProblem(component: string, p: PolicyProblem): void {
    this.options.onPolicyProblem(component, p);
  }
}
