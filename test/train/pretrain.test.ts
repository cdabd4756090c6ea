import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShardWriter, INDEX_FILE, emptySummary } from '../../src/data/shards.js';
import { pretrain } from '../../src/train/pretrain.js';
import { loadModelFolder } from '../../src/model/folder.js';
import { makeConfig } from '../../src/model/config.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'text', 'ko-en.txt');

/** Shards of UTF-8 bytes (a 257-token byte vocabulary, EOS = 256): real text without depending on a trained tokenizer. */
function byteShards(dir: string, lines: string[], validation: string[]): void {
  mkdirSync(dir, { recursive: true });
  const index = { format: 'kolm-token-shards', version: 1, dtype: 'uint16', vocabSize: 257, eosId: 256, tokenizerHash: 'bytes', seed: 0, langs: ['ko'], sources: ['fixture'], splits: { train: emptySummary(), validation: emptySummary() }, shards: [] as unknown[] };
  for (const [split, docs] of [['train', lines], ['validation', validation]] as const) {
    const w = new ShardWriter(dir, split, 'uint16', 1 << 20, 256);
    for (const d of docs) w.add(new TextEncoder().encode(d), 0, 0, false);
    index.shards.push(...w.finish());
  }
  writeFileSync(join(dir, INDEX_FILE), JSON.stringify(index));
}

const tinyModel = makeConfig({ vocab_size: 257, hidden_size: 64, intermediate_size: 160, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 });

test('a small model overfits real Korean/English text; metrics, plot, checkpoints and the final folder are written', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kolm-pt-'));
  try {
    const lines = readFileSync(fixture, 'utf8').split('\n').filter(Boolean);
    byteShards(join(root, 'data'), lines, lines.slice(0, 2));
    const { initParams } = await import('../../src/model/params.js');
    const { saveModelFolder } = await import('../../src/model/folder.js');
    await saveModelFolder(join(root, 'init'), tinyModel, initParams(tinyModel, 0));
    const result = await pretrain({ out: join(root, 'run'), data: join(root, 'data'), model: join(root, 'init'), steps: 300, batch: 16, seq: 32, lr: 1e-2, warmup: 20, evalEvery: 100, quiet: true, threads: 1 });
    const first = result.history[0]!.loss;
    const last = result.history.slice(-5).reduce((a, h) => a + h.loss, 0) / 5;
    assert.ok(first > 5, `starts near ln(257) = 5.55: ${first}`);
    assert.ok(last < 1.5, `overfits to low loss: ${first} -> ${last}`);
    assert.ok(result.history.filter((h) => h.val_loss !== undefined).length === 3, 'validation every 100 steps');
    const metrics = readFileSync(join(root, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(metrics.length, 300);
    assert.ok(metrics.every((m) => typeof m.tokens_per_s === 'number' && typeof m.lr === 'number'));
    assert.match(readFileSync(join(root, 'run', 'loss.svg'), 'utf8'), /<polyline/);
    const model = await loadModelFolder(result.modelDir);
    assert.equal(model.config.vocab_size, 257);
    assert.ok(existsSync(join(root, 'run', 'checkpoints', 'step-0000300', 'optimizer.safetensors')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('resuming from a checkpoint gives exactly the loss curve of the uninterrupted run', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kolm-resume-'));
  try {
    const lines = readFileSync(fixture, 'utf8').split('\n').filter(Boolean);
    byteShards(join(root, 'data'), lines, lines.slice(0, 2));
    const common = { data: join(root, 'data'), preset: 'nano', steps: 12, batch: 2, seq: 16, accumulation: 2, lr: 5e-3, warmup: 3, saveEvery: 5, quiet: true, threads: 1, seed: 7 };
    const full = await pretrain({ ...common, out: join(root, 'full') });
    // Interrupted run: same options, stopped after its step-5 checkpoint (simulated by training 5 steps of a 12-step
    // schedule and then resuming).
    await assert.rejects(
      pretrain({ ...common, out: join(root, 'part'), onStep: (r) => { if (r.step === 7) throw new Error('crash'); } }),
      /crash/,
    );
    assert.ok(existsSync(join(root, 'part', 'checkpoints', 'step-0000005')));
    const resumed = await pretrain({ ...common, out: join(root, 'part'), resume: true });
    assert.deepEqual(resumed.history.map((h) => h.loss), full.history.map((h) => h.loss));
    await assert.rejects(pretrain({ ...common, batch: 4, out: join(root, 'part'), resume: true }), /was trained with batch=2, this run asks 4/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
