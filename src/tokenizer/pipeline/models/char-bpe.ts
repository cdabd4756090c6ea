/**
 * HF's BPE model on characters (files without a ByteLevel pre-tokenizer: SentencePiece conversions such as Llama 2
 * and Gemma, or char-level files with `continuing_subword_prefix` / `end_of_word_suffix`). Each char of a pre-token is
 * a symbol (with the prefix when it is not the first, the suffix when it is the last); a char missing from the
 * vocabulary becomes `<0xXX>` byte tokens (`byte_fallback`) or the unknown token (`unk_token`, runs fused with
 * `fuse_unk`); then merges are applied lowest rank first, leftmost first.
 */
import { KolmError } from '../../../util/errors.js';
import { mergeByRank } from '../../bpe.js';
import { PairTable } from '../../pair-table.js';
import type { PieceModel } from './bpe.js';
import { WordCache } from './word-cache.js';

export interface CharBpeOptions {
  unkToken?: string;
  fuseUnk: boolean;
  byteFallback: boolean;
  ignoreMerges: boolean;
  prefix?: string;
  suffix?: string;
}

const META = '▁';
/** Words longer than this are merged with the heap; shorter ones by scanning (the same result). */
const SCAN_LIMIT = 48;
const NO_RANK = 0x7fffffff;
const WORD_CACHE_LIMIT = 100_000;

const utf8 = new TextEncoder();

/**
 * The merged token of merge `a b`: as in HF's BPE, the prefix's length in UTF-8 bytes is cut from the front of `b`
 * (a file made with the prefix writes every right side with it), whatever `b` starts with.
 */
function mergedToken(a: string, b: string, prefixBytes: number, where: string, rank: number): string {
  if (prefixBytes === 0) return a + b;
  const bytes = utf8.encode(b);
  const rest = bytes.subarray(prefixBytes);
  // A cut inside a character (or past the end) is an error in the Rust peer too.
  if (bytes.length < prefixBytes || (rest.length > 0 && (rest[0]! & 0xc0) === 0x80)) {
    throw new KolmError(`${where}: model.merges[${rank}] "${a} ${b}": its right side does not start with ${prefixBytes} bytes that end on a character boundary (model.continuing_subword_prefix is cut from it)`);
  }
  return a + new TextDecoder().decode(rest);
}

/** Writes the UTF-8 of code point `cp` to `out`; returns its length. */
function codePointUtf8(cp: number, out: Uint8Array): number {
  if (cp < 0x80) {
    out[0] = cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = 0xc0 | (cp >> 6);
    out[1] = 0x80 | (cp & 0x3f);
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = 0xe0 | (cp >> 12);
    out[1] = 0x80 | ((cp >> 6) & 0x3f);
    out[2] = 0x80 | (cp & 0x3f);
    return 3;
  }
  out[0] = 0xf0 | (cp >> 18);
  out[1] = 0x80 | ((cp >> 12) & 0x3f);
  out[2] = 0x80 | ((cp >> 6) & 0x3f);
  out[3] = 0x80 | (cp & 0x3f);
  return 4;
}

