/**
 * Sample generations for a run's report: every model answers the same short Korean and English prompts with greedy
 * decoding, chat models through their chat template, base models as a plain completion of the prompt text.
 * The result is OUT/samples.json, written atomically.
 */
import { join } from 'node:path';
import { loadModel } from '../infer/model.js';
import { writeFileAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';

export interface SampleModel {
  /** The label shown in the report. */
  name: string;
  /** An HF-layout model folder (config.json, model.safetensors, tokenizer files). */
  dir: string;
  /** true: the prompt is a user turn rendered with the chat template; false: the prompt text is completed as is. */
  chat: boolean;
}

export interface SamplePrompt {
  lang: 'ko' | 'en';
  text: string;
}

export interface Sample {
  model: string;
  lang: 'ko' | 'en';
  prompt: string;
  chat: boolean;
  /** The generated text only (without the prompt and without end tokens). */
  text: string;
  /** Generated tokens (including an end token, when one ended the answer). */
  tokens: number;
  finish_reason: string;
}

export interface WriteSamplesOptions {
  models: readonly SampleModel[];
  /** Defaults to DEFAULT_PROMPTS. */
  prompts?: readonly SamplePrompt[];
  /** A folder; samples.json is written in it. */
  out: string;
  /** Default 64. */
  maxNewTokens?: number;
  /** Passed to the sampler; greedy decoding does not depend on it. Default 0. */
  seed?: number;
  /** ONNX Runtime intra-op threads per model. */
  threads?: number;
  /** Prompts per generation batch (batched results equal one-by-one generation). Default 8. */
  batch?: number;
}

/**
 * A handful of prompts in each language: questions a chat model should answer, and openings a base model should
 * continue. Every model gets every prompt.
 */
export const DEFAULT_PROMPTS: readonly SamplePrompt[] = [
  { lang: 'ko', text: '한국의 수도는 어디인가요?' },
  { lang: 'ko', text: '건강하게 지내려면 어떤 습관이 좋을까요?' },
  { lang: 'ko', text: '다음 문장을 영어로 번역해 주세요: 오늘은 날씨가 정말 좋네요.' },
  { lang: 'ko', text: '사과가 3개 있고 2개를 더 샀습니다. 사과는 모두 몇 개인가요?' },
  { lang: 'ko', text: '옛날 옛적에 작은 산골 마을에' },
  { lang: 'ko', text: '서울은 대한민국의' },
  { lang: 'en', text: 'What is the capital of France?' },
  { lang: 'en', text: 'Give me three tips for learning a new language.' },
  { lang: 'en', text: 'Translate into Korean: Thank you for your help.' },
  { lang: 'en', text: 'Tom has 4 apples and buys 3 more. How many apples does he have?' },
  { lang: 'en', text: 'Once upon a time, in a small village by the sea,' },
  { lang: 'en', text: 'The most important thing about learning to code is' },
];

/** Generate the samples (greedy), write OUT/samples.json atomically and return them. */
export async function writeSamples(o: WriteSamplesOptions): Promise<Sample[]> {
  const prompts = o.prompts ?? DEFAULT_PROMPTS;
  if (!o.models.length) throw new KolmError('samples: no models given');
  if (!prompts.length) throw new KolmError('samples: no prompts given');
  for (const [i, p] of prompts.entries()) {
    if (p.lang !== 'ko' && p.lang !== 'en') throw new KolmError(`samples: prompt ${i}: lang must be 'ko' or 'en', got ${JSON.stringify(p.lang)}`);
    if (typeof p.text !== 'string' || !p.text.trim()) throw new KolmError(`samples: prompt ${i}: empty text`);
  }
  const names = new Set<string>();
  for (const m of o.models) {
    if (!m.name) throw new KolmError(`samples: model '${m.dir}' has no name`);
    if (names.has(m.name)) throw new KolmError(`samples: model name '${m.name}' is given twice`);
    names.add(m.name);
  }
  const maxNewTokens = o.maxNewTokens ?? 64;
  const batch = Math.max(1, o.batch ?? 8);
  const samples: Sample[] = [];
  for (const m of o.models) {
    // One model in memory at a time.
    const model = await loadModel(m.dir, o.threads ? { threads: o.threads } : undefined);
    const texts = prompts.map((p) => (m.chat ? model.tokenizer.renderChat([{ role: 'user', content: p.text }], { addGenerationPrompt: true }) : p.text));
    for (let start = 0; start < texts.length; start += batch) {
      const results = await model.generateBatch(texts.slice(start, start + batch), { maxNewTokens, temperature: 0, seed: o.seed ?? 0, truncate: 'left' });
      results.forEach((r, i) => {
        const p = prompts[start + i]!;
        samples.push({ model: m.name, lang: p.lang, prompt: p.text, chat: m.chat, text: r.text, tokens: r.completionTokens, finish_reason: r.finishReason });
      });
    }
  }
  await writeFileAtomic(join(o.out, 'samples.json'), JSON.stringify(samples, null, 2) + '\n');
  return samples;
}
