import { dpo } from '../train/dpo.js';
import { OPTIM_OPTIONS, OPTIM_USAGE, optim, parse, requireOptions, template, TEMPLATE_OPTIONS, TEMPLATE_USAGE } from './align-args.js';
import { formatMetric } from '../util/format.js';

const USAGE = `usage: kolm dpo --model SFT_DIR --data PAIRS.jsonl[,MORE] --out DIR [options]
  direct preference optimisation (sigmoid loss on summed completion log-probs, reference log-probs precomputed)
  --ref DIR                reference model (default: --model)
  --beta 0.1  --label-smoothing 0  --rpo-alpha A (adds A × token-mean NLL of the chosen answers; 0 = plain DPO)
  --valid FILE             held-out pairs: implicit-reward accuracy and likelihood preference before/after
  --epochs N (1) | --steps N   --batch PAIRS (4)  --seq T (512)  --accumulation K (1)
${OPTIM_USAGE}
${TEMPLATE_USAGE} (lr default 1e-5)
  --eval-every N  --save-every N  --seed N  --threads N  --quiet`;

export async function run(argv: string[]): Promise<void> {
  const p = parse(argv, ['model', 'ref', 'data', 'valid', 'out', 'beta', 'label-smoothing', 'rpo-alpha', 'epochs', 'steps', 'batch', 'seq', 'accumulation', 'eval-every', 'save-every', 'seed', 'threads', ...OPTIM_OPTIONS, ...TEMPLATE_OPTIONS], ['quiet'], ['data']);
  if (!requireOptions(p, USAGE, ['model', 'data', 'out'])) return;
  const r = await dpo({
    model: p.str('model')!, ref: p.str('ref'), data: p.list('data'), valid: p.str('valid'), out: p.str('out')!, beta: p.num('beta', { min: 0 }), labelSmoothing: p.num('label-smoothing', { min: 0, max: 1 }), rpoAlpha: p.num('rpo-alpha', { min: 0 }),
    epochs: p.num('epochs', { min: 0 }), steps: p.int('steps', { min: 1 }), batch: p.int('batch', { min: 1 }), seq: p.int('seq', { min: 1 }), accumulation: p.int('accumulation', { min: 1 }), evalEvery: p.int('eval-every', { min: 0 }),
    saveEvery: p.int('save-every', { min: 0 }), seed: p.int('seed'), threads: p.int('threads', { min: 1 }), quiet: p.bool('quiet'), ...optim(p), ...template(p),
  });
  const s = r.summary;
  console.log(`done: ${s['steps']} steps${s['val_accuracy_after'] !== null ? `; held-out implicit-reward accuracy ${formatMetric(s['val_accuracy_before'])} → ${formatMetric(s['val_accuracy_after'])}, likelihood preference ${formatMetric(s['val_logp_accuracy_before'])} → ${formatMetric(s['val_logp_accuracy_after'])}` : ''}; model in ${r.modelDir}`);
}
