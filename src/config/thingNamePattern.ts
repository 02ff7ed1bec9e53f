// `downstream.thingNamePattern`: one meaning everywhere (the whole thing name must match), and a refusal
// of the patterns that make V8's backtracking engine take exponential time on a hostile name.
//
// A thing name comes from the topic a device published on, so a device chooses what the pattern is run
// against. Names are at most 128 bytes, which is plenty for `(a+)+$` to hang the agent. The check below
// refuses an unbounded repetition of a group that itself contains a repetition (star height 2, the
// classic catastrophic shape). It does not catch every slow pattern (overlapping alternatives such as
// `(a|a)+` still backtrack), which docs/security.md says.

/** The pattern as a RegExp that must match the whole name. */
export function compileThingNamePattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

/** Why the pattern is refused (`path: message` lines), or [] when it is usable. */
export function thingNamePatternProblems(pattern: string, path = 'downstream.thingNamePattern'): string[] {
  try {
    // On its own first: `a)|(b` compiles once wrapped, and would then match far more than it says.
    new RegExp(pattern);
    compileThingNamePattern(pattern);
  } catch (err) {
    return [`${path}: is not a valid regular expression (${(err as Error).message})`];
  }
  const nested = nestedRepetition(pattern);
  if (nested !== undefined) {
    return [
      `${path}: the group ending at offset ${nested} repeats without bound and contains a repetition itself (like ` +
        `(a+)+), which can take exponential time on a hostile thing name; rewrite it without the nesting`,
    ];
  }
  return [];
}

/**
 * Offset of the `)` of the first group that is repeated without bound (`*`, `+`, `{n,}`) while it
 * contains a repetition (`*`, `+`, `{n,m}` with m > 1), or undefined. Expects a valid pattern.
 */
export function nestedRepetition(pattern: string): number | undefined {
  const frames: Array<{ repeats: boolean }> = [{ repeats: false }];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '[') {
      i = classEnd(pattern, i) + 1;
      continue;
    }
    if (c === '(') {
      frames.push({ repeats: false });
      i++;
      continue;
    }
    if (c === ')' && frames.length > 1) {
      const inner = frames.pop()!;
      const q = quantifierAt(pattern, i + 1);
      if (q?.unbounded && inner.repeats) return i;
      const parent = frames.at(-1)!;
      if (inner.repeats || q?.repeats) parent.repeats = true;
      i = q ? q.end : i + 1;
      continue;
    }
    const q = quantifierAt(pattern, i);
    if (q) {
      if (q.repeats) frames.at(-1)!.repeats = true;
      i = q.end;
      continue;
    }
    i++;
  }
  return undefined;
}

/** Index of the `]` closing the class opened at `start`. */
function classEnd(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === '^') i++;
  if (pattern[i] === ']') i++; // a leading `]` is literal in some flavours; harmless here
  while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
  return i;
}

/** A quantifier starting at `i`: whether it repeats (more than once) and whether without bound. */
function quantifierAt(pattern: string, i: number): { repeats: boolean; unbounded: boolean; end: number } | undefined {
  const c = pattern[i];
  let q: { repeats: boolean; unbounded: boolean; end: number } | undefined;
  if (c === '*' || c === '+') q = { repeats: true, unbounded: true, end: i + 1 };
  else if (c === '?') q = { repeats: false, unbounded: false, end: i + 1 };
  else if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
    if (!m) return undefined; // a literal `{`
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
    q = { repeats: max > 1, unbounded: max === Number.POSITIVE_INFINITY, end: i + m[0].length };
  }
  if (q && pattern[q.end] === '?') q.end++; // lazy
  return q;
}
