/**
 * kolm model folders ↔ llama.cpp GGUF files (`llama`, `qwen2` and `qwen3` architectures).
 *
 * Export writes what llama.cpp's loader reads for the model's architecture (`ggufArchitecture`): the `ARCH.*`
 * hyperparameters (explicit head_dim as key/value lengths, RoPE base and scaling; Llama 3.1 RoPE as the
 * `rope_freqs.weight` divisors convert_hf_to_gguf.py writes), the byte-level BPE vocabulary as
 * `tokenizer.ggml.model = "gpt2"` with `tokenizer.ggml.pre = "qwen2"` (the split kolm's pre-tokenizer implements),
 * merges, special-token ids and the chat template (published byte-level BPE files — Qwen3, Llama 3, GPT-4o,
 * DeepSeek-V3 — get the pre-tokenizer name of their split, see gguf-vocab.ts); for `llama`, q/k rows (and biases) permuted to llama.cpp's adjacent-pair rotary layout, while `qwen2` and
 * `qwen3` rotate halves as HF does and keep HF's rows; biases as `blk.N.attn_q.bias` etc., Qwen3's per-head norms as
 * `blk.N.attn_q_norm.weight`/`attn_k_norm.weight`; no `output.weight` when embeddings are tied.
 * Import reads such a file back into an HF folder (config.json, model.safetensors, tokenizer.json,
 * tokenizer_config.json) that kolm loads.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ARCHITECTURES, isHyperClovaX, validateConfig, type ModelConfig, type RopeScaling } from '../model/config.js';
import { ropeFrequencies, llama3Factor } from '../model/rope.js';
import { loadModelFolder, saveModelFolder, type FolderWeights } from '../model/folder.js';
import { quantizationConfig } from '../model/compressed-tensors.js';
import { paramSpecs } from '../model/params.js';
import { parseTokenizerConfig, parseTokenizerJson, tokenizerConfigText, tokenizerJsonText, type AddedToken } from '../tokenizer/hf-format.js';
import { DEFAULT_CHAT_TEMPLATE } from '../tokenizer/chat-template.js';
import { SPECIAL_TOKENS } from '../tokenizer/special-tokens.js';
import { readChatTemplateFile } from '../tokenizer/tokenizer.js';
import { BYTE_TO_CHAR } from '../tokenizer/byte-level.js';
import { KolmError } from '../util/errors.js';
import { readPublishedVocab } from './gguf-vocab.js';
import { GGUF_EXPORT_TYPES, ggufTensors, KEPT_QUANTIZED, quantizedExportType, quantizedFromGgml, type GgufExportType } from './gguf-tensors.js';
import { readGguf, type GgufFile } from '../formats/gguf/reader.js';
import { writeGguf, type GgufWriteTensor } from '../formats/gguf/writer.js';
import { ggufToHfName, hfToGgufName, unpermuteFromGguf } from '../formats/gguf/names.js';
import type { GgufValue } from '../formats/gguf/types.js';

export { GGUF_EXPORT_TYPES, type GgufExportType } from './gguf-tensors.js';

/** llama.cpp's llama_token_type (gguf-py TokenType). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** llama_ftype values written as general.file_type. */
const FILE_TYPE: Record<GgufExportType, number> = { f32: 0, f16: 1, q8_0: 7, q4_0: 2 };

/** The pre-tokenizer name llama.cpp knows for the Qwen2 split pattern kolm tokenizers use. */
export const GGUF_PRE_TOKENIZER = 'qwen2';

/** Config fields only HyperCLOVAX defines; llama.cpp's `llama` architecture has no place for them. */
const HYPERCLOVAX_FIELDS = ['use_post_norm', 'embedding_multiplier', 'attention_multiplier', 'residual_multiplier', 'logits_scaling'] as const;

/**
 * Throw a KolmError naming the field when `config` needs something llama.cpp's `llama` architecture cannot express:
 * Peri-LN, μP multipliers, dynamic NTK RoPE scaling.
 */
