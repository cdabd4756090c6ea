/**
 * Constrained decoding for JSON: a JSON Schema (the subset below) compiles to a byte-level pushdown recogniser whose
 * states are immutable, so every vocabulary token can be tried from the current state by walking a byte trie of the
 * vocabulary. Tokens that would break the syntax or the schema are masked before sampling, and so are tokens after
 * which the shortest valid completion no longer fits the remaining token budget. Every byte is a token of a
 * byte-level vocabulary, so a completion always exists: the output parses and validates even from a random model.
 *
 * Schema subset: `type` (one or several), `enum`, `const`, `properties` + `required` (keys are produced in the order
 * `properties` lists them; additional keys are never produced, which every `additionalProperties` allows), objects
 * without `properties` (free keys; values follow `additionalProperties` when it is a schema), `items`, `minItems`,
 * `maxItems`, `minLength`, `maxLength`, `anyOf` / `oneOf` whose branches start differently (object, array, string,
 * number, true/false/null), `$ref` to `#/$defs/…` or `#/definitions/…` (not recursive), and annotations (`title`,
 * `description`, `default`, `examples`, `$schema`, `$id`, `$comment`, `deprecated`, `readOnly`, `writeOnly`,
 * `strict`). Any other keyword is refused with its path rather than ignored, so whatever is accepted is enforced.
 *
 * Output form: strings never contain escaped surrogates, numbers have at most 2 exponent digits, and whitespace
 * between tokens of a nested value is limited to runs of 8 bytes (none around the top-level value).
 */
import { KolmError } from '../util/errors.js';

