/**
 * The recogniser of constrained JSON decoding: a byte-level pushdown automaton over the compiled schema. A state is an
 * immutable stack of frames (json-frames.ts); `step` returns the next state or null (rejected).
 */
import { KolmError } from '../util/errors.js';
import { ARR, LIT, NUM, OBJ, STR, type SchemaNode } from './json-schema.js';
import { EOF, MAX_WS, enterValue, frameCost, isWs, numberPhase, push, stepObject, stepString, type Alt, type Frame, type GrammarState } from './json-frames.js';
import type { TokenTrie } from './json-matcher.js';

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