export class CharBpe implements PieceModel {
  private readonly ranks: PairTable;
  private readonly mergedId: Int32Array;
  /** 1 for ids that are the left side of some merge: pairs starting with another id are not looked up. */
  private readonly leftSide: Uint8Array;
  private readonly unkId: number;
  private readonly byteTokens = new Int32Array(256).fill(-1);
  /** Plain files (no prefix or suffix): the id of each one-char BMP token, -1 where none; others in `vocab`. */
  private readonly bmpId: Int32Array | undefined;
  /** Scratch initial symbols of a word. */
  private readonly symbols: number[] = [];
  /** Scratch UTF-8 of an unknown symbol. */
  private bytes = new Uint8Array(64);
  /** Scratch symbols and pair ranks for `mergeScan`. */
  private sym = new Int32Array(64);
  private rank = new Int32Array(64);
  private readonly wordCache = new WordCache(WORD_CACHE_LIMIT);
  /** See `splitsBefore`; undefined when a long piece is never split into words. */
  private readonly crossing: ReadonlySet<string> | undefined;
  private readonly fallbackCrosses: boolean;
  readonly cachesWords: boolean;

  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    merges: readonly (readonly [string, string])[],
    private readonly opts: CharBpeOptions,
    where: string,
  ) {
    this.ranks = new PairTable(merges.length);
    this.mergedId = new Int32Array(merges.length);
    const prefixBytes = opts.prefix ? utf8.encode(opts.prefix).length : 0;
    let maxId = 0;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.leftSide = new Uint8Array(maxId + 1);
    merges.forEach(([a, b], rank) => {
      const left = vocab.get(a);
      const right = vocab.get(b);
      const merged = left === undefined || right === undefined ? undefined : mergedToken(a, b, prefixBytes, where, rank);
      const mergedId = merged === undefined ? undefined : vocab.get(merged);
      if (mergedId === undefined) {
        const missing = left === undefined ? a : right === undefined ? b : merged;
        throw new KolmError(`${where}: model.merges[${rank}] "${a} ${b}" uses ${JSON.stringify(missing)}, which is not in model.vocab`);
      }
      this.ranks.set(left!, right!, rank);
      this.leftSide[left!] = 1;
      this.mergedId[rank] = mergedId;
    });
    this.unkId = -1;
    if (opts.unkToken !== undefined) {
      const id = vocab.get(opts.unkToken);
      if (id === undefined) throw new KolmError(`${where}: field model.unk_token ${JSON.stringify(opts.unkToken)} is not in model.vocab`);
      this.unkId = id;
    }
    for (let b = 0; b < 256; b++) this.byteTokens[b] = vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`) ?? -1;
    if (!opts.prefix && !opts.suffix) {
      this.bmpId = new Int32Array(0x10000).fill(-1);
      for (const [token, id] of vocab) if (token.length === 1) this.bmpId[token.charCodeAt(0)] = id;
    }
    const words = opts.ignoreMerges ? undefined : wordSplitRule(vocab, opts);
    this.crossing = words?.crossing;
    this.fallbackCrosses = words?.fallbackCrosses ?? true;
    this.cachesWords = this.crossing !== undefined;
  }

  encodePiece(piece: string, out: number[]): void {
    if (!this.crossing) {
      this.encodeWord(piece, out);
      return;
    }
    let start = 0;
    for (let i = piece.indexOf(META, 1); ; i = piece.indexOf(META, i + 1)) {
      if (i >= 0 && !this.splitsBefore(piece, i)) continue;
      const end = i < 0 ? piece.length : i;
      const e = this.wordCache.find(piece, start, end);
      if (e < 0) {
        const at = out.length;
        const word = piece.slice(start, end);
        this.encodeWord(word, out);
        this.wordCache.add(word, out.length - at === 1 ? out[at]! : out.slice(at));
      } else {
        const ids = this.wordCache.entry(e);
        if (typeof ids === 'number') out.push(ids);
        else for (let k = 0; k < ids.length; k++) out.push(ids[k]!);
      }
      if (i < 0) break;
      start = i;
    }
  }

  /**
   * Whether no merge can join the symbols on either side of the '▁' at `i`: a merged token spanning it would contain
   * the previous symbol's last char followed by '▁', and no token does (`crossing` lists the chars that do).
   */
  private splitsBefore(piece: string, i: number): boolean {
    const c = piece.charCodeAt(i - 1);
    if (c === 0x2581) return false; // a run of '▁' starts the next word
    if (this.crossing!.size === 0 && !this.fallbackCrosses) return true; // (Llama 2: no token crosses a word start)
    const low = c >= 0xdc00 && c <= 0xdfff && i >= 2;
    const prev = low ? piece.slice(i - 2, i) : piece[i - 1]!;
    const known = low ? this.vocab.has(prev) : this.bmpId![c]! >= 0;
    return known ? !this.crossing!.has(prev) : !this.fallbackCrosses;
  }

  private encodeWord(piece: string, out: number[]): void {
    if (this.opts.ignoreMerges) {
      const id = this.vocab.get(piece);
      if (id !== undefined) {
        out.push(id);
        return;
      }
    }
    const sym = this.symbols;
    sym.length = 0;
    if (this.bmpId) this.plainSymbols(piece, sym);
    else this.affixedSymbols(piece, sym);
    if (sym.length > SCAN_LIMIT) mergeByRank(sym, this.ranks, this.mergedId, out);
    else this.mergeScan(sym, out);
  }

  /** Symbols of a piece in a file without prefix or suffix: one-char tokens by table. */
  private plainSymbols(piece: string, sym: number[]): void {
    const table = this.bmpId!;
    let unk = false;
    for (let i = 0; i < piece.length; i++) {
      const c = piece.charCodeAt(i);
      let id: number;
      let s: string | undefined;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < piece.length) {
        s = piece.slice(i, i + 2);
        id = this.vocab.get(s) ?? -1;
        i++;
      } else {
        id = table[c]!;
      }
      if (id >= 0) {
        if (unk) sym.push(this.unkId);
        unk = false;
        sym.push(id);
      } else {
        unk = this.unknownChar(codePointUtf8(s === undefined ? c : s.codePointAt(0)!, this.bytes), sym, unk);
      }
    }
    if (unk) sym.push(this.unkId);
  }

  /** Symbols with `continuing_subword_prefix` before every char but the first, `end_of_word_suffix` after the last. */
  private affixedSymbols(piece: string, sym: number[]): void {
    const { prefix, suffix } = this.opts;
    let unk = false;
    for (let i = 0; i < piece.length; ) {
      const len = piece.codePointAt(i)! > 0xffff ? 2 : 1;
      let s = piece.slice(i, i + len);
      if (prefix && i > 0) s = prefix + s;
      i += len;
      if (suffix && i >= piece.length) s += suffix;
      const id = this.vocab.get(s);
      if (id !== undefined) {
        if (unk) sym.push(this.unkId);
        unk = false;
        sym.push(id);
      } else {
        if (this.bytes.length < s.length * 3) this.bytes = new Uint8Array(s.length * 3);
        unk = this.unknownChar(utf8.encodeInto(s, this.bytes).written, sym, unk);
      }
    }
    if (unk) sym.push(this.unkId);
  }

  /**
   * A symbol missing from the vocabulary (its UTF-8 in the first `byteCount` of `bytes`): its bytes as `<0xXX>`
   * tokens, else the unknown token. As in HF's BPE, an
   * unknown token waits (`pending`, returned) until a known symbol or the end comes, so byte tokens in between go
   * first, and a following unknown replaces it (fused) or pushes it.
   */
  private unknownChar(byteCount: number, sym: number[], pending: boolean): boolean {
    if (this.opts.byteFallback) {
      const { bytes, byteTokens } = this;
      let all = true;
      for (let k = 0; k < byteCount && all; k++) all = byteTokens[bytes[k]!]! >= 0;
      if (all) {
        for (let k = 0; k < byteCount; k++) sym.push(byteTokens[bytes[k]!]!);
        return pending;
      }
    }
    if (this.unkId < 0) return pending;
    if (pending && !this.opts.fuseUnk) sym.push(this.unkId);
    return true;
  }

  /** Short words: repeatedly merge the lowest-ranked, leftmost pair (the same result as the heap). */
  private mergeScan(input: number[], out: number[]): void {
    let n = input.length;
    if (this.sym.length < n) {
      this.sym = new Int32Array(n * 2);
      this.rank = new Int32Array(n * 2);
    }
    const { sym, rank, ranks, mergedId, leftSide } = this;
    for (let i = 0; i < n; i++) sym[i] = input[i]!;
    for (let i = 0; i + 1 < n; i++) {
      const r = leftSide[sym[i]!] === 1 ? ranks.get(sym[i]!, sym[i + 1]!) : -1;
      rank[i] = r < 0 ? NO_RANK : r;
    }
    for (;;) {
      let best = NO_RANK;
      let at = -1;
      for (let i = 0; i + 1 < n; i++) {
        if (rank[i]! < best) {
          best = rank[i]!;
          at = i;
        }
      }
      if (at < 0) break;
      sym[at] = mergedId[best]!;
      // (Loops, not copyWithin: words are short, and a builtin call per merge costs more than the copy.)
      for (let i = at + 1; i + 1 < n; i++) sym[i] = sym[i + 1]!;
      for (let i = at; i + 2 < n; i++) rank[i] = rank[i + 1]!;
      n--;
      if (at > 0) {
        const r = leftSide[sym[at - 1]!] === 1 ? ranks.get(sym[at - 1]!, sym[at]!) : -1;
        rank[at - 1] = r < 0 ? NO_RANK : r;
      }
      if (at + 1 < n) {
        const r = leftSide[sym[at]!] === 1 ? ranks.get(sym[at]!, sym[at + 1]!) : -1;
        rank[at] = r < 0 ? NO_RANK : r;
      }
    }
    for (let i = 0; i < n; i++) out.push(sym[i]!);
  }
}

/**
 * When a long piece may be encoded word by word (each word starting at a run of '▁'), with the same ids: the file
 * has no prefix or suffix (a merged token is then exactly its parts' text) and '▁' is a token. `crossing` holds the
 * chars x (not '▁') that some token has right before a '▁' — only after such a char can a merge cross a word start
 * (SentencePiece vocabularies have none or a few, e.g. Gemma 3's '>▁</'). `fallbackCrosses`: a byte or unknown
 * token's last char ('>' of `<0xXX>`, the unknown token's) is one of them.
 */
function wordSplitRule(vocab: ReadonlyMap<string, number>, opts: CharBpeOptions): { crossing: Set<string>; fallbackCrosses: boolean } | undefined {
  if (opts.prefix || opts.suffix || !vocab.has(META)) return undefined;
  const crossing = new Set<string>();
  for (const token of vocab.keys()) {
    for (let i = token.indexOf(META, 1); i > 0; i = token.indexOf(META, i + 1)) {
      const c = token.charCodeAt(i - 1);
      if (c === 0x2581) continue;
      crossing.add(c >= 0xdc00 && c <= 0xdfff && i >= 2 ? token.slice(i - 2, i) : token[i - 1]!);
    }
  }
  const lastChar = (s: string): string => [...s].pop() ?? '';
  const fallbackCrosses = crossing.has('>') || (opts.unkToken !== undefined && crossing.has(lastChar(opts.unkToken)));
  return { crossing, fallbackCrosses };
}
