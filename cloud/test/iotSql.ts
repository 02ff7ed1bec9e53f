// A small evaluator for the subset of AWS IoT SQL (version 2016-03-23) that the rules in lib/rules.ts use,
// so tests can run the rules against the records the agent really publishes. (Not a test file itself.)
//
// The subset, with the semantics of the AWS IoT developer guide (iot-sql-reference.md, iot-sql-operators.md,
// iot-sql-functions.md, iot-substitution-templates.md):
//   SELECT *  |  SELECT *, expr AS alias, …  |  SELECT expr [AS alias], …     FROM 'topic filter'  [WHERE expr]
//   expr:      literals 'string', numbers, true, false; field paths a.b.c (absent = Undefined);
//              NOT, AND, OR (operands Boolean or the strings "true"/"false", anything else gives Undefined);
//              =, <> (Undefined if either side is Undefined; values of different types are unequal;
//              arrays and objects compare by value); <, <=, >, >= on numbers;
//              + (numbers, or string concatenation when a side is a string), -, *, / on numbers;
//              parentheses; functions topic(), topic(n), timestamp(), floor(x), isUndefined(x).
//   A message is selected when the topic matches the FROM filter (+ and # as in MQTT) and WHERE is true;
//   Undefined or false leaves it out. Projections that are Undefined are left out of the result.
//   Substitution templates `${expr}` evaluate expr against the incoming payload (not the SELECT's aliases).
// Anything outside the subset is a parse error, so a rule that uses more fails its test instead of passing.

export const UNDEFINED: unique symbol = Symbol('Undefined');
export type Value = unknown;

type Expr =
  | { k: 'lit'; v: Value }
  | { k: 'path'; parts: string[] }
  | { k: 'not'; e: Expr }
  | { k: 'bin'; op: string; l: Expr; r: Expr }
  | { k: 'call'; name: string; args: Expr[] };

interface Projection {
  star: boolean;
  items: Array<{ e: Expr; alias?: string }>;
}

export interface ParsedSql {
  projection: Projection;
  from: string;
  where?: Expr;
}

export interface EvalContext {
  topic: string;
  /** ms since the epoch, for timestamp() */
  now: number;
}

type Tok = { t: 'str' | 'num' | 'id' | 'op'; v: string };

