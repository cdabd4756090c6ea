import { dpo } from '../train/dpo.js';
import { OPTIM_OPTIONS, OPTIM_USAGE, optim, parse, requireOptions } from './align-args.js';
import { formatMetric } from '../util/format.js';

const USAGE = `usage: kolm dpo --model SFT_DIR --data PAIRS.jsonl[,MORE] --out DIR [options]
  direct preference optimisation (sigmoid loss on summed completion log-probs, reference log-probs precomputed)
  --ref DIR                reference model (default: --model)
  --beta 0.1  --label-smoothing 0  --rpo-alpha A (adds A × token-mean NLL of the chosen answers; 0 = plain DPO)
  --valid FILE             held-out pairs: implicit-reward accuracy and likelihood preference before/after
  --epochs N (1) | --steps N   --batch PAIRS (4)  --seq T (512)  --accumulation K (1)
${OPTIM_USAGE} (lr default 1e-5)
  --eval-every N  --save-every N  --seed N  --threads N  --quiet`;

export async function run(argv: string[]): Promise<void> {
  const p = parse(argv, ['model', 'ref', 'data', 'valid', 'out', 'beta', 'label-smoothing', 'rpo-alpha', 'epochs', 'steps', 'batch', 'seq', 'accumulation', 'eval-every', 'save-every', 'seed', 'threads', ...OPTIM_OPTIONS], ['quiet'], ['data']);
  if (!requireOptions(p, USAGE, ['model', 'data', 'out'])) return;
  const r = await dpo({
    model: p.str('model')!, ref: p.str('ref'), data: p.list('data'), valid: p.str('valid'), out: p.str('out')!, beta: p.num('beta'), labelSmoothing: p.num('label-smoothing'), rpoAlpha: p.num('rpo-alpha'),
    epochs: p.num('epochs'), steps: p.int('steps'), batch: p.int('batch'), seq: p.int('seq'), accumulation: p.int('accumulation'), evalEvery: p.int('eval-every'),
    saveEvery: p.int('save-every'), seed: p.int('seed'), threads: p.int('threads'), quiet: p.bool('quiet'), ...optim(p),
  });
  const s = r.summary;
  console.log(`done: ${s['steps']} steps${s['val_accuracy_after'] !== null ? `; held-out implicit-reward accuracy ${formatMetric(s['val_accuracy_before'])} → ${formatMetric(s['val_accuracy_after'])}, likelihood preference ${formatMetric(s['val_logp_accuracy_before'])} → ${formatMetric(s['val_logp_accuracy_after'])}` : ''}; model in ${r.modelDir}`);
}
