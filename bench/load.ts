/**
 * `kolm bench load [--shape seed-1.5b|seed-0.5b] [--dir DIR] [--keep] [--json]`: peak memory of loading a published
 * checkpoint folder. Writes a random folder of the shape as checkpoints are published (bf16 shards of about 2 GB
 * listed by model.safetensors.index.json, config.json), then loads it with `loadModelFolder` in a fresh process and
 * reports that process's peak RSS next to the bytes of the f32 weights it ends up holding.
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, writeSync, closeSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeConfig, type ModelConfig } from '../src/model/config.js';
import { paramSpecs } from '../src/model/params.js';
import { INDEX_FILE, loadModelFolder, planShards, shardFileName } from '../src/model/folder.js';
import { KolmError } from '../src/util/errors.js';

/** HyperCLOVAX-SEED-Text-Instruct shapes (Llama layout: GQA, tied embeddings, explicit head_dim). */
const SHAPES: Record<string, Partial<ModelConfig> & Pick<ModelConfig, 'vocab_size' | 'hidden_size' | 'intermediate_size' | 'num_hidden_layers' | 'num_attention_heads'>> = {
  'seed-1.5b': { vocab_size: 110592, hidden_size: 2048, intermediate_size: 7168, num_hidden_layers: 24, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, max_position_embeddings: 16384, rope_theta: 100000000 },
  'seed-0.5b': { vocab_size: 110592, hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 64, max_position_embeddings: 16384, rope_theta: 100000000 },
};

const SHARD_BYTES = 2_000_000_000;

/** A published-layout folder of random bf16 weights (one random 16 MiB block repeated: the load is what is measured). */
export function writeRandomBf16Folder(dir: string, config: ModelConfig, shardBytes = SHARD_BYTES): number {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, torch_dtype: 'bfloat16' }, null, 2) + '\n');
  const specs = paramSpecs(config);
  const shards = planShards(specs, (s) => 2 * s.shape.reduce((a, b) => a * b, 1), shardBytes);
  const block = new Uint16Array(8 << 20);
  let x = 0x9e3779b9;
  for (let i = 0; i < block.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[i] = (x & 0x807f) | 0x3c00; // ±[2^-7, 2^-6): weights of an initialised model's size
  }
  const blockBytes = new Uint8Array(block.buffer);
  const weightMap: Record<string, string> = {};
  let total = 0;
  shards.forEach((part, i) => {
    const file = shardFileName(i, shards.length);
    let offset = 0;
    const entries = part.map((s) => {
      const bytes = 2 * s.shape.reduce((a, b) => a * b, 1);
      const e = `${JSON.stringify(s.name)}:${JSON.stringify({ dtype: 'BF16', shape: s.shape, data_offsets: [offset, offset + bytes] })}`;
      offset += bytes;
      weightMap[s.name] = file;
      return e;
    });
    let json = `{"__metadata__":{"format":"pt"},${entries.join(',')}}`;
    json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
    const header = Buffer.from(json);
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(header.length));
    const fd = openSync(join(dir, file), 'w');
    try {
      writeSync(fd, prefix);
      writeSync(fd, header);
      for (let left = offset; left > 0; left -= Math.min(left, blockBytes.length)) writeSync(fd, blockBytes, 0, Math.min(left, blockBytes.length));
    } finally {
      closeSync(fd);
    }
    total += offset;
  });
  writeFileSync(join(dir, INDEX_FILE), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
  return total;
}

/** In a child: load the folder, report peak RSS and the f32 bytes held. */
export async function loadChild(dir: string): Promise<void> {
  const rssBeforeBytes = process.memoryUsage().rss;
  const t = performance.now();
  const model = await loadModelFolder(dir);
  const seconds = (performance.now() - t) / 1000;
  const f32Bytes = Object.values(model.weights).reduce((n, w) => n + w.data.length * 4, 0);
  console.log(JSON.stringify({ peakRssBytes: process.resourceUsage().maxRSS * 1024, rssBeforeBytes, f32Bytes, seconds }));
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { shape: { type: 'string', default: 'seed-1.5b' }, dir: { type: 'string' }, keep: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, child: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log(`usage: kolm bench load [--shape ${Object.keys(SHAPES).join('|')}] [--dir DIR] [--keep] [--json]`);
    return;
  }
  if (values.child) return loadChild(values.child);
  const shape = SHAPES[values.shape!];
  if (!shape) throw new KolmError(`--shape must be one of ${Object.keys(SHAPES).join(', ')}`);
  const config = makeConfig({ ...shape, tie_word_embeddings: true });
  const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'kolm-load-'));
  try {
    const t = performance.now();
    const diskBytes = writeRandomBf16Folder(dir, config);
    const writeSeconds = (performance.now() - t) / 1000;
    const main = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');
    const out = execFileSync(process.execPath, [main, 'bench', 'load', '--child', dir], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { peakRssBytes: number; rssBeforeBytes: number; f32Bytes: number; seconds: number };
    const result = { shape: values.shape, parameters: r.f32Bytes / 4, bf16DiskBytes: diskBytes, ...r, ratio: r.peakRssBytes / r.f32Bytes, writeSeconds };
    if (values.json) console.log(JSON.stringify(result));
    else {
      const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
      console.log(`${values.shape}: ${(result.parameters / 1e9).toFixed(2)}B parameters, bf16 shards ${gb(diskBytes)}; loaded in ${r.seconds.toFixed(1)} s`);
      console.log(`peak RSS ${gb(r.peakRssBytes)} for ${gb(r.f32Bytes)} of f32 weights: ${result.ratio.toFixed(3)}×`);
    }
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
}
