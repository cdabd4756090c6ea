/** A kolm model folder as an evaluation backend: batched scoring (loglik.ts) and batched greedy/sampled generation. */
import { generateIds } from '../infer/generate.js';
import { loadModel, type LanguageModel } from '../infer/model.js';
import { TextStream } from '../infer/text-stream.js';
import { parameterCount } from '../model/params.js';
import type { SessionConfig } from '../infer/sessions.js';
import { encodeRequest, rollingWindows, truncateForGeneration, type Backend, type GenerationRequest, type LoglikelihoodRequest, type LoglikelihoodResult, type Progress } from './backend.js';
import { scoreTokens, type ScoreOptions } from './loglik.js';

export interface KolmBackendOptions extends SessionConfig {
  /** Prompts generated together (default 8). */
  generationBatch?: number;
  score?: Omit<ScoreOptions, 'progress'>;
}

export class KolmBackend implements Backend {
  readonly name: string;
  readonly info: Record<string, unknown>;
  readonly prefixToken: number;

  constructor(readonly model: LanguageModel, private readonly opts: KolmBackendOptions = {}) {
    const c = model.config;
    this.name = model.dir.replace(/\/+$/, '').split('/').slice(-2).join('/');
    const tok = model.tokenizer;
    this.prefixToken = tok.tokenId(tok.config.bosToken) ?? model.endTokenIds[0] ?? 0;
    this.info = {
      backend: 'kolm',
      path: model.dir,
      model_type: c.model_type,
      parameters: parameterCount(c),
      max_length: c.max_position_embeddings,
      vocab_size: c.vocab_size,
      tokenizer_sha256: tok.hash,
    };
  }

  static async load(dir: string, opts: KolmBackendOptions = {}): Promise<KolmBackend> {
    return new KolmBackend(await loadModel(dir, opts), opts);
  }

  get maxLength(): number {
    return this.model.config.max_position_embeddings;
  }

  /** Special-token strings in the text are recognised (as HF tokenizers do under lm-eval, and chat templates need). */
  encode = (text: string): number[] => this.model.tokenizer.encode(text, { allowSpecial: true });

  async loglikelihood(requests: readonly LoglikelihoodRequest[], progress?: Progress): Promise<LoglikelihoodResult[]> {
    const toks = requests.map((r) => encodeRequest(this, this.prefixToken, r));
    const scores = await scoreTokens(this.model, toks.map(([context, continuation]) => ({ context, continuation })), { ...this.opts.score, threads: this.opts.threads, progress });
    return scores.map((s) => ({ logprob: s.logprob, isGreedy: s.isGreedy }));
  }

  async loglikelihoodRolling(texts: readonly string[], progress?: Progress): Promise<number[]> {
    const windows = texts.map((t) => rollingWindows(this.encode(t), this.prefixToken, this.maxLength));
    const flat = windows.flatMap((ws) => ws.map(([context, continuation]) => ({ context, continuation })));
    const owner = windows.flatMap((ws, i) => ws.map(() => i));
    const scores = await scoreTokens(this.model, flat, { ...this.opts.score, threads: this.opts.threads });
    const totals = new Array<number>(texts.length).fill(0);
    scores.forEach((s, j) => (totals[owner[j]!]! += s.logprob));
    progress?.(texts.length);
    return totals;
  }

  async generateUntil(requests: readonly GenerationRequest[], progress?: Progress): Promise<string[]> {
    const tok = this.model.tokenizer;
    const out = new Array<string>(requests.length);
    const encoded = requests.map((r) => {
      const ids = truncateForGeneration(this.encode(r.context), r.maxGenToks, this.maxLength);
      return ids.length ? ids : [this.prefixToken];
    });
    // Same sampling settings generate together, longest prompts first (lm-eval's order).
    const groups = new Map<string, number[]>();
    requests.forEach((r, i) => {
      const key = JSON.stringify([r.until, r.maxGenToks, r.temperature, r.topP ?? 1, r.seed ?? null]);
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    const size = this.opts.generationBatch ?? 8;
    let done = 0;
    for (const idx of groups.values()) {
      idx.sort((a, b) => encoded[b]!.length - encoded[a]!.length || a - b);
      for (let s = 0; s < idx.length; s += size) {
        const chunk = idx.slice(s, s + size);
        const r0 = requests[chunk[0]!]!;
        const streams = chunk.map(() => new TextStream(r0.until));
        await generateIds(this.model, chunk.map((i) => encoded[i]!), {
          maxNewTokens: r0.maxGenToks,
          temperature: r0.temperature,
          topP: r0.topP,
          seed: r0.seed,
          stopTokenIds: this.model.endTokenIds,
          onToken: (b, id) => {
            streams[b]!.push(tok.decodeBytes([id], { skipSpecial: true }));
            return streams[b]!.stopped;
          },
        });
        chunk.forEach((i, b) => {
          streams[b]!.finish();
          out[i] = streams[b]!.value;
        });
        done += chunk.length;
        progress?.(done);
      }
    }
    return out;
  }
}