export function assertLlamaExpressible(c: ModelConfig, source: string): void {
  if (isHyperClovaX(c)) {
    const neutral = (f: (typeof HYPERCLOVAX_FIELDS)[number]): boolean => {
      const v = c[f];
      if (v === undefined || v === false) return true;
      if (f === 'attention_multiplier') return Math.abs((v as number) - 1 / Math.sqrt(c.head_dim)) <= 1e-12;
      return v === 1;
    };
    const fields = HYPERCLOVAX_FIELDS.filter((f) => !neutral(f));
    throw new KolmError(
      `${source}: ${fields.map((f) => `${f} = ${JSON.stringify(c[f])}`).join(', ')} — HyperCLOVAX ${fields.includes('use_post_norm') ? 'Peri-LN' : 'μP'}` +
        ` semantics that llama.cpp's 'llama' architecture cannot express; GGUF export needs a plain Llama config (export to ONNX instead)`,
    );
  }
  if (c.rope_scaling?.rope_type === 'dynamic') {
    throw new KolmError(`${source}: rope_scaling.rope_type = "dynamic" (dynamic NTK) has no llama.cpp equivalent; GGUF export supports linear, yarn and llama3`);
  }
  if (c.rope_scaling?.rope_type === 'llama3' && ggufArchitecture(c) !== 'llama') {
    throw new KolmError(`${source}: rope_scaling.rope_type = "llama3" with model_type '${c.model_type}': llama.cpp reads Llama 3.1 RoPE factors only for the 'llama' architecture`);
  }
}

/** llama.cpp's architecture name for a config: `qwen2`, `qwen3`, or `llama` (Llama and neutral HyperCLOVAX). */
export function ggufArchitecture(c: ModelConfig): 'llama' | 'qwen2' | 'qwen3' {
  return c.model_type === 'qwen2' || c.model_type === 'qwen3' ? c.model_type : 'llama';
}

interface TokenizerFiles {
  vocab: ReadonlyMap<string, number>;
  merges: readonly (readonly [string, string])[];
  added: readonly Pick<AddedToken, 'id' | 'content' | 'special'>[];
  /** tokenizer.ggml.pre. */
  pre: string;
  chatTemplate: string | undefined;
  bosToken: string | undefined;
  eosToken: string | undefined;
  padToken: string | undefined;
  /** Ids from config.json, used where tokenizer_config.json names no token (published files). */
  bosId?: number | null;
  eosId?: number | null;
  padId?: number | null;
  addBos: boolean;
  addEos: boolean;
}

async function readTokenizerFiles(dir: string, c: ModelConfig): Promise<TokenizerFiles> {
  const jsonPath = join(dir, 'tokenizer.json');
  const configPath = join(dir, 'tokenizer_config.json');
  const text = await readFile(jsonPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new KolmError(`${jsonPath}: cannot read (${err.code ?? err.message}); GGUF export needs the model's tokenizer files`);
  });
  let file: ReturnType<typeof parseTokenizerJson> | undefined;
  try {
    file = parseTokenizerJson(text, jsonPath);
  } catch (err) {
    if (!(err instanceof KolmError)) throw err;
  }
  const configText = await readFile(configPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new KolmError(`${configPath}: cannot read (${err.code ?? err.message})`);
  });
  const config = configText === undefined ? {} : parseTokenizerConfig(configText, configPath);
  config.chatTemplate = (await readChatTemplateFile(dir)) ?? config.chatTemplate;
  if (file) {
    return {
      ...file,
      pre: GGUF_PRE_TOKENIZER,
      chatTemplate: config.chatTemplate ?? DEFAULT_CHAT_TEMPLATE,
      bosToken: config.bosToken ?? SPECIAL_TOKENS.endOfText,
      eosToken: config.eosToken ?? SPECIAL_TOKENS.endOfText,
      padToken: config.padToken ?? SPECIAL_TOKENS.pad,
      addBos: false,
      addEos: false,
    };
  }
  // Not kolm's own layout: a published byte-level BPE file, read by the general pipeline.
  const pub = readPublishedVocab(text, jsonPath);
  const bosToken = pub.prefixId === undefined ? config.bosToken : undefined;
  const eosToken = pub.suffixId === undefined ? config.eosToken : undefined;
  return {
    vocab: pub.vocab,
    merges: pub.merges,
    added: pub.added,
    pre: pub.pre,
    chatTemplate: config.chatTemplate,
    bosToken,
    eosToken,
    padToken: config.padToken,
    bosId: pub.prefixId ?? c.bos_token_id,
    eosId: pub.suffixId ?? (Array.isArray(c.eos_token_id) ? c.eos_token_id[0] : c.eos_token_id),
    padId: c.pad_token_id,
    addBos: pub.prefixId !== undefined,
    addEos: pub.suffixId !== undefined,
  };
}

