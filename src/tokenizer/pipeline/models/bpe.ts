/**
 * HF's BPE model. Byte-level files (a ByteLevel pre-tokenizer) run kolm's byte BPE (`../bpe.ts`) on UTF-8 bytes, with
 * `ignore_merges` (a pre-token that is itself in the vocabulary is one token). Other files run `CharBpe`: symbols are
 * chars (with `continuing_subword_prefix` / `end_of_word_suffix`), chars missing from the vocabulary become
 * `<0xXX>` byte tokens (`byte_fallback`) or the unknown token (`unk_token`, runs fused with `fuse_unk`).
 */
import { KolmError } from '../../../util/errors.js';
import { BpeModel, mergeByRank } from '../../bpe.js';
import { bytesToToken, utf8Encode } from '../../byte-level.js';
import { PairTable } from '../../pair-table.js';

/** Appends the ids of one pre-token to `out`. */
export interface PieceModel {
  encodePiece(piece: string, out: number[]): void;
}

export class ByteBpe implements PieceModel {
  private readonly scratch = { buf: new Uint8Array(256) };

  constructor(
    readonly bpe: BpeModel,
    private readonly ignoreMerges: boolean,
  ) {}

  encodePiece(piece: string, out: number[]): void {
    const n = utf8Encode(piece, this.scratch);
    if (this.ignoreMerges && n > 1) {
      const id = this.bpe.vocab.get(bytesToToken(this.scratch.buf.subarray(0, n)));
      if (id !== undefined) {
        out.push(id);
        return;
      }
    }
    this.bpe.encodeBytes(this.scratch.buf, n, out);
  }
}

/** A '▁' right after another char, inside one token. */
const MID_WORD_META = /[^▁]▁/u;
const META = '▁';

export interface CharBpeOptions {
  unkToken?: string;
  fuseUnk: boolean;
  byteFallback: boolean;
  ignoreMerges: boolean;
  prefix?: string;
  suffix?: string;
}

export class CharBpe implements PieceModel {
  private readonly ranks: PairTable;
  private readonly mergedId: Int32Array;
  private readonly unkId: number | undefined;
  private readonly byteTokens: (number | undefined)[] = [];

  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    merges: readonly (readonly [string, string])[],
    private readonly opts: CharBpeOptions,
    where: string,
  ) {
    this.ranks = new PairTable(merges.length);
    this.mergedId = new Int32Array(merges.length);
    const prefixLen = opts.prefix?.length ?? 0;
    merges.forEach(([a, b], rank) => {
      const left = vocab.get(a);
      const right = vocab.get(b);
      const mergedToken = a + (prefixLen && b.startsWith(opts.prefix!) ? b.slice(prefixLen) : b);
      const merged = vocab.get(mergedToken);
      if (left === undefined || right === undefined || merged === undefined) {
        const missing = left === undefined ? a : right === undefined ? b : mergedToken;
        throw new KolmError(`${where}: model.merges[${rank}] "${a} ${b}" uses ${JSON.stringify(missing)}, which is not in model.vocab`);
      }
      this.ranks.set(left, right, rank);
      this.mergedId[rank] = merged;
    });
    if (opts.unkToken !== undefined) {
      this.unkId = vocab.get(opts.unkToken);
      if (this.unkId === undefined) throw new KolmError(`${where}: field model.unk_token ${JSON.stringify(opts.unkToken)} is not in model.vocab`);
    }
    let split = !opts.prefix && !opts.suffix;
    for (const token of vocab.keys()) if (split && MID_WORD_META.test(token)) split = false;
    this.wordSplit = split;
    for (let b = 0; b < 256; b++) this.byteTokens[b] = vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  }

  /**
   * SentencePiece-style vocabularies (no token has a '▁' right after another char) never merge across the start of a
   * '▁'-led word, so a long piece is encoded word by word, each word cached; the ids are the same.
   */
  private readonly wordSplit: boolean;
  private readonly wordCache = new Map<string, number[]>();

  encodePiece(piece: string, out: number[]): void {
    if (!this.wordSplit || this.opts.ignoreMerges || piece.length < 32) {
      this.encodeWord(piece, out);
      return;
    }
    let start = 0;
    for (let i = piece.indexOf(META, 1); ; i = piece.indexOf(META, i + 1)) {
      if (i >= 0 && piece[i - 1] === META) continue;
      const w = piece.slice(start, i < 0 ? piece.length : i);
      start = i;
      let ids = this.wordCache.get(w);
      if (ids === undefined) {
        ids = [];
        this.encodeWord(w, ids);
        if (this.wordCache.size >= 100_000) this.wordCache.clear();
        this.wordCache.set(w, ids);
      }
      for (let k = 0; k < ids.length; k++) out.push(ids[k]!);
      if (i < 0) break;
    }
  }

  private encodeWord(piece: string, out: number[]): void {
    if (this.opts.ignoreMerges) {
      const id = this.vocab.get(piece);
      if (id !== undefined) {
        out.push(id);
        return;
      }
    }
    const { prefix, suffix, byteFallback, fuseUnk } = this.opts;
    const sym: number[] = [];
    let unk = false;
    const chars = [...piece];
    chars.forEach((c, i) => {
      let s = c;
      if (i > 0 && prefix) s = prefix + s;
      if (i === chars.length - 1 && suffix) s = s + suffix;
      const id = this.vocab.get(s);
      if (id !== undefined) {
        sym.push(id);
        unk = false;
        return;
      }
      if (byteFallback) {
        const bytes = new TextEncoder().encode(s);
        const ids = [...bytes].map((b) => this.byteTokens[b]);
        if (ids.every((x) => x !== undefined)) {
          for (const x of ids) sym.push(x!);
          unk = false;
          return;
        }
      }
      if (this.unkId !== undefined) {
        if (!(fuseUnk && unk)) sym.push(this.unkId);
        unk = true;
      }
    });
    this.merge(sym, out);
  }

  private merge(sym: number[], out: number[]): void {
    if (sym.length <= 48) {
      this.mergeScan(sym, out);
      return;
    }
    mergeByRank(sym, this.ranks, this.mergedId, out);
  }

  /** Short words: repeatedly merge the lowest-ranked, leftmost pair (the same result as the heap). */
  private mergeScan(sym: number[], out: number[]): void {
    let n = sym.length;
    const none = 0x7fffffff;
    const rank: number[] = [];
    for (let i = 0; i + 1 < n; i++) {
      const r = this.ranks.get(sym[i]!, sym[i + 1]!);
      rank.push(r < 0 ? none : r);
    }
    for (;;) {
      let best = none;
      let at = -1;
      for (let i = 0; i + 1 < n; i++) {
        if (rank[i]! < best) {
          best = rank[i]!;
          at = i;
        }
      }
      if (at < 0) break;
      sym[at] = this.mergedId[best]!;
      sym.splice(at + 1, 1);
      rank.splice(at, 1);
      n--;
      if (at > 0) {
        const r = this.ranks.get(sym[at - 1]!, sym[at]!);
        rank[at - 1] = r < 0 ? none : r;
      }
      if (at + 1 < n) {
        const r = this.ranks.get(sym[at]!, sym[at + 1]!);
        rank[at] = r < 0 ? none : r;
      }
    }
    for (let i = 0; i < n; i++) out.push(sym[i]!);
  }
}
