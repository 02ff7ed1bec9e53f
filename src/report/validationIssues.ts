// Collects `path: message` errors and warnings while a report is read. Bounded: after `maxErrors` the
// reader stops early (`full`), so a hostile array of a million bad items costs no more than a few.

export const MAX_ERRORS = 20;

export class ValidationIssues {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  readonly maxErrors: number;

  constructor(maxErrors = MAX_ERRORS) {
    this.maxErrors = maxErrors;
  }

  error(path: string, message: string): void {
    if (this.errors.length < this.maxErrors) this.errors.push(`${path}: ${message}`);
  }

  warn(path: string, message: string): void {
    if (this.warnings.length < this.maxErrors) this.warnings.push(`${path}: ${message}`);
  }

  get full(): boolean {
    return this.errors.length >= this.maxErrors;
  }
}

/**
 * `a` + `b` → `a.b`, with the root written `(root)` only when it stands alone. A key that is not a plain
 * name (empty, spaces, `: `, newlines, quotes, control characters — anything a hostile device may send)
 * is shown JSON-quoted in brackets, `a[" x: y"]`, so the error stays one unambiguous `path: message`.
 */
export function childPath(parent: string, key: string): string {
  // A hostile key can be 100 KB long; an error message only needs enough of it to be recognised.
  const cut = key.length > MAX_KEY_SHOWN ? `${key.slice(0, MAX_KEY_SHOWN)}…` : key;
  if (!PLAIN_KEY.test(key)) return `${parent}[${JSON.stringify(cut)}]`;
  return parent === '' ? cut : `${parent}.${cut}`;
}

// Field names, custom metric names (API CreateCustomMetric: letters, digits, `:`, `_`, `-`) and ports.
const PLAIN_KEY = /^[A-Za-z0-9_:$-]+$/;

const MAX_KEY_SHOWN = 64;

export function shownPath(path: string): string {
  return path === '' ? '(root)' : path;
}

/** Non-negative (or positive) safe integer check with the message the validator uses. */
export function integerProblem(value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): string | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number';
  if (!Number.isInteger(value)) return 'must be an integer';
  if (value < min) return min === 1 ? 'must be a positive integer' : `must be >= ${min}`;
  if (value > max) return `must be <= ${max}`;
  return null;
}

// With the `u` flag an unpaired surrogate is a code point of category Cs; a paired one is not.
const LONE_SURROGATE = /\p{Cs}/u;

/** A string that encodes to UTF-8 without loss (String.prototype.isWellFormed, not in our ES2023 lib). */
export function isWellFormedString(value: unknown): value is string {
  return typeof value === 'string' && !LONE_SURROGATE.test(value);
}