/** Token strings and types by id for `n` ids; ids neither in the BPE vocabulary nor added become unused `[PADi]`. */
function vocabularyTable(tok: TokenizerFiles, n: number, source: string): { tokens: string[]; types: number[] } {
  const tokens = new Array<string | undefined>(n);
  const types = new Array<number>(n).fill(TOKEN_TYPE.UNUSED);
  for (const [token, id] of tok.vocab) {
    if (id >= n) throw new KolmError(`${source}: tokenizer.json token ${JSON.stringify(token)} has id ${id}, beyond config.json vocab_size ${n}`);
    tokens[id] = token;
    types[id] = TOKEN_TYPE.NORMAL;
  }
  for (const t of tok.added) {
    if (t.id >= n) throw new KolmError(`${source}: tokenizer.json added token ${JSON.stringify(t.content)} has id ${t.id}, beyond config.json vocab_size ${n}`);
    tokens[t.id] = t.content;
    types[t.id] = t.special ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
  }
  return { tokens: Array.from(tokens, (t, i) => t ?? `[PAD${i}]`), types };
}

const u32 = (value: number): GgufValue => ({ type: 'uint32', value });
const f32 = (value: number): GgufValue => ({ type: 'float32', value });
const str = (value: string): GgufValue => ({ type: 'string', value });

function ropeScalingMetadata(s: RopeScaling | null, arch: string): Array<[string, GgufValue]> {
  if (!s) return [];
  // Llama 3.1 scaling is the rope_freqs tensor (per-frequency divisors), not metadata, as convert_hf_to_gguf.py does.
  if (s.rope_type === 'llama3') return [];
  if (s.rope_type === 'linear') return [[`${arch}.rope.scaling.type`, str('linear')], [`${arch}.rope.scaling.factor`, f32(s.factor)]];
  if (s.rope_type === 'yarn') {
    const out: Array<[string, GgufValue]> = [
      [`${arch}.rope.scaling.type`, str('yarn')],
      [`${arch}.rope.scaling.factor`, f32(s.factor)],
      [`${arch}.rope.scaling.original_context_length`, u32(s.original_max_position_embeddings)],
    ];
    if (s.beta_fast !== undefined) out.push([`${arch}.rope.scaling.yarn_beta_fast`, f32(s.beta_fast)]);
    if (s.beta_slow !== undefined) out.push([`${arch}.rope.scaling.yarn_beta_slow`, f32(s.beta_slow)]);
    // llama.cpp multiplies its own 0.1·ln(factor) + 1 by attn_factor; HF's attention_factor replaces that term.
    if (s.attention_factor !== undefined) out.push([`${arch}.rope.scaling.attn_factor`, f32(s.attention_factor / (0.1 * Math.log(s.factor) + 1))]);
    return out;
  }
  throw new KolmError(`rope_scaling.rope_type = ${JSON.stringify(s.rope_type)} has no llama.cpp equivalent`);
}

