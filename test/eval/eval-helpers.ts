/**
 * Helpers for the evaluation tests: a tiny model folder (tokenizer trained on the fixture text) and a minimal
 * OpenAI-compatible /v1/completions server over a kolm LanguageModel, written from the OpenAI API reference:
 * `prompt` as text, token ids or lists of either; `echo` + `logprobs` return the prompt's own token log-probabilities
 * (null for the first token), `top_logprobs` and character `text_offset`s. Its log-probabilities come from
 * LanguageModel.logits (one unbatched scoring pass per prompt), independently of the harness's batched scorer.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainTokenizer } from '../../src/tokenizer/index.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { makeConfig } from '../../src/model/config.js';
import { initParams } from '../../src/model/params.js';
import { saveModelFolder } from '../../src/model/folder.js';
import type { LanguageModel } from '../../src/infer/model.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export async function makeTinyModel(dir: string, opts: { seed?: number; maxPositions?: number; tokenizerDir?: string } = {}): Promise<string> {
  let tokenizer: Tokenizer;
  if (opts.tokenizerDir) tokenizer = await Tokenizer.load(opts.tokenizerDir);
  else {
    const fixture = join(repoRoot, 'test', 'fixtures', 'text', 'ko-en.txt');
    tokenizer = await trainTokenizer({ texts: readFileSync(fixture, 'utf8').split('\n'), vocabSize: 600, morpheme: false, progress: false });
    await tokenizer.save(join(dir, 'tok'));
  }
  const config = makeConfig({
    vocab_size: tokenizer.vocabSize, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: opts.maxPositions ?? 256, initializer_range: 0.5, eos_token_id: tokenizer.tokenId('<|endoftext|>')!,
  });
  await saveModelFolder(join(dir, 'model'), config, initParams(config, opts.seed ?? 1), { tokenizerDir: opts.tokenizerDir ?? join(dir, 'tok') });
  return join(dir, 'model');
}

function logSoftmaxRow(logits: Float32Array, row: number, V: number): Float64Array {
  const out = new Float64Array(V);
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[row * V + v]!);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[row * V + v]! - max);
  const lse = max + Math.log(sum);
  for (let v = 0; v < V; v++) out[v] = logits[row * V + v]! - lse;
  return out;
}

export interface TestServer {
  url: string;
  requests: unknown[];
  close(): Promise<void>;
}

/** A minimal OpenAI-compatible completions endpoint for tests. */
export async function startCompletionsServer(model: LanguageModel): Promise<TestServer> {
  const tok = model.tokenizer;
  const V = model.config.vocab_size;
  const requests: unknown[] = [];
  const text = (id: number) => tok.decode([id]);
  const handle = async (body: Record<string, unknown>) => {
    const raw = body['prompt'];
    const prompts: number[][] = typeof raw === 'string' ? [tok.encode(raw, { allowSpecial: true })]
      : Array.isArray(raw) && raw.every((x) => typeof x === 'number') ? [raw as number[]]
        : (raw as (string | number[])[]).map((p) => (typeof p === 'string' ? tok.encode(p, { allowSpecial: true }) : p));
    const echo = body['echo'] === true;
    const k = typeof body['logprobs'] === 'number' ? (body['logprobs'] as number) : undefined;
    const maxTokens = typeof body['max_tokens'] === 'number' ? (body['max_tokens'] as number) : 16;
    const stop = (Array.isArray(body['stop']) ? body['stop'] : body['stop'] ? [body['stop']] : []) as string[];
    const choices = [];
    for (const [index, ids] of prompts.entries()) {
      const gen = await model.generate(tok.decode(ids), { maxNewTokens: maxTokens, temperature: 0, stop });
      const all = [...ids, ...gen.ids];
      let logprobs = null;
      if (k !== undefined) {
        const logits = await model.logits(all);
        const tokens: string[] = [], tokenLogprobs: (number | null)[] = [], top: (Record<string, number> | null)[] = [], offsets: number[] = [];
        // text_offset: characters completed before the token's first byte (a token inside a character gets the
        // character's offset).
        const decoder = new TextDecoder('utf-8');
        let done = '';
        const start = echo ? 0 : ids.length;
        for (let i = 0; i < all.length; i++) {
          const at = [...done].length;
          done += decoder.decode(tok.decodeBytes([all[i]!]), { stream: true });
          if (i < start) continue;
          tokens.push(text(all[i]!));
          offsets.push(at);
          if (i === 0) {
            tokenLogprobs.push(null);
            top.push(null);
            continue;
          }
          const lp = logSoftmaxRow(logits, i - 1, V);
          tokenLogprobs.push(lp[all[i]!]!);
          const best = [...lp.keys()].sort((a, b) => lp[b]! - lp[a]!).slice(0, Math.max(1, k));
          top.push(Object.fromEntries(best.map((b) => [text(b), lp[b]!])));
        }
        logprobs = { tokens, token_logprobs: tokenLogprobs, top_logprobs: top, text_offset: offsets };
      }
      choices.push({ index, text: (echo ? tok.decode(ids) : '') + gen.text, logprobs, finish_reason: gen.finishReason });
    }
    return { id: 'cmpl-test', object: 'text_completion', created: 0, model: 'tiny', choices };
  };
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      void (async () => {
        try {
          if (req.method === 'GET' && req.url === '/v1/models') {
            res.end(JSON.stringify({ object: 'list', data: [{ id: 'tiny', object: 'model' }] }));
            return;
          }
          if (req.method !== 'POST' || req.url !== '/v1/completions') {
            res.statusCode = 404;
            res.end('{}');
            return;
          }
          const body = JSON.parse(data) as Record<string, unknown>;
          requests.push(body);
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(await handle(body)));
        } catch (e) {
          res.statusCode = 500;
          res.end(JSON.stringify({ error: { message: (e as Error).message } }));
        }
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/v1`, requests, close: () => new Promise((r) => server.close(() => r())) };
}
