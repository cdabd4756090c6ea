/**
 * HF `tokenizer.json` / `tokenizer_config.json`: what kolm writes, and `parseTokenizerJson`, which accepts only kolm's
 * own layout (byte-level BPE behind the Qwen2 split; what GGUF export maps to llama.cpp's "qwen2" pre-tokenizer).
 * `Tokenizer.load` reads any supported tokenizer.json through `pipeline/`. Merges are written as "left right" strings, the form every tokenizers version and transformers
 * read (byte-level spellings never contain a space); reading also accepts the newer [left, right] pairs.
 */
import { KolmError } from '../util/errors.js';
import { QWEN2_SPLIT_PATTERN } from './pretokenize.js';

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

export interface TokenizerFile {
  vocab: Map<string, number>;
  merges: [string, string][];
  added: AddedToken[];
}

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };

export function tokenizerJsonText(vocab: ReadonlyMap<string, number>, merges: readonly (readonly [string, string])[], added: readonly AddedToken[]): string {
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map((t) => ({
      id: t.id,
      content: t.content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: t.special,
    })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN2_SPLIT_PATTERN }, behavior: 'Isolated', invert: false }, BYTE_LEVEL],
    },
    post_processor: null,
    decoder: BYTE_LEVEL,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries([...vocab].sort((x, y) => x[1] - y[1])),
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  return JSON.stringify(json, null, 2) + '\n';
}

/** Parses and checks a tokenizer.json in kolm's own layout; every problem is reported with the file and the JSON field at fault. */
export function parseTokenizerJson(text: string, file: string): TokenizerFile {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    throw new KolmError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const fail = (field: string, problem: string): never => {
    throw new KolmError(`${file}: field ${field} ${problem}`);
  };
  const obj = (v: unknown, field: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(field, 'must be an object');

  const top = obj(root, '(root)');
  const model = obj(top.model, 'model');
  if (model.type !== 'BPE') fail('model.type', `is ${JSON.stringify(model.type)}; only "BPE" is supported`);
  for (const [field, ok] of [
    ['byte_fallback', !model.byte_fallback],
    ['ignore_merges', !model.ignore_merges],
    ['dropout', model.dropout == null],
    ['continuing_subword_prefix', !model.continuing_subword_prefix],
    ['end_of_word_suffix', !model.end_of_word_suffix],
  ] as const) {
    if (!ok) fail(`model.${field}`, `is ${JSON.stringify(model[field])}; kolm supports only the byte-level default`);
  }
  if (top.normalizer != null) fail('normalizer', 'must be null (kolm tokenizers do not normalize text)');
  checkPreTokenizer(top.pre_tokenizer, fail);
  const decoder = top.decoder == null ? undefined : obj(top.decoder, 'decoder');
  if (decoder?.type !== 'ByteLevel') fail('decoder.type', 'must be "ByteLevel"');

  const vocabObj = obj(model.vocab, 'model.vocab');
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(vocabObj)) {
    if (!Number.isInteger(id) || (id as number) < 0) fail(`model.vocab[${JSON.stringify(token)}]`, 'must be a non-negative integer id');
    vocab.set(token, id as number);
  }
  if (!Array.isArray(model.merges)) fail('model.merges', 'must be an array');
  const merges = (model.merges as unknown[]).map((m, i): [string, string] => {
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length === 2 && parts[0] && parts[1]) return [parts[0], parts[1]];
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      return [m[0], m[1]];
    }
    return fail(`model.merges[${i}]`, 'must be "left right" or [left, right]');
  });

  const addedRaw = top.added_tokens ?? [];
  if (!Array.isArray(addedRaw)) fail('added_tokens', 'must be an array');
  const added = (addedRaw as unknown[]).map((t, i): AddedToken => {
    const o = obj(t, `added_tokens[${i}]`);
    if (!Number.isInteger(o.id) || (o.id as number) < 0) fail(`added_tokens[${i}].id`, 'must be a non-negative integer');
    if (typeof o.content !== 'string' || !o.content) fail(`added_tokens[${i}].content`, 'must be a non-empty string');
    return { id: o.id as number, content: o.content as string, special: o.special === true };
  });
  return { vocab, merges, added };
}

function checkPreTokenizer(pre: unknown, fail: (field: string, problem: string) => never): void {
  const expected = `Sequence [Split {Regex: <Qwen2 pattern>, behavior: Isolated}, ByteLevel {use_regex: false}]`;
  const p = pre as { type?: unknown; pretokenizers?: unknown } | null;
  if (!p || p.type !== 'Sequence' || !Array.isArray(p.pretokenizers) || p.pretokenizers.length !== 2) {
    fail('pre_tokenizer', `must be ${expected}`);
  }
  const [split, byteLevel] = (p as { pretokenizers: Record<string, unknown>[] }).pretokenizers;
  const pattern = (split?.pattern as { Regex?: unknown } | undefined)?.Regex;
  if (split?.type !== 'Split' || split.behavior !== 'Isolated' || split.invert === true) {
    fail('pre_tokenizer.pretokenizers[0]', `must be Split with behavior Isolated (${expected})`);
  }
  if (pattern !== QWEN2_SPLIT_PATTERN) fail('pre_tokenizer.pretokenizers[0].pattern.Regex', 'must be the Qwen2 split pattern');
  if (byteLevel?.type !== 'ByteLevel' || byteLevel.use_regex !== false || byteLevel.add_prefix_space === true) {
    fail('pre_tokenizer.pretokenizers[1]', 'must be ByteLevel with use_regex false and add_prefix_space false');
  }
}

export interface TokenizerConfig {
  chatTemplate?: string;
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
}

export function tokenizerConfigText(added: readonly AddedToken[], config: TokenizerConfig): string {
  const json = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: config.bosToken,
    eos_token: config.eosToken,
    pad_token: config.padToken,
    unk_token: null,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: Object.fromEntries(
      added.map((t) => [String(t.id), { content: t.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: t.special }]),
    ),
    additional_special_tokens: added.filter((t) => t.special).map((t) => t.content),
    chat_template: config.chatTemplate,
  };
  return JSON.stringify(json, null, 2) + '\n';
}

export function parseTokenizerConfig(text: string, file: string): TokenizerConfig {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    throw new KolmError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new KolmError(`${file}: field (root) must be an object`);
  const o = root as Record<string, unknown>;
  const str = (field: string): string | undefined => {
    const v = o[field];
    if (v == null) return undefined;
    // transformers also writes tokens as {"content": ...} objects.
    if (typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
    if (typeof v !== 'string') throw new KolmError(`${file}: field ${field} must be a string`);
    return v;
  };
  let chatTemplate: string | undefined;
  if (Array.isArray(o.chat_template)) {
    // transformers' named-templates form: [{name, template}, ...]; the "default" one is used.
    const named = (o.chat_template as { name?: unknown; template?: unknown }[]).find((t) => t?.name === 'default');
    if (typeof named?.template !== 'string') throw new KolmError(`${file}: field chat_template has no "default" template`);
    chatTemplate = named.template;
  } else {
    chatTemplate = str('chat_template');
  }
  return { chatTemplate, bosToken: str('bos_token'), eosToken: str('eos_token'), padToken: str('pad_token') };
}
