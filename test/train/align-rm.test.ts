import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { trainRewardModel, RewardModel, loadRewardModel, normalizeReward, encodeRewardPairs } from '../../src/train/reward.js';
import { readPreferenceFile } from '../../src/train/chat-data.js';
import { rng } from '../../src/util/random.js';
import { fixtureLines, tinyChatModel } from './align-helpers.js';

/**
 * A learnable toy: the chosen answer is Korean, the rejected one English. Answers are random word sequences from the
 * fixture text, so held-out pairs are word sequences never seen in training.
 */
function toyPairs(): { train: object[]; valid: object[] } {
  const words = fixtureLines().join(' ').split(/\s+/).map((w) => w.replace(/[.,!?]/g, '')).filter((w) => w.length > 1);
  const ko = [...new Set(words.filter((w) => /[가-힣]/.test(w)))];
  const en = [...new Set(words.filter((w) => /^[A-Za-z]+$/.test(w)))];
  const random = rng(11);
  const pick = (list: string[]) => Array.from({ length: 3 + Math.floor(random() * 4) }, () => list[Math.floor(random() * list.length)]!).join(' ') + '.';
  const questions = ['무엇을 알고 있나요?', '설명해 주세요.', 'Tell me something.', '이야기해 줄래요?'];
  const pairs = (n: number) => Array.from({ length: n }, (_, i) => ({ prompt: questions[i % questions.length]!, chosen: pick(ko), rejected: pick(en) }));
  return { train: pairs(64), valid: pairs(32) };
}

test('reward model: held-out accuracy rises above chance on a learnable toy; the folder is HF sequence-classification layout with normalisation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kolm-rm-'));
  try {
    const { modelDir } = await tinyChatModel(dir);
    const { train, valid } = toyPairs();
    writeFileSync(join(dir, 'train.jsonl'), train.map((p) => JSON.stringify(p)).join('\n') + '\n');
    writeFileSync(join(dir, 'valid.jsonl'), valid.map((p) => JSON.stringify(p)).join('\n') + '\n');
    const result = await trainRewardModel({
      model: modelDir, data: [join(dir, 'train.jsonl')], valid: join(dir, 'valid.jsonl'), out: join(dir, 'rm'),
      epochs: 4, batch: 8, seq: 96, lr: 3e-3, warmup: 2, quiet: true, threads: 1, evalEvery: 100,
    });
    const before = result.summary['val_accuracy_before'] as number;
    const after = result.summary['val_accuracy_after'] as number;
    assert.ok(after >= 0.9, `held-out accuracy after training ${after} (before ${before})`);
    assert.ok(after > before, `accuracy rises (${before} → ${after})`);

    // HF LlamaForSequenceClassification layout.
    const cfg = JSON.parse(readFileSync(join(result.modelDir, 'config.json'), 'utf8'));
    assert.deepEqual(cfg.architectures, ['LlamaForSequenceClassification']);
    assert.equal(cfg.num_labels, 1);
    assert.equal(typeof cfg.pad_token_id, 'number');
    const { tensors } = await readSafetensors(join(result.modelDir, 'model.safetensors'));
    assert.deepEqual(tensors['score.weight']!.shape, [1, cfg.hidden_size]);
    assert.equal(tensors['lm_head.weight'], undefined);
    assert.ok(tensors['model.embed_tokens.weight']);

    // Loading it back scores the same; normalisation statistics make the training rewards ~zero-mean, unit-std.
    const rm = await RewardModel.load(result.modelDir, { threads: 1 });
    const n = (await loadRewardModel(result.modelDir)).normalization!;
    assert.ok(n.std > 0 && n.clip === 5);
    const pairs = encodeRewardPairs(rm.tokenizer, await readPreferenceFile(join(dir, 'valid.jsonl')), 96);
    const rc = await rm.score(pairs.chosen);
    const rr = await rm.score(pairs.rejected);
    const acc = Array.from(rc).filter((c, i) => c > rr[i]!).length / rc.length;
    assert.equal(acc, after, 'the saved model reproduces the held-out accuracy');
    const trainPairs = encodeRewardPairs(rm.tokenizer, await readPreferenceFile(join(dir, 'train.jsonl')), 96);
    const all = [...(await rm.score(trainPairs.chosen)), ...(await rm.score(trainPairs.rejected))].map((r) => rm.normalize(r));
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    assert.ok(Math.abs(mean) < 1e-3, `normalised training rewards have mean ~0 (${mean})`);
    assert.equal(normalizeReward(1e9, n), 5);
    assert.equal(normalizeReward(-1e9, n), -5);
    assert.match(readFileSync(join(dir, 'rm', 'metrics.jsonl'), 'utf8'), /"accuracy":/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
