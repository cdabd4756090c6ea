/**
 * A tokenizer: HF tokenizers' pipeline (`pipeline/`) behind kolm's API, with special tokens, chat template and HF
 * files. kolm's own tokenizers are byte-level BPE behind the Qwen2 split; published tokenizer.json files (Qwen3,
 * Llama 3, GPT-4o, DeepSeek-V3, …) load through the same code.
 */
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';
import { BpeModel } from './bpe.js';
import { DEFAULT_CHAT_TEMPLATE, renderChatTemplate, type ChatMessage, type RenderChatOptions } from './chat-template.js';
import { parseTokenizerConfig, tokenizerConfigText, tokenizerJsonText, type AddedToken, type TokenizerConfig } from './hf-format.js';
import { loadPipeline, type Pipeline } from './pipeline/index.js';
import { SPECIAL_TOKENS } from './special-tokens.js';

/** transformers (4.50 and later) saves the chat template in this file of the folder instead of tokenizer_config.json. */
export const CHAT_TEMPLATE_FILE = 'chat_template.jinja';

/** The folder's chat_template.jinja, or undefined when it has none. */
export async function readChatTemplateFile(dir: string): Promise<string | undefined> {
  const path = join(dir, CHAT_TEMPLATE_FILE);
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new KolmError(`cannot read ${path}: ${err.code ?? err.message}`);
  });
}

export interface EncodeOptions {
  /** Recognise special-token strings in the text (off by default: user text must never forge control tokens). */
  allowSpecial?: boolean;
  /** Add the special tokens the file's post-processor asks for (e.g. Llama 2's BOS); off by default. */
  addSpecialTokens?: boolean;
}

export class Tokenizer {
  readonly vocabSize: number;
  /** Special token content → id. */
  readonly specialTokens: Readonly<Record<string, number>>;
  /** sha256 hex of the tokenizer.json text, identifying the exact vocabulary and merges. */
  readonly hash: string;
  readonly config: Required<TokenizerConfig>;

  private readonly added: readonly AddedToken[];

  private constructor(
    private readonly pipeline: Pipeline,
    config: TokenizerConfig,
    private readonly jsonText: string,
    /** The template came from chat_template.jinja (and is saved there again, not in tokenizer_config.json). */
    private readonly templateFile = false,
  ) {
    this.added = pipeline.added;
    this.hash = createHash('sha256').update(jsonText).digest('hex');
    const specials: Record<string, number> = {};
    for (const t of pipeline.added) if (t.special) specials[t.content] = t.id;
    this.specialTokens = specials;
    this.vocabSize = pipeline.vocabSize;
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
    const text = tokenizerJsonText(model.vocab, model.merges, added);
    return new Tokenizer(loadPipeline(text, 'tokenizer.json', model), config, text);
  }

  /**
   * Reads `dir/tokenizer.json` and, if present, `dir/tokenizer_config.json` and `dir/chat_template.jinja`; the
   * .jinja file's template wins over tokenizer_config.json's `chat_template`, as in transformers.
   */
  static async load(dir: string): Promise<Tokenizer> {
    const jsonPath = join(dir, 'tokenizer.json');
    const configPath = join(dir, 'tokenizer_config.json');
    let text: string;
    try {
      text = await readFile(jsonPath, 'utf8');
    } catch (err) {
      throw new KolmError(`cannot read ${jsonPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const pipeline = loadPipeline(text, jsonPath);
    const configText = await readFile(configPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw new KolmError(`cannot read ${configPath}: ${err.code ?? err.message}`);
    });
    const config = configText === undefined ? {} : parseTokenizerConfig(configText, configPath);
    const template = await readChatTemplateFile(dir);
    if (template !== undefined) config.chatTemplate = template;
    return new Tokenizer(pipeline, config, text, template !== undefined);
  }

  /**
   * Writes tokenizer.json (byte-identical to what was loaded or built, so `hash` holds) and tokenizer_config.json,
   * with the chat template where the loaded folder had it: in chat_template.jinja, or in tokenizer_config.json (then
   * a chat_template.jinja left in `dir` is removed, since it would win over the saved template on the next load).
   */
  async save(dir: string): Promise<void> {
    await writeFileAtomic(join(dir, 'tokenizer.json'), this.jsonText);
    const config = this.templateFile ? { ...this.config, chatTemplate: undefined } : this.config;
    await writeFileAtomic(join(dir, 'tokenizer_config.json'), tokenizerConfigText(this.added, config));
    if (this.templateFile) await writeFileAtomic(join(dir, CHAT_TEMPLATE_FILE), this.config.chatTemplate);
    else await rm(join(dir, CHAT_TEMPLATE_FILE), { force: true });
  }

  /** The tokenizer.json text, as saved. */
  toJsonText(): string {
    return this.jsonText;
  }

  /** The byte-level BPE model (kolm's and other byte-level files). */
  get model(): BpeModel | undefined {
    return this.pipeline.bpe;
  }

  tokenId(token: string): number | undefined {
    const special = this.specialTokens[token];
    if (special !== undefined) return special;
    return this.pipeline.vocab.get(token) ?? this.added.find((t) => t.content === token)?.id;
  }

  /** The token's spelling: byte-level chars for BPE tokens, the content for added tokens. */
  idToToken(id: number): string | undefined {
    return this.pipeline.idToToken(id);
  }

  /**
   * Token ids of `text`. Lone surrogates are encoded as U+FFFD (the policy of TextEncoder and of the HF peers), so
   * `decode(encode(s)) === s.toWellFormed()` for every string.
   */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const wf = text as unknown as WellFormedString;
    if (!wf.isWellFormed()) text = wf.toWellFormed();
    return this.pipeline.encode(text, { allowSpecial: opts.allowSpecial === true, addSpecialTokens: opts.addSpecialTokens === true });
  }

  encodeBatch(texts: readonly string[], opts: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, opts));
  }

  /** The bytes the ids spell; a streaming decoder can feed these to a TextDecoder with `stream: true`. */
  decodeBytes(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): Uint8Array {
    return this.pipeline.decodeBytes(ids, opts.skipSpecial);
  }

  /** Text of the ids; byte sequences that are not valid UTF-8 (a token sequence cut mid-character) become U+FFFD. */
  decode(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
    return this.pipeline.decode(ids, opts.skipSpecial);
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
