/**
 * HF tokenizers' pipeline, stage by stage: added tokens → normalizer → pre-tokenizer → model → post-processor, and
 * the decoder back. `loadPipeline` reads any supported tokenizer.json; kolm's own files are one configuration of it
 * (no normalizer, the Qwen2 split, byte-level BPE), run by the same code at the same speed.
 */
import { KolmError } from '../../util/errors.js';
import { BpeModel } from '../bpe.js';
import { AddedTokenMatcher, type AddedToken, type Segment } from './added-tokens.js';
import { buildDecoder, byteLevelBytes, type Decoder } from './decoders.js';
import { JsonReader, type Json } from './json.js';
import { ByteBpe, type PieceModel } from './models/bpe.js';
import { CharBpe } from './models/char-bpe.js';
import { buildNormalizer, type Normalizer } from './normalizers.js';
import { buildPostProcessor, type PostProcessor } from './post-processors.js';
import { buildPreTokenizer, pick, type PreTokenizerInfo } from './pre-tokenizers.js';

export type { AddedToken } from './added-tokens.js';

/** Pre-token → ids cache; cleared when full, which keeps memory bounded and the hot set warm within a batch. */
const CACHE_LIMIT = 200_000;

export interface PipelineEncodeOptions {
  allowSpecial: boolean;
  addSpecialTokens: boolean;
}

export class Pipeline {
  /** id → model token spelling. */
  readonly tokens: readonly string[];
  readonly vocabSize: number;
  /** Byte-level files: the bytes each id stands for (the decoder is exactly ByteLevel). */
  private readonly tokenBytes: (Uint8Array | undefined)[] | undefined;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly cache = new Map<string, number | number[]>();
  private readonly hasNonSpecial: boolean;
  private readonly textDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  constructor(
    readonly vocab: ReadonlyMap<string, number>,
    readonly merges: readonly (readonly [string, string])[],
    readonly added: readonly AddedToken[],
    private readonly model: PieceModel,
    private readonly rawAdded: AddedTokenMatcher,
    private readonly normalizedAdded: AddedTokenMatcher | undefined,
    private readonly normalizer: Normalizer | undefined,
    private readonly preTokenizer: PreTokenizerInfo | undefined,
    private readonly postProcessor: PostProcessor | undefined,
    private readonly decoder: Decoder | undefined,
    byteLevelDecoder: boolean,
    /** The ByteLevel model's BpeModel (byte-level files). */
    readonly bpe: BpeModel | undefined,
  ) {
    const tokens: string[] = [];
    let maxId = -1;
    for (const [token, id] of vocab) {
      tokens[id] = token;
      if (id > maxId) maxId = id;
    }
    this.tokens = tokens;
    for (const t of added) {
      this.addedById.set(t.id, t);
      if (t.id > maxId) maxId = t.id;
    }
    this.vocabSize = maxId + 1;
    this.hasNonSpecial = added.some((t) => !t.special);
    if (byteLevelDecoder) {
      this.tokenBytes = new Array(this.vocabSize);
      tokens.forEach((t, id) => {
        if (t !== undefined) this.tokenBytes![id] = byteLevelBytes(t);
      });
      for (const t of added) this.tokenBytes[t.id] = byteLevelBytes(t.content);
    }
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.tokens[id];
  }

  isSpecial(id: number): boolean {
    return this.addedById.get(id)?.special === true;
  }

  encode(text: string, opts: PipelineEncodeOptions): number[] {
    let out: number[] = [];
    if (this.rawAdded.empty || (!opts.allowSpecial && !this.hasNonSpecial)) {
      this.encodeNormalized(text, true, opts.allowSpecial, out);
    } else {
      const segments: Segment[] = [];
      this.rawAdded.split(text, opts.allowSpecial, segments);
      segments.forEach((s, i) => {
        if (s.id !== undefined) out.push(s.id);
        else this.encodeNormalized(s.text, i === 0, opts.allowSpecial, out);
      });
    }
    if (opts.addSpecialTokens && this.postProcessor) out = this.postProcessor(out);
    return out;
  }

  private encodeNormalized(text: string, first: boolean, allowSpecial: boolean, out: number[]): void {
    const normalized = this.normalizer ? this.normalizer(text) : text;
    if (!this.normalizedAdded) {
      this.encodePlain(normalized, first, out);
      return;
    }
    const segments: Segment[] = [];
    this.normalizedAdded.split(normalized, allowSpecial, segments);
    segments.forEach((s, i) => {
      if (s.id !== undefined) out.push(s.id);
      else this.encodePlain(s.text, first && i === 0, out);
    });
  }

