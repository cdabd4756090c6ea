/**
 * Published byte-level BPE tokenizer.json files (Qwen2/3, Llama 3, GPT-4o, DeepSeek-V3, HyperCLOVA X SEED) as
 * llama.cpp's `gpt2` vocabulary: the file is read by kolm's general pipeline, and its pre-tokenizer is identified by
 * its Split regexes and structure to the `tokenizer.ggml.pre` name whose split llama.cpp implements. Anything
 * llama.cpp cannot reproduce is a KolmError naming the field.
 */
import { KolmError } from '../util/errors.js';
import { loadPipeline, type AddedToken } from '../tokenizer/pipeline/index.js';
import { QWEN2_SPLIT_PATTERN } from '../tokenizer/pretokenize.js';

const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const GPT4O_SPLIT =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const DEEPSEEK_V3_SPLITS: readonly string[] = [
  '\\p{N}{1,3}',
  '[一-龥぀-ゟ゠-ヿ]+',
  "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/**
 * HyperCLOVA X SEED's three Split (Isolated) regexes, as tokenizer.json writes them: DeepSeek-V3's, except that every
 * digit is its own piece. NAVER's llama.cpp fork names this split "hyperclovax" (alias "mu-choco"); upstream
 * llama.cpp does not know the name and refuses such a GGUF.
 */
export const HYPERCLOVAX_SPLITS: readonly string[] = ['\\p{N}', ...DEEPSEEK_V3_SPLITS.slice(1)];

/** Multi-regex splits, matched regex for regex in order. */
const MULTI_SPLITS: readonly (readonly [readonly string[], string])[] = [
  [DEEPSEEK_V3_SPLITS, 'deepseek-v3'],
  [HYPERCLOVAX_SPLITS, 'hyperclovax'],
];

/** Single-regex splits (Isolated, or Removed with invert — the same when the regex covers every character). */
const SINGLE_SPLITS: Record<string, string> = { [QWEN2_SPLIT_PATTERN]: 'qwen2', [LLAMA3_SPLIT]: 'llama-bpe', [GPT4O_SPLIT]: 'gpt-4o' };

export const SUPPORTED_GGUF_PRE_TOKENIZERS =
  'Split(Qwen2 regex) → "qwen2", Split(Llama 3 regex) → "llama-bpe", Split(GPT-4o regex) → "gpt-4o", Split×3(DeepSeek-V3 regexes) → "deepseek-v3", Split×3(HyperCLOVA X SEED regexes) → "hyperclovax" (NAVER\'s llama.cpp fork only), each followed by ByteLevel with use_regex false';

type J = Record<string, unknown>;
const obj = (v: unknown): J | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as J) : undefined);

/** Control characters in a regex written literally (DeepSeek-V3 writes CR/LF raw) compare as their escapes. */
const canonicalRegex = (s: string): string => s.replace(/\r/g, '\\r').replace(/\n/g, '\\n');

/** The llama.cpp pre-tokenizer name for a tokenizer.json `pre_tokenizer`, or a KolmError naming the field. */
export function ggufPreTokenizerName(pre: unknown, file: string): string {
  const fail = (field: string, problem: string): never => {
    throw new KolmError(`${file}: field ${field} ${problem}; llama.cpp reproduces only these pre-tokenizers: ${SUPPORTED_GGUF_PRE_TOKENIZERS}`);
  };
  const p = obj(pre);
  if (p?.type !== 'Sequence' || !Array.isArray(p.pretokenizers)) return fail('pre_tokenizer', `is ${JSON.stringify(pre)?.slice(0, 120)}`);
  const steps = p.pretokenizers as unknown[];
  const last = obj(steps[steps.length - 1]);
  const lastField = `pre_tokenizer.pretokenizers[${steps.length - 1}]`;
  if (last?.type !== 'ByteLevel' || last.use_regex !== false || last.add_prefix_space === true) {
    fail(lastField, 'must be ByteLevel with use_regex false and add_prefix_space false');
  }
  const regexes = steps.slice(0, -1).map((s, i): string => {
    const o = obj(s);
    const field = `pre_tokenizer.pretokenizers[${i}]`;
    if (o?.type !== 'Split') return fail(field, `has type ${JSON.stringify(o?.type)}`);
    const regex = obj(o.pattern)?.Regex;
    if (typeof regex !== 'string') return fail(`${field}.pattern`, 'must be a Regex');
    const isolated = o.behavior === 'Isolated' && o.invert !== true;
    const removedInverted = o.behavior === 'Removed' && o.invert === true;
    if (!isolated && !removedInverted) fail(`${field}.behavior`, `is ${JSON.stringify(o.behavior)} (invert ${JSON.stringify(o.invert)})`);
    return canonicalRegex(regex);
  });
  if (regexes.length === 1) {
    const name = SINGLE_SPLITS[regexes[0]!];
    if (name) return name;
    return fail('pre_tokenizer.pretokenizers[0].pattern.Regex', `is ${JSON.stringify(regexes[0]).slice(0, 120)}`);
  }
  for (const [splits, name] of MULTI_SPLITS) {
    if (regexes.length === splits.length && regexes.every((r, i) => r === splits[i])) return name;
  }
  return fail('pre_tokenizer.pretokenizers', `has ${regexes.length} Split regexes that match no llama.cpp pre-tokenizer`);
}

