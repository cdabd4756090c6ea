/**
 * The frames of the JSON recogniser (json-recogniser.ts): what one byte does to a string, number, object or array
 * being read, and the fewest bytes that complete a frame.
 *
 * Output form: strings never contain escaped surrogates, numbers have at most 2 exponent digits, and whitespace
 * between tokens of a nested value is limited to runs of 8 bytes (none around the top-level value).
 */
import { requiredCost, type ArrVariant, type ObjVariant, type Prop, type SchemaNode, type StrVariant } from './json-schema.js';

export const MAX_WS = 8;
export const EOF = -1;

export interface Alt {
  prefix: Uint8Array;
  node: SchemaNode;
  suffix: Uint8Array;
  /** Fewest vocabulary tokens that spell prefix[i..] / suffix[i..] (default: one per byte). */
  prefixCost?: Int32Array;
  suffixCost?: Int32Array;
}

export type Frame =
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

export const isWs = (b: number) => b === 0x20 || b === 0x0a || b === 0x09;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isHex = (b: number) => isDigit(b) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46);
export const push = (f: Frame, up: GrammarState | null): GrammarState => ({ f, up });

/** The root's prefix `chosen` is complete: its value comes next (no whitespace before it), then its suffix. */
export function enterValue(f: Frame & { t: 'root' }, chosen: number, up: GrammarState | null): GrammarState {
  const after: Frame = { ...f, cands: [chosen], pos: 0, chosen, phase: 'suffix' };
  return push({ t: 'value', node: f.alts[chosen]!.node, ws: MAX_WS }, push(after, up));
}

export function stepString(f: Frame & { t: 'str' }, up: GrammarState | null, b: number): GrammarState | null {
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

export function numberPhase(f: Frame & { t: 'num' }, b: number): (Frame & { t: 'num' }) | null {
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

export function stepObject(f: Frame & { t: 'obj' }, up: GrammarState | null, b: number): GrammarState | null {
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

export function frameCost(f: Frame): number {
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