  private encodePlain(text: string, first: boolean, out: number[]): void {
    if (!text) return;
    let pieces: string[] | null = null;
    const tiling = this.preTokenizer?.tilingRegex;
    if (tiling) {
      // match() with the g flag returns every pre-token in one call; used when the pieces tile the text.
      pieces = text.match(pick(tiling, text));
      if (pieces) {
        let total = 0;
        for (let p = 0; p < pieces.length; p++) total += pieces[p]!.length;
        if (total !== text.length) pieces = null;
      }
    }
    if (!pieces) {
      pieces = [];
      if (this.preTokenizer) this.preTokenizer.run(text, first, pieces);
      else pieces.push(text);
    }
    if (this.model.cachesWords) {
      for (let p = 0; p < pieces.length; p++) if (pieces[p]) this.model.encodePiece(pieces[p]!, out);
      return;
    }
    const cache = this.cache;
    for (let p = 0; p < pieces.length; p++) {
      const piece = pieces[p]!;
      if (!piece) continue;
      const hit = cache.get(piece);
      if (hit !== undefined) {
        if (typeof hit === 'number') out.push(hit);
        else for (let i = 0; i < hit.length; i++) out.push(hit[i]!);
        continue;
      }
      const start = out.length;
      this.model.encodePiece(piece, out);
      if (piece.length > 256) continue; // whole lines (char-level files without a pre-tokenizer) are not worth keeping
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(piece, out.length - start === 1 ? out[start]! : out.slice(start));
    }
  }

  /** Whether `decodeBytes` gives exact bytes (byte-level decoder) rather than the UTF-8 of the decoded text. */
  get byteLevel(): boolean {
    return this.tokenBytes !== undefined;
  }

  decodeBytes(ids: ArrayLike<number>, skipSpecial: boolean | undefined): Uint8Array {
    if (!this.tokenBytes) return new TextEncoder().encode(this.decode(ids, skipSpecial));
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const bytes = this.tokenBytes[id];
      if (bytes === undefined) throw unknownId(id, this.vocabSize);
      if (skipSpecial && this.addedById.get(id)?.special) continue;
      parts.push(bytes);
      total += bytes.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  decode(ids: ArrayLike<number>, skipSpecial: boolean | undefined): string {
    if (this.tokenBytes) return this.textDecoder.decode(this.decodeBytes(ids, skipSpecial));
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const t = this.idToToken(id);
      if (t === undefined) throw unknownId(id, this.vocabSize);
      if (skipSpecial && this.addedById.get(id)?.special) continue;
      tokens.push(t);
    }
    return this.decoder ? this.decoder(tokens).join('') : tokens.join(' ');
  }
}

function unknownId(id: number, size: number): KolmError {
  return new KolmError(`token id ${id} is not in the vocabulary (size ${size})`);
}