export interface PublishedVocab {
  pre: string;
  vocab: ReadonlyMap<string, number>;
  merges: readonly (readonly [string, string])[];
  added: readonly AddedToken[];
  /** Special tokens the post-processor puts before / after a single sequence. */
  prefixId: number | undefined;
  suffixId: number | undefined;
}

/**
 * Read a published byte-level BPE tokenizer.json for GGUF: the pipeline checks every stage; the pre-tokenizer must be
 * one llama.cpp implements, the normalizer none (or NFC, which llama.cpp leaves out: text already in NFC, as almost
 * all text is, tokenizes the same), and `ignore_merges` what llama.cpp does for that pre-tokenizer.
 */
export function readPublishedVocab(text: string, file: string): PublishedVocab {
  const pipeline = loadPipeline(text, file);
  const top = JSON.parse(text) as J;
  const pre = ggufPreTokenizerName(top.pre_tokenizer, file);
  const norm = obj(top.normalizer);
  const emptySequence = norm?.type === 'Sequence' && Array.isArray(norm.normalizers) && norm.normalizers.length === 0;
  if (norm && norm.type !== 'NFC' && !emptySequence) {
    throw new KolmError(`${file}: field normalizer is ${JSON.stringify(norm.type)}; llama.cpp's byte-level BPE does not normalize (supported: null, NFC, an empty Sequence)`);
  }
  if (obj(top.decoder)?.type !== 'ByteLevel') throw new KolmError(`${file}: field decoder.type must be "ByteLevel" for llama.cpp's byte-level BPE ("gpt2")`);
  const model = obj(top.model)!;
  if (model.byte_fallback === true) throw new KolmError(`${file}: field model.byte_fallback must be false for llama.cpp's byte-level BPE`);
  // llama.cpp looks whole pre-tokens up in the vocabulary first (ignore_merges) for "llama-bpe" only.
  const ignoreMerges = model.ignore_merges === true;
  if (ignoreMerges !== (pre === 'llama-bpe')) {
    throw new KolmError(`${file}: field model.ignore_merges is ${ignoreMerges}, but llama.cpp's "${pre}" pre-tokenizer runs with ignore_merges ${pre === 'llama-bpe'}`);
  }
  const { prefixId, suffixId } = templateEnds(top.post_processor, pipeline.added, pipeline.vocab, file);
  return { pre, vocab: pipeline.vocab, merges: pipeline.merges, added: pipeline.added, prefixId, suffixId };
}

/** The special tokens a TemplateProcessing (alone or in a Sequence) puts around a single sequence. */
function templateEnds(pp: unknown, added: readonly AddedToken[], vocab: ReadonlyMap<string, number>, file: string): { prefixId: number | undefined; suffixId: number | undefined } {
  const p = obj(pp);
  if (!p) return { prefixId: undefined, suffixId: undefined };
  if (p.type === 'Sequence' && Array.isArray(p.processors)) {
    for (const q of p.processors as unknown[]) if (obj(q)?.type === 'TemplateProcessing') return templateEnds(q, added, vocab, file);
    return { prefixId: undefined, suffixId: undefined };
  }
  if (p.type !== 'TemplateProcessing') return { prefixId: undefined, suffixId: undefined };
  const single = Array.isArray(p.single) ? (p.single as unknown[]).map(obj) : [];
  const seqAt = single.findIndex((s) => s?.Sequence !== undefined);
  const specialId = (s: J | undefined): number => {
    const content = obj(s?.SpecialToken)?.id as string;
    const id = added.find((t) => t.content === content)?.id ?? vocab.get(content);
    if (id === undefined) throw new KolmError(`${file}: field post_processor.single names ${JSON.stringify(content)}, which is not in the vocabulary`);
    return id;
  };
  if (seqAt < 0 || seqAt > 1 || single.length - seqAt > 2) {
    throw new KolmError(`${file}: field post_processor.single must be at most one special token, the sequence, at most one special token (llama.cpp's add_bos_token/add_eos_token)`);
  }
  return { prefixId: seqAt === 1 ? specialId(single[0]) : undefined, suffixId: single.length - seqAt === 2 ? specialId(single[seqAt + 1]) : undefined };
}
