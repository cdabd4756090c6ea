/** The kolm tokenizer: byte-level BPE behind the Qwen2 split, special tokens, chat template, HF files. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';
import { BpeModel } from './bpe.js';
import { tokenToBytes, utf8Encode } from './byte-level.js';
import { DEFAULT_CHAT_TEMPLATE, renderChatTemplate, type ChatMessage, type RenderChatOptions } from './chat-template.js';
import {
  parseTokenizerConfig,
  parseTokenizerJson,
  tokenizerConfigText,
  tokenizerJsonText,
  type AddedToken,
  type TokenizerConfig,
} from './hf-format.js';
import { QWEN2_SPLIT_REGEX } from './pretokenize.js';
import { SPECIAL_TOKENS } from './special-tokens.js';

/** Pre-token → ids cache; cleared when full, which keeps memory bounded and the hot set warm within a batch. */
const CACHE_LIMIT = 200_000;

export interface EncodeOptions {
  /** Recognise special-token strings in the text (off by default: user text must never forge control tokens). */
  allowSpecial?: boolean;
}

export class Tokenizer {
  readonly vocabSize: number;
  /** Special token content → id. */
  readonly specialTokens: Readonly<Record<string, number>>;
  /** sha256 hex of the tokenizer.json text, identifying the exact vocabulary and merges. */
  readonly hash: string;
  readonly config: Required<TokenizerConfig>;

  private readonly added: readonly AddedToken[];
  private readonly addedById = new Map<number, AddedToken>();
  private readonly tokenBytes: (Uint8Array | undefined)[];
  private readonly specialSplit: RegExp | undefined;
  private readonly cache = new Map<string, number | number[]>();
  private readonly scratch = { buf: new Uint8Array(256) };
  private readonly splitRegex = new RegExp(QWEN2_SPLIT_REGEX);
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  private constructor(
    readonly model: BpeModel,
    added: readonly AddedToken[],
    config: TokenizerConfig,
    private readonly jsonText: string,
  ) {
    this.added = added;
    this.hash = createHash('sha256').update(jsonText).digest('hex');
    const specials: Record<string, number> = {};
    let maxId = model.tokens.length - 1;
    for (const t of added) {
      this.addedById.set(t.id, t);
      if (t.special) specials[t.content] = t.id;
      maxId = Math.max(maxId, t.id);
    }
    this.specialTokens = specials;
    this.vocabSize = maxId + 1;
    this.tokenBytes = new Array(this.vocabSize);
    model.tokens.forEach((token, id) => {
      const bytes = token === undefined ? undefined : tokenToBytes(token);
      if (bytes) this.tokenBytes[id] = Uint8Array.from(bytes);
    });
    const encoder = new TextEncoder();
    for (const t of added) this.tokenBytes[t.id] = encoder.encode(t.content);
    const contents = added.map((t) => t.content).sort((a, b) => b.length - a.length);
    this.specialSplit = contents.length
      ? new RegExp(`(${contents.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`, 'u')
      : undefined;
    this.config = {
      chatTemplate: config.chatTemplate ?? DEFAULT_CHAT_TEMPLATE,
      bosToken: config.bosToken ?? SPECIAL_TOKENS.endOfText,
      eosToken: config.eosToken ?? SPECIAL_TOKENS.endOfText,
      padToken: config.padToken ?? SPECIAL_TOKENS.pad,
    };
  }

  /** Builds a tokenizer from a trained model; special tokens take the ids after the BPE vocabulary. */
  static fromModel(model: BpeModel, specialTokens: readonly string[], config: TokenizerConfig = {}): Tokenizer {
    let next = model.tokens.length;
    const added: AddedToken[] = [];
    for (const content of new Set(specialTokens)) {
      if (model.vocab.has(content)) throw new KolmError(`special token ${content} collides with a vocabulary entry`);
      added.push({ id: next++, content, special: true });
    }
    return new Tokenizer(model, added, config, tokenizerJsonText(model.vocab, model.merges, added));
  }

  /** Reads `dir/tokenizer.json` and, if present, `dir/tokenizer_config.json`. */
  static async load(dir: string): Promise<Tokenizer> {
    const jsonPath = join(dir, 'tokenizer.json');
    const configPath = join(dir, 'tokenizer_config.json');
    let text: string;
    try {
      text = await readFile(jsonPath, 'utf8');
    } catch (err) {
      throw new KolmError(`cannot read ${jsonPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const file = parseTokenizerJson(text, jsonPath);
    const configText = await readFile(configPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw new KolmError(`cannot read ${configPath}: ${err.code ?? err.message}`);
    });
    const config = configText === undefined ? {} : parseTokenizerConfig(configText, configPath);
    const model = new BpeModel(file.vocab, file.merges, jsonPath);
    for (const [i, t] of file.added.entries()) {
      const clash = model.tokens[t.id];
      if (clash !== undefined && clash !== t.content) {
        throw new KolmError(`${jsonPath}: field added_tokens[${i}].id ${t.id} is already model.vocab's ${JSON.stringify(clash)}`);
      }
    }
    return new Tokenizer(model, file.added, config, text);
  }