export class SchemaError extends KolmError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${message} at ${path}`);
  }
}

const OBJ = 1;
const ARR = 2;
const STR = 4;
const NUM = 8;
const LIT = 16;

interface Prop {
  key: Uint8Array; // JSON.stringify(key), quotes included
  node: SchemaNode;
  required: boolean;
}

interface ObjVariant {
  kind: typeof OBJ;
  props?: Prop[];
  /** Values of free keys (objects without `properties`); undefined = no keys at all. */
  values?: SchemaNode;
}
interface ArrVariant {
  kind: typeof ARR;
  items: SchemaNode;
  minItems: number;
  maxItems: number;
}
interface StrVariant {
  kind: typeof STR;
  minLength: number;
  maxLength: number;
}
interface NumVariant {
  kind: typeof NUM;
  integer: boolean;
}
interface LitVariant {
  kind: typeof LIT;
  values: Uint8Array[];
}
type Variant = ObjVariant | ArrVariant | StrVariant | NumVariant | LitVariant;

export interface SchemaNode {
  variants: Variant[];
  /** First byte → variant. */
  dispatch: Map<number, Variant>;
  minLen: number;
}

const encoder = new TextEncoder();
const bytes = (s: string) => encoder.encode(s);

const ANNOTATIONS = new Set(['title', 'description', 'default', 'examples', '$schema', '$id', '$comment', 'deprecated', 'readOnly', 'writeOnly', 'strict', '$defs', 'definitions']);
const HANDLED = new Set(['type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'minLength', 'maxLength', 'anyOf', 'oneOf', '$ref']);

/** Compile a JSON Schema (`true`/`{}` = any JSON value). Throws `SchemaError` naming the unsupported part. */
export function compileSchema(schema: unknown, path = '#'): SchemaNode {
  return new Compiler(schema).node(schema, path, 0);
}

/** Any JSON object (JSON mode). */
export function anyObjectSchema(): SchemaNode {
  return compileSchema({ type: 'object' });
}

class Compiler {
  private readonly any: SchemaNode;

  constructor(private readonly root: unknown) {
    // The unconstrained value: its object values and array items are itself.
    const any: SchemaNode = { variants: [], dispatch: new Map(), minLen: 1 };
    finish(any, [
      { kind: OBJ, values: any },
      { kind: ARR, items: any, minItems: 0, maxItems: Infinity },
      { kind: STR, minLength: 0, maxLength: Infinity },
      { kind: NUM, integer: false },
      { kind: LIT, values: [bytes('true'), bytes('false'), bytes('null')] },
    ], '#');
    this.any = any;
  }

  node(s: unknown, path: string, depth: number): SchemaNode {
    if (depth > 64) throw new SchemaError('schema nesting is deeper than 64 (recursive $ref?)', path);
    if (s === true) return this.any;
    if (s === false) throw new SchemaError('the schema `false` accepts nothing', path);
    if (!isObject(s)) throw new SchemaError('a schema must be an object or a boolean', path);
    for (const k of Object.keys(s)) {
      if (!HANDLED.has(k) && !ANNOTATIONS.has(k)) throw new SchemaError(`unsupported JSON Schema keyword '${k}'`, path);
    }
    if (s['$ref'] !== undefined) {
      if (Object.keys(s).some((k) => HANDLED.has(k) && k !== '$ref')) throw new SchemaError("'$ref' beside other constraints is not supported", path);
      return this.node(this.resolve(s['$ref'], path), `${path}/$ref`, depth + 1);
    }
    const alternatives = s['anyOf'] ?? s['oneOf'];
    if (alternatives !== undefined) {
      const key = s['anyOf'] !== undefined ? 'anyOf' : 'oneOf';
      if (s['anyOf'] !== undefined && s['oneOf'] !== undefined) throw new SchemaError("'anyOf' and 'oneOf' together are not supported", path);
      if (!Array.isArray(alternatives) || alternatives.length === 0) throw new SchemaError(`'${key}' must be a non-empty array`, path);
      if (Object.keys(s).some((k) => HANDLED.has(k) && k !== key)) throw new SchemaError(`'${key}' beside other constraints is not supported`, path);
      const variants = alternatives.flatMap((a, i) => this.node(a, `${path}/${key}/${i}`, depth + 1).variants);
      return finish({ variants: [], dispatch: new Map(), minLen: 0 }, variants, path);
    }
    const types = this.types(s, path);
    if (s['enum'] !== undefined || s['const'] !== undefined) {
      let values: unknown[];
      if (s['const'] !== undefined) values = [s['const']];
      else if (Array.isArray(s['enum']) && s['enum'].length > 0) values = s['enum'];
      else throw new SchemaError("'enum' must be a non-empty array", path);
      if (types) values = values.filter((v) => types.has(jsonType(v)) || (types.has('number') && jsonType(v) === 'integer'));
      if (values.length === 0) throw new SchemaError("no 'enum' value has the schema's type", path);
      const serialized = [...new Set(values.map((v) => JSON.stringify(v)))].map(bytes);
      return finish({ variants: [], dispatch: new Map(), minLen: 0 }, [{ kind: LIT, values: serialized }], path);
    }
    const all = types ?? this.impliedTypes(s);
    const variants: Variant[] = [];
    if (all.has('object')) variants.push(this.object(s, path, depth));
    if (all.has('array')) {
      const minItems = count(s, 'minItems', path, 0);
      const maxItems = count(s, 'maxItems', path, Infinity);
      if (minItems > maxItems) throw new SchemaError('minItems > maxItems', path);
      variants.push({ kind: ARR, items: s['items'] === undefined ? this.any : this.node(s['items'], `${path}/items`, depth + 1), minItems, maxItems });
    }
    if (all.has('string')) {
      const minLength = count(s, 'minLength', path, 0);
      const maxLength = count(s, 'maxLength', path, Infinity);
      if (minLength > maxLength) throw new SchemaError('minLength > maxLength', path);
      variants.push({ kind: STR, minLength, maxLength });
    }
    if (all.has('number') || all.has('integer')) variants.push({ kind: NUM, integer: !all.has('number') });
    const literals = [...(all.has('boolean') ? ['true', 'false'] : []), ...(all.has('null') ? ['null'] : [])];
    if (literals.length) variants.push({ kind: LIT, values: literals.map(bytes) });
    return finish({ variants: [], dispatch: new Map(), minLen: 0 }, variants, path);
  }

  private types(s: Record<string, unknown>, path: string): Set<string> | undefined {
    const t = s['type'];
    if (t === undefined) return undefined;
    const list = Array.isArray(t) ? t : [t];
    const known = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'];
    for (const x of list) if (typeof x !== 'string' || !known.includes(x)) throw new SchemaError(`unknown type ${JSON.stringify(x)}`, `${path}/type`);
    if (list.length === 0) throw new SchemaError("'type' is empty", path);
    return new Set(list as string[]);
  }

  /** Without `type`: the kinds the present keywords talk about, or any value. */
  private impliedTypes(s: Record<string, unknown>): Set<string> {
    const implied = new Set<string>();
    if (s['properties'] !== undefined || s['required'] !== undefined || s['additionalProperties'] !== undefined) implied.add('object');
    if (s['items'] !== undefined || s['minItems'] !== undefined || s['maxItems'] !== undefined) implied.add('array');
    if (s['minLength'] !== undefined || s['maxLength'] !== undefined) implied.add('string');
    return implied.size ? implied : new Set(['object', 'array', 'string', 'number', 'boolean', 'null']);
  }

  private object(s: Record<string, unknown>, path: string, depth: number): ObjVariant {
    const required = s['required'] ?? [];
    if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) throw new SchemaError("'required' must be an array of strings", path);
    const additional = s['additionalProperties'];
    if (additional !== undefined && typeof additional !== 'boolean' && !isObject(additional)) throw new SchemaError("'additionalProperties' must be a boolean or a schema", path);
    const properties = s['properties'];
    if (properties === undefined) {
      if (required.length) throw new SchemaError("'required' names properties but 'properties' is missing", path);
      if (additional === false) return { kind: OBJ, props: [] };
      return { kind: OBJ, values: additional === undefined || additional === true ? this.any : this.node(additional, `${path}/additionalProperties`, depth + 1) };
    }
    if (!isObject(properties)) throw new SchemaError("'properties' must be an object", path);
    for (const r of required) if (!(r in properties)) throw new SchemaError(`required property '${r}' is not in 'properties'`, path);
    const props = Object.entries(properties).map(([key, sub]) => ({
      key: bytes(JSON.stringify(key)),
      node: this.node(sub, `${path}/properties/${key}`, depth + 1),
      required: required.includes(key),
    }));
    return { kind: OBJ, props };
  }

  private resolve(ref: unknown, path: string): unknown {
    const m = typeof ref === 'string' ? /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref) : null;
    if (!m) throw new SchemaError(`only '#/$defs/NAME' and '#/definitions/NAME' references are supported, got ${JSON.stringify(ref)}`, path);
    const defs = isObject(this.root) ? this.root[m[1]!] : undefined;
    const target = isObject(defs) ? defs[m[2]!.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    if (target === undefined) throw new SchemaError(`reference ${ref} does not resolve`, path);
    return target;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function count(s: Record<string, unknown>, key: string, path: string, fallback: number): number {
  const v = s[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new SchemaError(`'${key}' must be a non-negative integer`, path);
  return v;
}

function firstBytes(v: Variant): number[] {
  switch (v.kind) {
    case OBJ: return [0x7b];
    case ARR: return [0x5b];
    case STR: return [0x22];
    case NUM: return [0x2d, ...Array.from({ length: 10 }, (_, i) => 0x30 + i)];
    case LIT: return [...new Set(v.values.map((b) => b[0]!))];
  }
}

function finish(node: SchemaNode, variants: Variant[], path: string): SchemaNode {
  // Merge literal variants; a number variant subsumes an integer one.
  const lits = variants.filter((v): v is LitVariant => v.kind === LIT);
  const nums = variants.filter((v): v is NumVariant => v.kind === NUM);
  const merged: Variant[] = variants.filter((v) => v.kind !== LIT && v.kind !== NUM);
  if (nums.length) merged.push({ kind: NUM, integer: nums.every((n) => n.integer) });
  if (lits.length) merged.push({ kind: LIT, values: lits.flatMap((l) => l.values) });
  for (const v of merged) {
    for (const b of firstBytes(v)) {
      const other = node.dispatch.get(b);
      if (other && other !== v) throw new SchemaError(`alternatives that both start with '${String.fromCharCode(b)}' are not supported`, path);
      node.dispatch.set(b, v);
    }
  }
  node.variants = merged;
  node.minLen = Math.min(...merged.map(variantMinLen));
  if (!Number.isFinite(node.minLen)) throw new SchemaError('the schema has no finite instance', path);
  return node;
}

function variantMinLen(v: Variant): number {
  switch (v.kind) {
    case OBJ:
      return v.props ? 1 + requiredCost(v.props, 0, false) : 2;
    case ARR:
      return v.minItems === 0 ? 2 : 2 + v.minItems * v.items.minLen + v.minItems - 1;
    case STR:
      return 2 + v.minLength;
    case NUM:
      return 1;
    case LIT:
      return Math.min(...v.values.map((b) => b.length));
  }
}

/** Bytes to write the required properties from index `from` on, and the closing brace. */
function requiredCost(props: Prop[], from: number, leadingComma: boolean): number {
  let cost = 1;
  let first = !leadingComma;
  for (let i = from; i < props.length; i++) {
    const p = props[i]!;
    if (!p.required) continue;
    cost += (first ? 0 : 1) + p.key.length + 1 + p.node.minLen;
    first = false;
  }
  return cost;
}

// ---------------------------------------------------------------------------------------------------------------
// The recogniser. A state is an immutable stack of frames; `step` returns the next state or null (rejected).

const MAX_WS = 8;
const EOF = -1;

interface Alt {
  prefix: Uint8Array;
  node: SchemaNode;
  suffix: Uint8Array;
  /** Fewest vocabulary tokens that spell prefix[i..] / suffix[i..] (default: one per byte). */
  prefixCost?: Int32Array;
  suffixCost?: Int32Array;
}

type Frame =
  | { t: 'root'; alts: Alt[]; cands: number[]; pos: number; chosen: number; phase: 'prefix' | 'suffix' }
  | { t: 'value'; node: SchemaNode; ws: number }
  | { t: 'lit'; cands: Uint8Array[]; pos: number }
  | { t: 'str'; v: StrVariant | undefined; len: number; esc: number; hex: number; surrogate: boolean; need: number; lo: number; hi: number }
  | { t: 'num'; integer: boolean; phase: NumPhase; expDigits: number }
  | { t: 'obj'; v: ObjVariant; phase: 'first' | 'needkey' | 'key' | 'colon' | 'after'; idx: number; cands: number[]; pos: number; cur: number; ws: number }
  | { t: 'arr'; v: ArrVariant; phase: 'first' | 'after'; count: number; ws: number };

type NumPhase = 'minus' | 'zero' | 'int' | 'dot' | 'frac' | 'e' | 'esign' | 'exp';

export interface GrammarState {
  readonly f: Frame;
  readonly up: GrammarState | null;
}

const isWs = (b: number) => b === 0x20 || b === 0x0a || b === 0x09;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isHex = (b: number) => isDigit(b) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46);
const push = (f: Frame, up: GrammarState | null): GrammarState => ({ f, up });

/** The root's prefix `chosen` is complete: its value comes next (no whitespace before it), then its suffix. */
function enterValue(f: Frame & { t: 'root' }, chosen: number, up: GrammarState | null): GrammarState {
  const after: Frame = { ...f, cands: [chosen], pos: 0, chosen, phase: 'suffix' };
  return push({ t: 'value', node: f.alts[chosen]!.node, ws: MAX_WS }, push(after, up));
}

/**
 * A grammar: one of several alternatives, each a literal prefix, a JSON value of a schema, and a literal suffix
 * (JSON mode: one alternative with empty prefix and suffix; tool calls: one per tool).
 */
export class JsonGrammar {
  constructor(readonly alts: Alt[]) {
    if (alts.length === 0) throw new KolmError('a grammar needs at least one alternative');
  }

  /**
   * The same grammar with its literal prefixes and suffixes costed in tokens of a vocabulary (fewest tokens that
   * spell each remainder) rather than in bytes, so budgets are not overestimated for long literals.
   */
  costed(trie: TokenTrie): JsonGrammar {
    const cost = (bytes: Uint8Array) => {
      const dp = new Int32Array(bytes.length + 1);
      for (let i = bytes.length - 1; i >= 0; i--) {
        let best = bytes.length - i; // one byte per token
        let node = trie.root;
        for (let j = i; j < bytes.length; j++) {
          const next = node.next.get(bytes[j]!);
          if (!next) break;
          node = next;
          if (node.ids.length) best = Math.min(best, 1 + dp[j + 1]!);
        }
        dp[i] = best;
      }
      return dp;
    };
    return new JsonGrammar(this.alts.map((a) => ({ ...a, prefixCost: cost(a.prefix), suffixCost: cost(a.suffix) })));
  }

  static forSchema(node: SchemaNode): JsonGrammar {
    return new JsonGrammar([{ prefix: new Uint8Array(), node, suffix: new Uint8Array() }]);
  }

  initial(): GrammarState {
    const root: Frame & { t: 'root' } = { t: 'root', alts: this.alts, cands: this.alts.map((_, i) => i), pos: 0, chosen: -1, phase: 'prefix' };
    const empty = this.alts.findIndex((a) => a.prefix.length === 0);
    return empty >= 0 && this.alts.length === 1 ? enterValue(root, empty, null) : push(root, null);
  }

  /** Feed one byte (or -1 for the end of output). */
  static step(s: GrammarState | null, b: number): GrammarState | null {
    while (s) {
      const f = s.f;
      const up = s.up;
      switch (f.t) {
        case 'root': {
          if (f.phase === 'prefix') {
            const cands = b === EOF ? [] : f.cands.filter((c) => f.alts[c]!.prefix[f.pos] === b);
            if (cands.length) {
              const next: Frame & { t: 'root' } = { ...f, cands, pos: f.pos + 1 };
              const ended = cands.length === 1 && f.alts[cands[0]!]!.prefix.length === next.pos;
              return ended ? enterValue(next, cands[0]!, up) : push(next, up);
            }
            // A prefix that ended earlier while a longer one was still possible: the byte starts its value.
            const ended = f.cands.find((c) => f.alts[c]!.prefix.length === f.pos);
            if (ended === undefined) return null;
            s = enterValue(f, ended, up);
            continue;
          }
          const suffix = f.alts[f.chosen]!.suffix;
          if (f.pos === suffix.length) return b === EOF ? s : null;
          if (suffix[f.pos] !== b) return null;
          return push({ ...f, pos: f.pos + 1 }, up);
        }
        case 'value': {
          if (b === EOF) return null;
          if (isWs(b)) return f.ws < MAX_WS ? push({ ...f, ws: f.ws + 1 }, up) : null;
          const v = f.node.dispatch.get(b);
          if (!v) return null;
          switch (v.kind) {
            case OBJ: return push({ t: 'obj', v, phase: 'first', idx: 0, cands: [], pos: 0, cur: -1, ws: 0 }, up);
            case ARR: return push({ t: 'arr', v, phase: 'first', count: 0, ws: 0 }, up);
            case STR: return push({ t: 'str', v, len: 0, esc: 0, hex: 0, surrogate: false, need: 0, lo: 0, hi: 0 }, up);
            case NUM: return push({ t: 'num', integer: v.integer, phase: b === 0x2d ? 'minus' : b === 0x30 ? 'zero' : 'int', expDigits: 0 }, up);
            case LIT: return push({ t: 'lit', cands: v.values.filter((x) => x[0] === b), pos: 1 }, up);
          }
          return null;
        }
        case 'lit': {
          if (b !== EOF) {
            const cands = f.cands.filter((c) => c.length > f.pos && c[f.pos] === b);
            if (cands.length) return push({ t: 'lit', cands, pos: f.pos + 1 }, up);
          }
          if (!f.cands.some((c) => c.length === f.pos)) return null;
          s = up; // complete: the byte belongs to the parent
          continue;
        }
        case 'str':
          return stepString(f, up, b);
        case 'num': {
          const next = numberPhase(f, b);
          if (next) return push(next, up);
          if (f.phase !== 'zero' && f.phase !== 'int' && f.phase !== 'frac' && f.phase !== 'exp') return null;
          s = up;
          continue;
        }
        case 'obj':
          return stepObject(f, up, b);
        case 'arr': {
          if (b === EOF) return null;
          if (isWs(b)) return f.ws < MAX_WS ? push({ ...f, ws: f.ws + 1 }, up) : null;
          const v = f.v;
          if (f.phase === 'first') {
            if (b === 0x5d) return v.minItems === 0 ? up : null;
            if (v.maxItems === 0) return null;
            return JsonGrammar.step(push({ t: 'value', node: v.items, ws: MAX_WS }, push({ ...f, phase: 'after', count: 1, ws: 0 }, up)), b);
          }
          if (b === 0x5d) return f.count >= v.minItems ? up : null;
          if (b === 0x2c && f.count < v.maxItems) return push({ t: 'value', node: v.items, ws: 0 }, push({ ...f, count: f.count + 1, ws: 0 }, up));
          return null;
        }
      }
    }
    return null;
  }

  static feed(s: GrammarState | null, data: Uint8Array): GrammarState | null {
    for (let i = 0; i < data.length && s; i++) s = JsonGrammar.step(s, data[i]!);
    return s;
  }

  /** The output is complete and nothing more may follow. */
  static isDone(s: GrammarState): boolean {
    const f = s.f;
    return f.t === 'root' && f.phase === 'suffix' && f.pos === f.alts[f.chosen]!.suffix.length;
  }

  /** The output may end here (complete, or a top-level number/literal that could also go on). */
  static canEnd(s: GrammarState): boolean {
    return JsonGrammar.step(s, EOF) !== null;
  }

  /** Fewest bytes that complete the output from this state (0 when it may end here). */
  static minCompletion(s: GrammarState | null): number {
    let total = 0;
    for (; s; s = s.up) total += frameCost(s.f);
    return total;
  }

  /** Fewest tokens to finish: the bytes (each byte is a token), plus one for an end token unless already done. */
  static tokensToFinish(s: GrammarState): number {
    return JsonGrammar.isDone(s) ? 0 : JsonGrammar.minCompletion(s) + 1;
  }
}

function stepString(f: Frame & { t: 'str' }, up: GrammarState | null, b: number): GrammarState | null {
  if (b === EOF) return null;
  const max = f.v?.maxLength ?? Infinity;
  if (f.need > 0) {
    if (b < f.lo || b > f.hi) return null;
    return push({ ...f, need: f.need - 1, lo: 0x80, hi: 0xbf }, up);
  }
  if (f.hex > 0) {
    if (!isHex(b)) return null;
    // No surrogate escapes (\uD800–\uDFFF): they could leave a lone surrogate.
    if (f.hex === 4 && (b === 0x64 || b === 0x44)) return push({ ...f, hex: 3, surrogate: true }, up);
    if (f.hex === 3 && f.surrogate && !(b >= 0x30 && b <= 0x37)) return null;
    return push({ ...f, hex: f.hex - 1, surrogate: false }, up);
  }
  if (f.esc) {
    if (b === 0x75) return push({ ...f, esc: 0, hex: 4 }, up);
    if (b === 0x22 || b === 0x5c || b === 0x2f || b === 0x62 || b === 0x66 || b === 0x6e || b === 0x72 || b === 0x74) return push({ ...f, esc: 0 }, up);
    return null;
  }
  if (b === 0x22) return f.len >= (f.v?.minLength ?? 0) ? up : null;
  if (b < 0x20) return null;
  if (f.len >= max) return null;
  if (b === 0x5c) return push({ ...f, esc: 1, len: f.len + 1 }, up);
  if (b < 0x80) return push({ ...f, len: f.len + 1 }, up);
  // UTF-8 lead bytes and the range of their first continuation byte (no overlongs, no surrogates, ≤ U+10FFFF).
  let need = 0;
  let lo = 0x80;
  let hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) need = 1;
  else if (b === 0xe0) [need, lo] = [2, 0xa0];
  else if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) need = 2;
  else if (b === 0xed) [need, hi] = [2, 0x9f];
  else if (b === 0xf0) [need, lo] = [3, 0x90];
  else if (b >= 0xf1 && b <= 0xf3) need = 3;
  else if (b === 0xf4) [need, hi] = [3, 0x8f];
  else return null;
  return push({ ...f, len: f.len + 1, need, lo, hi }, up);
}

function numberPhase(f: Frame & { t: 'num' }, b: number): (Frame & { t: 'num' }) | null {
  if (b === EOF) return null;
  const d = isDigit(b);
  const to = (phase: NumPhase, expDigits = f.expDigits) => ({ ...f, phase, expDigits });
  switch (f.phase) {
    case 'minus': return b === 0x30 ? to('zero') : d ? to('int') : null;
    case 'zero':
    case 'int':
    case 'frac':
      if (d && f.phase !== 'zero') return to(f.phase);
      if (f.integer) return null;
      if (b === 0x2e && f.phase !== 'frac') return to('dot');
      if (b === 0x65 || b === 0x45) return to('e');
      return null;
    case 'dot': return d ? to('frac') : null;
    case 'e': return b === 0x2b || b === 0x2d ? to('esign') : d ? to('exp', 1) : null;
    case 'esign': return d ? to('exp', 1) : null;
    case 'exp': return d && f.expDigits < 2 ? to('exp', f.expDigits + 1) : null;
  }
}

/** Indices of properties that may come next from `idx` (no required one skipped). */
function nextProps(props: Prop[], idx: number): number[] {
  const out: number[] = [];
  for (let i = idx; i < props.length; i++) {
    out.push(i);
    if (props[i]!.required) break;
  }
  return out;
}

function stepObject(f: Frame & { t: 'obj' }, up: GrammarState | null, b: number): GrammarState | null {
  if (b === EOF) return null;
  const v = f.v;
  const props = v.props;
  if (f.phase === 'key' && props) {
    const cands = f.cands.filter((c) => props[c]!.key[f.pos] === b);
    if (!cands.length) return null;
    const pos = f.pos + 1;
    const done = cands.find((c) => props[c]!.key.length === pos);
    if (done !== undefined) return push({ ...f, phase: 'colon', cands: [], pos: 0, cur: done, ws: 0 }, up);
    return push({ ...f, cands, pos }, up);
  }
  if (isWs(b)) return f.ws < MAX_WS ? push({ ...f, ws: f.ws + 1 }, up) : null;
  switch (f.phase) {
    case 'first':
    case 'needkey': {
      if (b === 0x7d) {
        if (f.phase === 'needkey') return null;
        return (props ? !props.some((p) => p.required) : true) ? up : null;
      }
      if (b !== 0x22) return null;
      if (props) {
        const cands = nextProps(props, f.idx);
        if (!cands.length) return null;
        return push({ ...f, phase: 'key', cands, pos: 1, ws: 0 }, up);
      }
      if (!v.values) return null;
      return push({ t: 'str', v: undefined, len: 0, esc: 0, hex: 0, surrogate: false, need: 0, lo: 0, hi: 0 }, push({ ...f, phase: 'colon', ws: 0 }, up));
    }
    case 'colon': {
      if (b !== 0x3a) return null;
      const node = props ? props[f.cur]!.node : v.values!;
      return push({ t: 'value', node, ws: 0 }, push({ ...f, phase: 'after', idx: props ? f.cur + 1 : 0, ws: 0 }, up));
    }
    case 'after': {
      if (b === 0x7d) return !props || !props.slice(f.idx).some((p) => p.required) ? up : null;
      if (b === 0x2c && (!props || f.idx < props.length)) return push({ ...f, phase: 'needkey', ws: 0 }, up);
      return null;
    }
  }
  return null;
}

function frameCost(f: Frame): number {
  switch (f.t) {
    case 'root': {
      const literal = (bytes: Uint8Array, cost: Int32Array | undefined, at: number) => (cost ? cost[at]! : bytes.length - at);
      if (f.phase === 'prefix') {
        return Math.min(...f.cands.map((c) => {
          const a = f.alts[c]!;
          return literal(a.prefix, a.prefixCost, f.pos) + a.node.minLen + literal(a.suffix, a.suffixCost, 0);
        }));
      }
      const a = f.alts[f.chosen]!;
      return literal(a.suffix, a.suffixCost, f.pos);
    }
    case 'value':
      return f.node.minLen;
    case 'lit':
      return Math.min(...f.cands.map((c) => c.length - f.pos));
    case 'str': {
      const pending = f.esc ? 1 : f.hex + f.need;
      return pending + Math.max(0, (f.v?.minLength ?? 0) - f.len) + 1;
    }
    case 'num':
      return f.phase === 'minus' || f.phase === 'dot' || f.phase === 'e' || f.phase === 'esign' ? 1 : 0;
    case 'arr': {
      const v = f.v;
      if (f.phase === 'first') return v.minItems === 0 ? 1 : v.minItems * v.items.minLen + v.minItems;
      return Math.max(0, v.minItems - f.count) * (1 + v.items.minLen) + 1;
    }
    case 'obj': {
      const props = f.v.props;
      if (!props) {
        const value = f.v.values?.minLen ?? 0;
        if (f.phase === 'first' || f.phase === 'after') return 1;
        if (f.phase === 'needkey') return 2 + 1 + value + 1;
        return 1 + value + 1; // colon: the key string (a frame above) is counted there
      }
      switch (f.phase) {
        case 'first': return requiredCost(props, f.idx, false);
        case 'after': return requiredCost(props, f.idx, true);
        case 'needkey': {
          if (props.slice(f.idx).some((p) => p.required)) return requiredCost(props, f.idx, false);
          return Math.min(...nextProps(props, f.idx).map((i) => props[i]!.key.length + 1 + props[i]!.node.minLen)) + 1;
        }
        case 'key':
          return Math.min(...f.cands.map((c) => props[c]!.key.length - f.pos + 1 + props[c]!.node.minLen + requiredCost(props, c + 1, true)));
        case 'colon':
          return 1 + props[f.cur]!.node.minLen + requiredCost(props, f.cur + 1, true);
      }
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Token masks: the vocabulary as a byte trie, walked from a state.

interface TrieNode {
  ids: number[];
  next: Map<number, TrieNode>;
}

export class TokenTrie {
  readonly root: TrieNode = { ids: [], next: new Map() };
  /** Whether every single byte is a token of its own (then a completion always fits the budget). */
  readonly allBytes: boolean;

  constructor(readonly vocabSize: number, tokenBytes: (id: number) => Uint8Array | undefined) {
    const single = new Set<number>();
    for (let id = 0; id < vocabSize; id++) {
      const bs = tokenBytes(id);
      if (!bs || bs.length === 0) continue;
      if (bs.length === 1) single.add(bs[0]!);
      let node = this.root;
      for (const b of bs) {
        let child = node.next.get(b);
        if (!child) node.next.set(b, (child = { ids: [], next: new Map() }));
        node = child;
      }
      node.ids.push(id);
    }
    this.allBytes = single.size === 256;
  }
}

/**
 * Drives one grammar over generated tokens: `mask` forbids (−∞) every token that breaks the grammar or leaves too
 * little budget, allowing `endIds` only where the output may end; `accept` advances over a chosen token.
 */
export class GrammarMatcher {
  private state: GrammarState | null;
  readonly grammar: JsonGrammar;

  constructor(
    grammar: JsonGrammar,
    private readonly trie: TokenTrie,
    private readonly tokenBytes: (id: number) => Uint8Array | undefined,
    private readonly endIds: readonly number[],
    state?: GrammarState,
  ) {
    this.grammar = trie.allBytes ? grammar.costed(trie) : grammar;
    this.state = state ?? this.grammar.initial();
  }

  /** Tokens needed at least to finish from the start. */
  get tokensToFinish(): number {
    return this.state ? JsonGrammar.tokensToFinish(this.state) : Infinity;
  }

  get done(): boolean {
    return this.state !== null && JsonGrammar.isDone(this.state);
  }

  get failed(): boolean {
    return this.state === null;
  }

  /**
   * Set logits of forbidden tokens to −∞; `remaining` counts the tokens left, this one included. Returns false, and
   * leaves the logits alone, when no token is allowed (a vocabulary without every single byte, or too small a budget).
   */
  mask(logits: Float32Array, remaining: number): boolean {
    const s = this.state;
    if (!s) return false;
    const allowed = new Uint8Array(logits.length);
    let any = false;
    const budget = remaining - 1;
    const walk = (node: TrieNode, state: GrammarState) => {
      for (const [b, child] of node.next) {
        const next = JsonGrammar.step(state, b);
        if (!next) continue;
        if (child.ids.length && JsonGrammar.tokensToFinish(next) <= budget) {
          for (const id of child.ids) {
            if (id < allowed.length) allowed[id] = 1;
            any = true;
          }
        }
        walk(child, next);
      }
    };
    walk(this.trie.root, s);
    if (JsonGrammar.canEnd(s)) {
      for (const id of this.endIds) if (id < allowed.length) allowed[id] = 1;
      any ||= this.endIds.length > 0;
    }
    if (!any) return false;
    for (let i = 0; i < logits.length; i++) if (!allowed[i]) logits[i] = -Infinity;
    return true;
  }

  /** Advance over raw bytes; false when they break the grammar. */
  acceptBytes(data: Uint8Array): boolean {
    if (!this.state) return false;
    this.state = JsonGrammar.feed(this.state, data);
    return this.state !== null;
  }

  /** Advance over a sampled token; returns true when the output is complete (or ended). */
  accept(id: number): boolean {
    if (!this.state) return true;
    if (this.endIds.includes(id)) {
      this.state = JsonGrammar.step(this.state, EOF);
      return true;
    }
    const bs = this.tokenBytes(id);
    this.state = bs ? JsonGrammar.feed(this.state, bs) : null;
    return !this.state || JsonGrammar.isDone(this.state);
  }
}