/** Every metadata key of the exported file, in the order written. */
export function ggufMetadata(c: ModelConfig, tok: TokenizerFiles, opts: { name: string; type: GgufExportType; source: string }): Array<[string, GgufValue]> {
  const { tokens, types } = vocabularyTable(tok, c.vocab_size, opts.source);
  const idOf = (token: string | undefined, fallback: number | null | undefined, what: string): number | undefined => {
    if (token === undefined) return fallback ?? undefined;
    const id = tok.added.find((t) => t.content === token)?.id ?? tok.vocab.get(token);
    if (id === undefined) throw new KolmError(`${opts.source}: tokenizer_config.json ${what} ${JSON.stringify(token)} is not in the vocabulary`);
    return id;
  };
  const specialIds: Array<[string, GgufValue]> = [];
  for (const [key, token, fallback, what] of [
    ['bos_token_id', tok.bosToken, tok.bosId, 'bos_token'],
    ['eos_token_id', tok.eosToken, tok.eosId, 'eos_token'],
    ['padding_token_id', tok.padToken, tok.padId, 'pad_token'],
  ] as const) {
    const id = idOf(token, fallback, what);
    if (id !== undefined) specialIds.push([`tokenizer.ggml.${key}`, u32(id)]);
  }
  const arch = ggufArchitecture(c);
  const md: Array<[string, GgufValue]> = [
    ['general.architecture', str(arch)],
    ['general.type', str('model')],
    ['general.name', str(opts.name)],
    ['general.file_type', u32(FILE_TYPE[opts.type])],
    [`${arch}.vocab_size`, u32(c.vocab_size)],
    [`${arch}.context_length`, u32(c.max_position_embeddings)],
    [`${arch}.embedding_length`, u32(c.hidden_size)],
    [`${arch}.block_count`, u32(c.num_hidden_layers)],
    [`${arch}.feed_forward_length`, u32(c.intermediate_size)],
    [`${arch}.attention.head_count`, u32(c.num_attention_heads)],
    [`${arch}.attention.head_count_kv`, u32(c.num_key_value_heads)],
    [`${arch}.attention.key_length`, u32(c.head_dim)],
    [`${arch}.attention.value_length`, u32(c.head_dim)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(c.rms_norm_eps)],
    [`${arch}.rope.freq_base`, f32(c.rope_theta)],
    [`${arch}.rope.dimension_count`, u32(c.head_dim)],
    ...ropeScalingMetadata(c.rope_scaling, arch),
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.pre', str(tok.pre)],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'int32', value: types }],
    ['tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: tok.merges.map(([a, b]) => `${a} ${b}`) }],
    ...specialIds,
  ];
  // No eot_token_id: llama.cpp already ends generation at <|im_end|> and <|endoftext|> (end-of-generation tokens it
  // recognises by name), and kolm's chat template closes every turn with <|im_end|> before <|endofturn|>/<|stop|>.
  md.push(
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: tok.addBos }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: tok.addEos }],
  );
  if (tok.chatTemplate !== undefined) md.push(['tokenizer.chat_template', str(tok.chatTemplate)]);
  return md;
}

export interface GgufExportOptions {
  type?: GgufExportType;
  /** general.name (default: the folder's name). */
  name?: string;
}

export interface GgufExportSummary {
  file: string;
  type: GgufExportType;
  tensors: number;
  metadataKeys: number;
  /** Tensors stored per ggml type. */
  tensorTypes: Record<string, number>;
}