  /** Writes tokenizer.json (byte-identical to what was loaded or built, so `hash` holds) and tokenizer_config.json. */
  async save(dir: string): Promise<void> {
    await writeFileAtomic(join(dir, 'tokenizer.json'), this.jsonText);
    await writeFileAtomic(join(dir, 'tokenizer_config.json'), tokenizerConfigText(this.added, this.config));
  }

  /** The tokenizer.json text, as saved. */
  toJsonText(): string {
    return this.jsonText;
  }

  tokenId(token: string): number | undefined {
    const special = this.specialTokens[token];
    if (special !== undefined) return special;
    return this.model.vocab.get(token);
  }

  /** The token's spelling: byte-level chars for BPE tokens, the content for added tokens. */
  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.model.tokens[id];
  }

  /**
   * Token ids of `text`. Lone surrogates are encoded as U+FFFD (the policy of TextEncoder and of the HF peers), so
   * `decode(encode(s)) === s.toWellFormed()` for every string.
   */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    const wf = text as unknown as WellFormedString;
    if (!wf.isWellFormed()) text = wf.toWellFormed();
    if (!opts.allowSpecial || !this.specialSplit) {
      this.encodeOrdinary(text, out);
      return out;
    }
    const parts = text.split(this.specialSplit);
    for (let i = 0; i < parts.length; i++) {
      // split() with a capture group alternates text, special, text, …
      if (i % 2 === 1) out.push(this.specialTokens[parts[i]!] ?? this.tokenId(parts[i]!)!);
      else if (parts[i]) this.encodeOrdinary(parts[i]!, out);
    }
    return out;
  }

  encodeBatch(texts: readonly string[], opts: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, opts));
  }

  private encodeOrdinary(text: string, out: number[]): void {
    // match() with the g flag returns every pre-token in one call; the pattern covers every char, so pieces tile text.
    const pieces = text.match(this.splitRegex);
    if (!pieces) return;
    const cache = this.cache;
    for (let p = 0; p < pieces.length; p++) {
      const piece = pieces[p]!;
      const hit = cache.get(piece);
      if (hit !== undefined) {
        if (typeof hit === 'number') out.push(hit);
        else for (let i = 0; i < hit.length; i++) out.push(hit[i]!);
        continue;
      }
      const n = utf8Encode(piece, this.scratch);
      const start = out.length;
      this.model.encodeBytes(this.scratch.buf, n, out);
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(piece, out.length - start === 1 ? out[start]! : out.slice(start));
    }
  }

  /** The bytes the ids spell; a streaming decoder can feed these to a TextDecoder with `stream: true`. */
  decodeBytes(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): Uint8Array {
    let total = 0;
    for (let i = 0; i < ids.length; i++) total += this.bytesOf(ids[i]!, opts.skipSpecial)?.length ?? 0;
    const out = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < ids.length; i++) {
      const bytes = this.bytesOf(ids[i]!, opts.skipSpecial);
      if (bytes) {
        out.set(bytes, at);
        at += bytes.length;
      }
    }
    return out;
  }

  /** Text of the ids; byte sequences that are not valid UTF-8 (a token sequence cut mid-character) become U+FFFD. */
  decode(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
    return this.decoder.decode(this.decodeBytes(ids, opts));
  }

  private bytesOf(id: number, skipSpecial: boolean | undefined): Uint8Array | undefined {
    const bytes = this.tokenBytes[id];
    if (bytes === undefined) throw new KolmError(`token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
    if (skipSpecial && this.addedById.get(id)?.special) return undefined;
    return bytes;
  }

  /** Renders messages with tokenizer_config.json's chat_template (ChatML by default). */
  renderChat(messages: readonly ChatMessage[], opts: RenderChatOptions = {}): string {
    return renderChatTemplate(this.config.chatTemplate, messages, {
      ...opts,
      specialTokens: { bos_token: this.config.bosToken, eos_token: this.config.eosToken, pad_token: this.config.padToken },
    });
  }
}

/** ES2024 string methods, present in Node 20 but not in the ES2022 lib this package compiles against. */
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}
