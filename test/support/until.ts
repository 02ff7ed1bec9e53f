// The one polling helper of the tests. Not a test file.

type Falsy = undefined | null | false;

/** A predicate's source, for the timeout message when the caller names no condition. */
function describe(fn: () => unknown): string {
  const text = fn.toString().replace(/\s+/g, ' ').trim();
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}

/**
 * Poll `fn` (sync or async) every `everyMs` until it returns a truthy value, and return that value; throws
 * `timed out after MS ms waiting for WHAT` when the time is up (no timing assertion: only a bound).
 */
export async function until<T>(
  fn: () => T | Falsy | Promise<T | Falsy>,
  ms = 10_000,
  what: string = describe(fn),
  everyMs = 25,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((res) => setTimeout(res, everyMs));
  }
}