/** Parses and checks a tokenizer.json; every problem names the file, the JSON field and what is supported. */
export function loadPipeline(text: string, file: string, prebuilt?: BpeModel): Pipeline {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    throw new KolmError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const r = new JsonReader(file);
  const top = r.obj(root, '(root)');
  const model = r.obj(top.model, 'model');
  // Files written before the "type" field existed still carry BPE's fields.
  if (model.type !== undefined || !('merges' in model)) r.type(model, 'model', ['BPE']);
  if (model.dropout != null && model.dropout !== 0) r.fail('model.dropout', `is ${JSON.stringify(model.dropout)}; only null is supported (dropout samples)`);
  for (const field of ['truncation', 'padding'] as const) {
    if (top[field] != null) r.fail(field, 'must be null (kolm truncates and pads itself)');
  }

  const vocabObj = r.obj(model.vocab, 'model.vocab');
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(vocabObj)) {
    if (!Number.isInteger(id) || (id as number) < 0) r.fail(`model.vocab[${JSON.stringify(token)}]`, 'must be a non-negative integer id');
    vocab.set(token, id as number);
  }
  const merges = r.arr(model.merges, 'model.merges').map((m, i): [string, string] => {
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length === 2 && parts[0] && parts[1]) return [parts[0], parts[1]];
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      return [m[0], m[1]];
    }
    return r.fail(`model.merges[${i}]`, 'must be "left right" or [left, right]');
  });

  // A merge listed twice counts at its last rank, as in the Rust peer (whose merge map keeps the last insertion).
  const lastRank = new Map<string, number>();
  merges.forEach(([a, b], i) => lastRank.set(`${a.length}:${a}${b}`, i));
  if (lastRank.size !== merges.length) {
    const kept = merges.filter(([a, b], i) => lastRank.get(`${a.length}:${a}${b}`) === i);
    merges.length = 0;
    for (const m of kept) merges.push(m); // (a spread of 500k merges would overflow the stack)
  }

  const added = r.arr(top.added_tokens ?? [], 'added_tokens').map((t, i): AddedToken => {
    const o = r.obj(t, `added_tokens[${i}]`);
    if (!Number.isInteger(o.id) || (o.id as number) < 0) r.fail(`added_tokens[${i}].id`, 'must be a non-negative integer');
    if (typeof o.content !== 'string' || !o.content) r.fail(`added_tokens[${i}].content`, 'must be a non-empty string');
    const token: AddedToken = {
      id: o.id as number,
      content: o.content as string,
      special: o.special === true,
      singleWord: o.single_word === true,
      lstrip: o.lstrip === true,
      rstrip: o.rstrip === true,
      normalized: o.normalized === true,
    };
    return token;
  });
  const tokensById: string[] = [];
  for (const [token, id] of vocab) tokensById[id] = token;
  added.forEach((t, i) => {
    const existing = tokensById[t.id];
    if (existing !== undefined && existing !== t.content) {
      r.fail(`added_tokens[${i}].id`, `${t.id} is already model.vocab's ${JSON.stringify(existing)}`);
    }
    // The Rust peer gives an added token whose content is a model token the model's id, whatever the file says.
    const modelId = vocab.get(t.content);
    if (modelId !== undefined && modelId !== t.id) {
      r.fail(`added_tokens[${i}].id`, `is ${t.id}, but its content ${JSON.stringify(t.content)} is model.vocab's id ${modelId} (supported: the same id)`);
    }
  });

  const normalizer = buildNormalizer(top.normalizer, 'normalizer', r);
  const preTokenizer = buildPreTokenizer(top.pre_tokenizer, 'pre_tokenizer', r);
  const postProcessor = buildPostProcessor(top.post_processor, 'post_processor', r);
  const decoder = buildDecoder(top.decoder, 'decoder', r);

  const prefix = (model.continuing_subword_prefix as string | null | undefined) || undefined;
  const suffix = (model.end_of_word_suffix as string | null | undefined) || undefined;
  const unkToken = (model.unk_token as string | null | undefined) ?? undefined;
  const ignoreMerges = model.ignore_merges === true;
  let pieceModel: PieceModel;
  let bpe: BpeModel | undefined;
  if (preTokenizer?.byteLevel) {
    // kolm's byte BPE has no affixes; byte-level files are made without them.
    if (prefix) r.fail('model.continuing_subword_prefix', 'must be empty with a ByteLevel pre-tokenizer (supported: char-level BPE with a prefix, byte-level BPE without)');
    if (suffix) r.fail('model.end_of_word_suffix', 'must be empty with a ByteLevel pre-tokenizer (supported: char-level BPE with a suffix, byte-level BPE without)');
    bpe = prebuilt ?? new BpeModel(vocab, merges, file);
    pieceModel = new ByteBpe(bpe, ignoreMerges);
  } else {
    pieceModel = new CharBpe(vocab, merges, { unkToken, fuseUnk: model.fuse_unk === true, byteFallback: model.byte_fallback === true, ignoreMerges, prefix, suffix }, file);
  }

  const normalizedTokens = added.filter((t) => t.normalized);
  const rawAdded = new AddedTokenMatcher(added.filter((t) => !t.normalized).map((token) => ({ token, pattern: token.content })));
  const normalizedAdded = normalizedTokens.length
    ? new AddedTokenMatcher(normalizedTokens.map((token) => ({ token, pattern: normalizer ? normalizer(token.content) : token.content })))
    : undefined;
  const byteLevelDecoder = (top.decoder as Json | null)?.type === 'ByteLevel';
  if (byteLevelDecoder && !preTokenizer?.byteLevel) r.fail('decoder', 'is ByteLevel but pre_tokenizer has no ByteLevel (supported: both or neither)');
  return new Pipeline(vocab, merges, added, pieceModel, rawAdded, normalizedAdded, normalizer, preTokenizer, postProcessor, decoder, byteLevelDecoder, bpe);
}
