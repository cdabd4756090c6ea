/**
 * The token matcher of constrained JSON decoding: the vocabulary as a byte trie, walked from a recogniser state to
 * mask every token that breaks the grammar or no longer fits the budget.
 */
import { EOF, type GrammarState } from './json-frames.js';
import { JsonGrammar } from './json-recogniser.js';

export interface TrieNode {
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