/** Write the model folder `modelDir` as a GGUF file llama.cpp loads (atomically: temp file + rename). */
export async function exportGguf(modelDir: string, outFile: string, opts: GgufExportOptions = {}): Promise<GgufExportSummary> {
  if (opts.type !== undefined && !GGUF_EXPORT_TYPES.includes(opts.type)) throw new KolmError(`GGUF export: --type must be one of ${GGUF_EXPORT_TYPES.join(', ')}, got ${JSON.stringify(opts.type)}`);
  const source = join(modelDir, 'config.json');
  const model = await loadModelFolder(modelDir, { quantized: true });
  const c = model.config;
  // A quantized folder's layers are written as they are: its type is fixed.
  const fixed = quantizedExportType(model.weights, source);
  if (fixed && opts.type !== undefined && opts.type !== fixed) throw new KolmError(`${source}: the folder is quantized, so its GGUF type is ${fixed}, not ${opts.type}; export the float folder for other types`);
  const type = fixed ?? opts.type ?? 'f16';
  assertLlamaExpressible(c, source);
  const tok = await readTokenizerFiles(modelDir, c);
  const metadata = ggufMetadata(c, tok, { name: opts.name ?? basename(resolve(modelDir)), type, source });
  // Only llama.cpp's `llama` rotates adjacent pairs; `qwen2`/`qwen3` rotate halves as HF does (no permutation).
  const permute = ggufArchitecture(c) === 'llama';
  const tensors: GgufWriteTensor[] = ggufTensors(c, model.weights, type, permute);
  if (c.rope_scaling?.rope_type === 'llama3') {
    const s = c.rope_scaling;
    const factors = Float32Array.from(ropeFrequencies({ ...c, rope_scaling: null }).invFreq, (f) => llama3Factor(s, f));
    tensors.push({ name: 'rope_freqs.weight', shape: [factors.length], type: 'F32', data: factors });
  }
  await writeGguf(outFile, { metadata, tensors });
  const tensorTypes: Record<string, number> = {};
  for (const t of tensors) tensorTypes[t.type] = (tensorTypes[t.type] ?? 0) + 1;
  return { file: outFile, type, tensors: tensors.length, metadataKeys: metadata.length + (tensorTypes['Q8_0'] || tensorTypes['Q4_0'] ? 1 : 0), tensorTypes };
}

// ---------------------------------------------------------------------------------------------------------- import

/** The shortest decimal that is the same float32: 1e-5 comes back as 1e-5, not 0.000009999999747378752. */
function float32Decimal(x: number): number {
  for (let p = 1; p <= 9; p++) {
    const v = Number(x.toPrecision(p));
    if (Math.fround(v) === Math.fround(x)) return v;
  }
  return x;
}

function metadataReader(g: GgufFile) {
  const where = g.path;
  const get = (key: string) => g.metadata.get(key);
  const fail = (key: string, why: string): never => {
    throw new KolmError(`${where}: metadata "${key}" ${why}`);
  };
  const num = (key: string, fallback?: number): number => {
    const v = get(key);
    if (v === undefined) return fallback ?? fail(key, 'is missing');
    if (v.type === 'uint64' || v.type === 'int64') return Number(v.value);
    if (v.type === 'array' || v.type === 'string' || v.type === 'bool') return fail(key, `must be a number, is ${v.type}`);
    return Number(v.value);
  };
  const int = (key: string, fallback?: number): number => {
    const n = num(key, fallback);
    if (!Number.isSafeInteger(n) || n < 0) fail(key, `must be a non-negative integer, is ${n}`);
    return n;
  };
  const text = (key: string, fallback?: string): string => {
    const v = get(key);
    if (v === undefined) return fallback ?? fail(key, 'is missing');
    if (v.type !== 'string') return fail(key, `must be a string, is ${v.type}`);
    return v.value;
  };
  const strings = (key: string): string[] => {
    const v = get(key);
    if (v === undefined) return fail(key, 'is missing');
    if (v.type !== 'array' || v.itemType !== 'string') return fail(key, 'must be an array of strings');
    return v.value as string[];
  };
  const ints = (key: string): number[] | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    if (v.type !== 'array' || v.itemType === 'string' || v.itemType === 'bool') return fail(key, 'must be an array of integers');
    return (v.value as (number | bigint)[]).map(Number);
  };
  return { get, num, int, text, strings, ints, fail };
}

