// Poll a condition until it holds (returns a truthy value) or the time is up. Not a test file.
export async function until<T>(fn: () => T | undefined | false | null, ms = 10_000, what = 'condition', everyMs = 25): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((res) => setTimeout(res, everyMs));
  }
}