function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated string at ${i}`);
      out.push({ t: 'str', v: text.slice(i + 1, end) });
      i = end + 1;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(text.slice(i))!;
      out.push({ t: 'num', v: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      out.push({ t: 'id', v: m[0] });
      i += m[0].length;
    } else {
      const two = text.slice(i, i + 2);
      if (['<>', '<=', '>='].includes(two)) {
        out.push({ t: 'op', v: two });
        i += 2;
      } else if ('=<>+-*/(),.'.includes(c)) {
        out.push({ t: 'op', v: c });
        i++;
      } else {
        throw new Error(`unexpected character ${JSON.stringify(c)} at ${i}`);
      }
    }
  }
  return out;
}

const KEYWORDS = new Set(['SELECT', 'FROM', 'WHERE', 'AS', 'AND', 'OR', 'NOT']);
const FUNCTIONS = new Set(['topic', 'timestamp', 'floor', 'isUndefined']);

class Parser {
  private i = 0;
  private readonly toks: Tok[];
  constructor(toks: Tok[]) {
    this.toks = toks;
  }

  private peek(): Tok | undefined {
    return this.toks[this.i];
  }
  private isKw(kw: string): boolean {
    const t = this.peek();
    return t?.t === 'id' && t.v.toUpperCase() === kw;
  }
  private isOp(op: string): boolean {
    const t = this.peek();
    return t?.t === 'op' && t.v === op;
  }
  private expectKw(kw: string): void {
    if (!this.isKw(kw)) throw new Error(`expected ${kw} at token ${this.i}`);
    this.i++;
  }
  private expectOp(op: string): void {
    if (!this.isOp(op)) throw new Error(`expected ${op} at token ${this.i}`);
    this.i++;
  }
  done(): boolean {
    return this.i >= this.toks.length;
  }

  statement(): ParsedSql {
    this.expectKw('SELECT');
    const projection: Projection = { star: false, items: [] };
    for (;;) {
      if (this.isOp('*')) {
        this.i++;
        projection.star = true;
      } else {
        const e = this.expr();
        let alias: string | undefined;
        if (this.isKw('AS')) {
          this.i++;
          const t = this.peek();
          if (t?.t !== 'id') throw new Error('expected an alias after AS');
          alias = t.v;
          this.i++;
        }
        projection.items.push(alias === undefined ? { e } : { e, alias });
      }
      if (!this.isOp(',')) break;
      this.i++;
    }
    this.expectKw('FROM');
    const from = this.peek();
    if (from?.t !== 'str') throw new Error('expected a quoted topic filter after FROM');
    this.i++;
    const sql: ParsedSql = { projection, from: from.v };
    if (this.isKw('WHERE')) {
      this.i++;
      sql.where = this.expr();
    }
    if (!this.done()) throw new Error(`unexpected ${JSON.stringify(this.peek()?.v)} after the statement`);
    return sql;
  }

  expr(): Expr {
    let l = this.and();
    while (this.isKw('OR')) {
      this.i++;
      l = { k: 'bin', op: 'OR', l, r: this.and() };
    }
    return l;
  }
  private and(): Expr {
    let l = this.not();
    while (this.isKw('AND')) {
      this.i++;
      l = { k: 'bin', op: 'AND', l, r: this.not() };
    }
    return l;
  }
  private not(): Expr {
    if (this.isKw('NOT')) {
      this.i++;
      return { k: 'not', e: this.not() };
    }
    return this.comparison();
  }
  private comparison(): Expr {
    const l = this.additive();
    const t = this.peek();
    if (t?.t === 'op' && ['=', '<>', '<', '<=', '>', '>='].includes(t.v)) {
      this.i++;
      return { k: 'bin', op: t.v, l, r: this.additive() };
    }
    return l;
  }
  private additive(): Expr {
    let l = this.multiplicative();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.peek()!.v;
      this.i++;
      l = { k: 'bin', op, l, r: this.multiplicative() };
    }
    return l;
  }
  private multiplicative(): Expr {
    let l = this.primary();
    while (this.isOp('*') || this.isOp('/')) {
      const op = this.peek()!.v;
      this.i++;
      l = { k: 'bin', op, l, r: this.primary() };
    }
    return l;
  }
  private primary(): Expr {
    const t = this.peek();
    if (!t) throw new Error('unexpected end of expression');
    if (t.t === 'str') {
      this.i++;
      return { k: 'lit', v: t.v };
    }
    if (t.t === 'num') {
      this.i++;
      return { k: 'lit', v: Number(t.v) };
    }
    if (t.t === 'op' && t.v === '(') {
      this.i++;
      const e = this.expr();
      this.expectOp(')');
      return e;
    }
    if (t.t === 'id') {
      if (t.v === 'true' || t.v === 'false') {
        this.i++;
        return { k: 'lit', v: t.v === 'true' };
      }
      if (KEYWORDS.has(t.v.toUpperCase())) throw new Error(`unexpected keyword ${t.v}`);
      this.i++;
      if (this.isOp('(')) {
        if (!FUNCTIONS.has(t.v)) throw new Error(`function ${t.v}() is outside the supported subset`);
        this.i++;
        const args: Expr[] = [];
        if (!this.isOp(')')) {
          args.push(this.expr());
          while (this.isOp(',')) {
            this.i++;
            args.push(this.expr());
          }
        }
        this.expectOp(')');
        return { k: 'call', name: t.v, args };
      }
      const parts = [t.v];
      while (this.isOp('.')) {
        this.i++;
        const n = this.peek();
        if (n?.t !== 'id') throw new Error('expected a field name after .');
        parts.push(n.v);
        this.i++;
      }
      return { k: 'path', parts };
    }
    throw new Error(`unexpected ${JSON.stringify(t.v)}`);
  }
}

export function parseSql(sql: string): ParsedSql {
  return new Parser(tokenize(sql)).statement();
}

export function parseExpr(text: string): Expr {
  const p = new Parser(tokenize(text));
  const e = p.expr();
  if (!p.done()) throw new Error(`unexpected trailing input in ${JSON.stringify(text)}`);
  return e;
}

/** MQTT topic filter matching (+ one level, # the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

const typeOf = (v: Value): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function asBool(v: Value): boolean | typeof UNDEFINED {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  return UNDEFINED;
}

function deepEqual(a: Value, b: Value): boolean {
  if (typeOf(a) !== typeOf(b)) return false;
  if (Array.isArray(a)) return a.length === (b as Value[]).length && a.every((x, i) => deepEqual(x, (b as Value[])[i]));
  if (a !== null && typeof a === 'object') {
    const ka = Object.keys(a as object);
    const kb = Object.keys(b as object);
    return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, Value>)[k], (b as Record<string, Value>)[k]));
  }
  return a === b;
}

export function evaluate(e: Expr, payload: Value, ctx: EvalContext): Value {
  switch (e.k) {
    case 'lit':
      return e.v;
    case 'path': {
      let v: Value = payload;
      for (const p of e.parts) {
        if (v === null || typeof v !== 'object' || Array.isArray(v) || !(p in (v as object))) return UNDEFINED;
        v = (v as Record<string, Value>)[p];
      }
      return v;
    }
    case 'not': {
      const b = asBool(evaluate(e.e, payload, ctx));
      return b === UNDEFINED ? UNDEFINED : !b;
    }
    case 'call':
      return call(
        e.name,
        e.args.map((a) => evaluate(a, payload, ctx)),
        ctx,
      );
    case 'bin': {
      const l = evaluate(e.l, payload, ctx);
      const r = evaluate(e.r, payload, ctx);
      switch (e.op) {
        case 'AND':
        case 'OR': {
          const lb = asBool(l);
          const rb = asBool(r);
          if (lb === UNDEFINED || rb === UNDEFINED) return UNDEFINED;
          return e.op === 'AND' ? lb && rb : lb || rb;
        }
        case '=':
        case '<>': {
          if (l === UNDEFINED || r === UNDEFINED) return UNDEFINED;
          const eq = deepEqual(l, r);
          return e.op === '=' ? eq : !eq;
        }
        case '+':
          if (typeof l === 'string' || typeof r === 'string') {
            if (l === UNDEFINED || r === UNDEFINED) return UNDEFINED;
            return `${typeof l === 'string' ? l : JSON.stringify(l)}${typeof r === 'string' ? r : JSON.stringify(r)}`;
          }
          return typeof l === 'number' && typeof r === 'number' ? l + r : UNDEFINED;
        default: {
          if (typeof l !== 'number' || typeof r !== 'number') return UNDEFINED;
          switch (e.op) {
            case '-':
              return l - r;
            case '*':
              return l * r;
            case '/':
              // Int / Int is an Int in IoT SQL (truncated); Decimals divide exactly.
              return Number.isInteger(l) && Number.isInteger(r) ? Math.trunc(l / r) : l / r;
            case '<':
              return l < r;
            case '<=':
              return l <= r;
            case '>':
              return l > r;
            case '>=':
              return l >= r;
          }
          throw new Error(`operator ${e.op}`);
        }
      }
    }
  }
}

function call(name: string, args: Value[], ctx: EvalContext): Value {
  switch (name) {
    case 'topic': {
      if (args.length === 0) return ctx.topic;
      const n = args[0];
      const levels = ctx.topic.split('/');
      return typeof n === 'number' && n >= 1 && n <= levels.length ? levels[n - 1] : UNDEFINED;
    }
    case 'timestamp':
      return ctx.now;
    case 'floor':
      return typeof args[0] === 'number' ? Math.floor(args[0]) : UNDEFINED;
    case 'isUndefined':
      return args[0] === UNDEFINED;
  }
  throw new Error(`function ${name}`);
}

export interface RuleResult {
  selected: boolean;
  /** the SELECT result, when selected */
  output?: Record<string, Value>;
}

/** Run a rule's SQL on one message: is it selected, and what does the SELECT produce. */
export function runRule(sql: ParsedSql | string, topic: string, payload: Record<string, Value>, now = Date.now()): RuleResult {
  const q = typeof sql === 'string' ? parseSql(sql) : sql;
  if (!topicMatches(q.from, topic)) return { selected: false };
  const ctx = { topic, now };
  if (q.where && evaluate(q.where, payload, ctx) !== true) return { selected: false };
  const output: Record<string, Value> = q.projection.star ? { ...payload } : {};
  q.projection.items.forEach((item, i) => {
    const v = evaluate(item.e, payload, ctx);
    if (v === UNDEFINED) return;
    const key = item.alias ?? (item.e.k === 'path' ? item.e.parts.at(-1)! : `_${i + 1}`);
    output[key] = v;
  });
  return { selected: true, output };
}

/** Expand a substitution template (`${expr}` parts) against the incoming payload; undefined when a part is Undefined. */
export function substitute(template: string, topic: string, payload: Value, now = Date.now()): string | undefined {
  let undefinedPart = false;
  const out = template.replace(/\$\{([^}]*)\}/g, (_m, expr: string) => {
    const v = evaluate(parseExpr(expr), payload, { topic, now });
    if (v === UNDEFINED) {
      undefinedPart = true;
      return '';
    }
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
  return undefinedPart ? undefined : out;
}