function ropeScalingFromGguf(m: ReturnType<typeof metadataReader>, arch: string): RopeScaling | null {
  const type = m.text(`${arch}.rope.scaling.type`, 'none');
  if (type === 'none') return null;
  const factor = float32Decimal(m.num(`${arch}.rope.scaling.factor`));
  if (type === 'linear') return { rope_type: 'linear', factor };
  if (type === 'yarn') {
    const s: RopeScaling = { rope_type: 'yarn', factor, original_max_position_embeddings: m.int(`${arch}.rope.scaling.original_context_length`) };
    if (m.get(`${arch}.rope.scaling.yarn_beta_fast`)) s.beta_fast = float32Decimal(m.num(`${arch}.rope.scaling.yarn_beta_fast`));
    if (m.get(`${arch}.rope.scaling.yarn_beta_slow`)) s.beta_slow = float32Decimal(m.num(`${arch}.rope.scaling.yarn_beta_slow`));
    if (m.get(`${arch}.rope.scaling.attn_factor`)) s.attention_factor = float32Decimal(m.num(`${arch}.rope.scaling.attn_factor`) * (0.1 * Math.log(factor) + 1));
    return s;
  }
  return m.fail(`${arch}.rope.scaling.type`, `is ${JSON.stringify(type)}; kolm supports none, linear and yarn`);
}

export interface GgufImportSummary {
  dir: string;
  config: ModelConfig;
  tensors: number;
  /** ggml types found in the file, with counts (Q8_0/Q4_0 linear layers of one type stay quantized; others become float32). */
  tensorTypes: Record<string, number>;
}

