import { trainRewardModel } from '../train/reward.js';
import { OPTIM_OPTIONS, OPTIM_USAGE, optim, parse, requireOptions, template, TEMPLATE_OPTIONS, TEMPLATE_USAGE } from './align-args.js';
import { formatMetric } from '../util/format.js';

const USAGE = `usage: kolm rm --model SFT_DIR --data PAIRS.jsonl[,MORE] --out DIR [options]
  reward model: the model's decoder with a scalar head on the last token, Bradley–Terry loss on preference pairs
  ({"prompt"|"messages", "chosen", "rejected"} JSONL); saved as HF LlamaForSequenceClassification (num_labels 1) with
  reward normalisation statistics (mean, std, clip) in config.json
  --valid FILE             held-out pairs: accuracy before/after
  --epochs N (1) | --steps N   --batch PAIRS (4)  --seq T (512)  --accumulation K (1)
  --center-coefficient C   add C·mean((r_c + r_r)²)   --reward-clip 5
${OPTIM_USAGE}
${TEMPLATE_USAGE} (lr default 1e-4)
  --eval-every N  --seed N  --threads N  --quiet`;

export async function run(argv: string[]): Promise<void> {
  const p = parse(argv, ['model', 'data', 'valid', 'out', 'epochs', 'steps', 'batch', 'seq', 'accumulation', 'center-coefficient', 'reward-clip', 'eval-every', 'seed', 'threads', ...OPTIM_OPTIONS, ...TEMPLATE_OPTIONS], ['quiet'], ['data']);
  if (!requireOptions(p, USAGE, ['model', 'data', 'out'])) return;
  const r = await trainRewardModel({
    model: p.str('model')!, data: p.list('data'), valid: p.str('valid'), out: p.str('out')!, epochs: p.num('epochs', { min: 0 }), steps: p.int('steps', { min: 1 }), batch: p.int('batch', { min: 1 }), seq: p.int('seq', { min: 1 }),
    accumulation: p.int('accumulation', { min: 1 }), centerCoefficient: p.num('center-coefficient', { min: 0 }), rewardClip: p.num('reward-clip', { min: 0 }), evalEvery: p.int('eval-every', { min: 0 }), seed: p.int('seed'), threads: p.int('threads', { min: 1 }),
    quiet: p.bool('quiet'), ...optim(p), ...template(p),
  });
  const s = r.summary;
  console.log(`done: train accuracy ${formatMetric(s['train_accuracy'])}${s['val_accuracy_after'] !== null ? `, held-out accuracy ${formatMetric(s['val_accuracy_before'])} → ${formatMetric(s['val_accuracy_after'])}` : ''}; reward model in ${r.modelDir}`);
}