/** Rebuild an HF model folder (config, float32 safetensors, tokenizer files) from a llama, qwen2 or qwen3 GGUF file. */
export async function importGguf(file: string, outDir: string): Promise<GgufImportSummary> {
  const g = await readGguf(file);
  const m = metadataReader(g);
  const archName = m.text('general.architecture');
  if (archName !== 'llama' && archName !== 'qwen2' && archName !== 'qwen3') m.fail('general.architecture', `is ${JSON.stringify(archName)}; kolm imports the 'llama', 'qwen2' and 'qwen3' architectures`);
  const arch = archName as 'llama' | 'qwen2' | 'qwen3';
  const tokModel = m.text('tokenizer.ggml.model');
  if (tokModel !== 'gpt2') m.fail('tokenizer.ggml.model', `is ${JSON.stringify(tokModel)}; kolm's tokenizer is byte-level BPE ("gpt2")`);
  const pre = m.text('tokenizer.ggml.pre', 'default');
  if (pre !== GGUF_PRE_TOKENIZER) m.fail('tokenizer.ggml.pre', `is ${JSON.stringify(pre)}; kolm's tokenizer splits text as "${GGUF_PRE_TOKENIZER}" does`);

  const tokens = m.strings('tokenizer.ggml.tokens');
  const types = m.ints('tokenizer.ggml.token_type') ?? tokens.map(() => TOKEN_TYPE.NORMAL);
  if (types.length !== tokens.length) m.fail('tokenizer.ggml.token_type', `has ${types.length} entries for ${tokens.length} tokens`);
  // kolm rebuilds its own tokenizer layout; a published tokenizer (other byte order, non-special added tokens,
  // a normalizer the GGUF does not record) needs its original tokenizer.json instead.
  const notKolm = (why: string): never =>
    m.fail('tokenizer.ggml.tokens', `${why}: not kolm's tokenizer layout (256 byte tokens first, special tokens only); import of published tokenizers is not supported`);
  for (let b = 0; b < 256; b++) if (tokens[b] !== BYTE_TO_CHAR[b]) notKolm(`token ${b} is ${JSON.stringify(tokens[b])}, not byte ${b}`);
  const userDefined = types.indexOf(TOKEN_TYPE.USER_DEFINED);
  if (userDefined >= 0) notKolm(`token ${userDefined} (${JSON.stringify(tokens[userDefined])}) is user-defined`);
  const hidden = m.int(`${arch}.embedding_length`);
  const heads = m.int(`${arch}.attention.head_count`);
  const headDim = m.int(`${arch}.attention.key_length`, heads > 0 ? hidden / heads : 0);
  const valueLength = m.int(`${arch}.attention.value_length`, headDim);
  if (valueLength !== headDim) m.fail(`${arch}.attention.value_length`, `is ${valueLength}, but key_length is ${headDim}; kolm needs equal key and value head sizes`);
  const ropeDims = m.int(`${arch}.rope.dimension_count`, headDim);
  if (ropeDims !== headDim) m.fail(`${arch}.rope.dimension_count`, `is ${ropeDims}; kolm rotates the whole head (${headDim})`);
  // Bound the layer count by the tensors present before anything is sized from it (a lying count must not allocate).
  const blocks = m.int(`${arch}.block_count`);
  if (9 * blocks > g.tensors.length) m.fail(`${arch}.block_count`, `is ${blocks}, but the file has only ${g.tensors.length} tensors (a block has at least 9)`);
  const tied = !g.tensors.some((t) => t.name === 'output.weight');
  const has = (name: string) => g.tensors.some((t) => t.name === name);
  const tokenId = (key: string): number | undefined => {
    if (!m.get(key)) return undefined;
    const id = m.int(key);
    if (id >= tokens.length) m.fail(key, `is ${id}, beyond the ${tokens.length} tokens`);
    return id;
  };
  const bos = tokenId('tokenizer.ggml.bos_token_id');
  const eos = tokenId('tokenizer.ggml.eos_token_id');
  const pad = tokenId('tokenizer.ggml.padding_token_id');
  const source = `${file} (as config.json)`;
  const config = validateConfig(
    {
      architectures: [ARCHITECTURES[arch]],
      model_type: arch,
      vocab_size: m.int(`${arch}.vocab_size`, tokens.length),
      hidden_size: hidden,
      intermediate_size: m.int(`${arch}.feed_forward_length`),
      num_hidden_layers: blocks,
      num_attention_heads: heads,
      num_key_value_heads: m.int(`${arch}.attention.head_count_kv`, heads),
      head_dim: headDim,
      max_position_embeddings: m.int(`${arch}.context_length`),
      rms_norm_eps: float32Decimal(m.num(`${arch}.attention.layer_norm_rms_epsilon`)),
      rope_theta: float32Decimal(m.num(`${arch}.rope.freq_base`, 10000)),
      rope_scaling: ropeScalingFromGguf(m, arch),
      tie_word_embeddings: tied,
      hidden_act: 'silu',
      // Biases as the tensors say: o_proj's for Llama's attention_bias (Qwen2 always has q/k/v ones, and no o_proj one).
      attention_bias: arch === 'qwen2' ? false : has('blk.0.attn_output.bias') || (arch === 'qwen3' && has('blk.0.attn_q.bias')),
      mlp_bias: has('blk.0.ffn_gate.bias'),
      initializer_range: 0.02,
      bos_token_id: bos ?? null,
      eos_token_id: eos ?? null,
      pad_token_id: pad ?? null,
      torch_dtype: 'float32',
    },
    source,
  );
  if (config.vocab_size !== tokens.length) m.fail(`${arch}.vocab_size`, `is ${config.vocab_size}, but tokenizer.ggml.tokens has ${tokens.length}`);

  // Weights: every parameter the config implies, from its GGUF tensor; `llama` q/k rows back to HF's rotate-half order.
  const specs = paramSpecs(config);
  const expected = new Map(specs.map((s) => [hfToGgufName(s.name), s]));
  for (const t of g.tensors) {
    if (!expected.has(t.name)) {
      let hf: string;
      try {
        hf = ggufToHfName(t.name);
      } catch {
        throw new KolmError(`${file}: tensor "${t.name}" has no place in a kolm model`);
      }
      throw new KolmError(`${file}: tensor "${t.name}" (${hf}) is not implied by the metadata (layers, tied embeddings)`);
    }
  }
  // Linear layers that all share Q8_0 or Q4_0 stay quantized (an int8/int4 folder with groups of 32); other types
  // are dequantized to float32.
  const linear = (name: string) => /_proj\.weight$/.test(name);
  const linearTypes = new Set(specs.filter((s) => linear(s.name)).map((s) => g.tensors.find((t) => t.name === hfToGgufName(s.name))?.type));
  const kept = linearTypes.size === 1 ? KEPT_QUANTIZED.find((t) => linearTypes.has(t)) : undefined;
  const outputType = g.tensors.find((t) => t.name === 'output.weight')?.type;
  const keep = (name: string) => kept !== undefined && (linear(name) || (name === 'lm_head.weight' && outputType === kept));
  const weights: FolderWeights = {};
  const tensorTypes: Record<string, number> = {};
  for (const [ggufName, spec] of expected) {
    const info = g.tensors.find((t) => t.name === ggufName);
    if (!info) throw new KolmError(`${file}: tensor "${ggufName}" (${spec.name}) is missing`);
    const hfShape = [...info.shape].reverse();
    if (hfShape.join('x') !== spec.shape.join('x')) {
      throw new KolmError(`${file}: tensor "${ggufName}" has HF shape [${hfShape}], the metadata implies [${spec.shape}]`);
    }
    tensorTypes[info.type] = (tensorTypes[info.type] ?? 0) + 1;
    const heads = arch !== 'llama' ? 0 : /\.self_attn\.q_proj\.weight$/.test(spec.name) ? config.num_attention_heads : /\.self_attn\.k_proj\.weight$/.test(spec.name) ? config.num_key_value_heads : 0;
    if (keep(spec.name)) {
      weights[spec.name] = quantizedFromGgml(kept!, await g.readTensorBytes(ggufName), spec.shape as [number, number], heads);
      continue;
    }
    let dense = { shape: hfShape, data: await g.readTensor(ggufName) };
    if (arch === 'llama' && /\.self_attn\.q_proj\.(weight|bias)$/.test(spec.name)) dense = unpermuteFromGguf(dense, config.num_attention_heads);
    else if (arch === 'llama' && /\.self_attn\.k_proj\.(weight|bias)$/.test(spec.name)) dense = unpermuteFromGguf(dense, config.num_key_value_heads);
    weights[spec.name] = dense;
  }

  // Tokenizer: BPE tokens are the normal ones; control tokens are special added tokens, user-defined ones plain added.
  const vocab = new Map<string, number>();
  const added: AddedToken[] = [];
  tokens.forEach((token, id) => {
    const type = types[id]!;
    if (type === TOKEN_TYPE.NORMAL || type === TOKEN_TYPE.BYTE) vocab.set(token, id);
    else if (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.UNKNOWN) added.push({ id, content: token, special: true });
    else if (type === TOKEN_TYPE.USER_DEFINED) added.push({ id, content: token, special: false });
  });
  const mergeStrings = m.get('tokenizer.ggml.merges') ? m.strings('tokenizer.ggml.merges') : [];
  const merges = mergeStrings.map((s, i): [string, string] => {
    const at = s.indexOf(' ', 1);
    if (at < 0 || at === s.length - 1) m.fail(`tokenizer.ggml.merges[${i}]`, `is ${JSON.stringify(s)}; expected "left right"`);
    return [s.slice(0, at), s.slice(at + 1)];
  });
  const nameOf = (id: number | undefined, fallback: string) => (id === undefined ? fallback : tokens[id]!);
  const tokenizerConfig = {
    chatTemplate: m.text('tokenizer.chat_template', DEFAULT_CHAT_TEMPLATE),
    bosToken: nameOf(bos, SPECIAL_TOKENS.endOfText),
    eosToken: nameOf(eos, SPECIAL_TOKENS.endOfText),
    padToken: nameOf(pad, SPECIAL_TOKENS.pad),
  };
  const quantized = kept ? { ...config, quantization_config: quantizationConfig({ bits: kept === 'Q8_0' ? 8 : 4, groupSize: 32, ignore: !config.tie_word_embeddings && !keep('lm_head.weight') ? ['lm_head'] : [] }) } : config;
  await saveModelFolder(outDir, quantized as ModelConfig, weights, {
    extraFiles: {
      'tokenizer.json': tokenizerJsonText(vocab, merges, added),
      'tokenizer_config.json': tokenizerConfigText(added, tokenizerConfig),
    },
  });
  return { dir: outDir, config: quantized as ModelConfig, tensors: expected.size, tensorTypes };
}
