import { sft } from '../train/sft.js';
import { formatMetric } from '../util/format.js';
import { OPTIM_OPTIONS, OPTIM_USAGE, optim, parse, requireOptions, template, TEMPLATE_OPTIONS, TEMPLATE_USAGE } from './align-args.js';

const USAGE = `usage: kolm sft --model DIR --data CHATS.jsonl[,MORE.jsonl] --out DIR [options]
  supervised fine-tuning on chats ({"messages": [...]} or prompt/completion JSONL, .gz too): loss on assistant turns only,
  conversations packed into rows with attention kept inside each conversation
  --valid FILE             held-out chats for validation loss
  --epochs N (1) | --steps N   --batch ROWS (8)  --seq T (512)  --accumulation K (1)  --no-pack (one conversation per row)
${OPTIM_USAGE}
${TEMPLATE_USAGE} (lr default 3e-4)
  --eval-every N  --save-every N  --seed N  --threads N  --on-nan skip|stop  --quiet
  writes OUT/model (HF folder + tokenizer), OUT/metrics.jsonl, OUT/loss.svg, OUT/summary.json`;

export async function run(argv: string[]): Promise<void> {
  const p = parse(argv, ['model', 'data', 'valid', 'out', 'epochs', 'steps', 'batch', 'seq', 'accumulation', 'eval-every', 'save-every', 'seed', 'threads', 'on-nan', ...OPTIM_OPTIONS, ...TEMPLATE_OPTIONS], ['no-pack', 'quiet'], ['data']);
  if (!requireOptions(p, USAGE, ['model', 'data', 'out'])) return;
  const onNan = p.str('on-nan');
  const r = await sft({
    model: p.str('model')!, data: p.list('data'), valid: p.str('valid'), out: p.str('out')!, epochs: p.num('epochs', { min: 0 }), steps: p.int('steps', { min: 1 }), batch: p.int('batch', { min: 1 }), seq: p.int('seq', { min: 1 }),
    accumulation: p.int('accumulation', { min: 1 }), pack: !p.bool('no-pack'), evalEvery: p.int('eval-every', { min: 0 }), saveEvery: p.int('save-every', { min: 0 }), seed: p.int('seed'), threads: p.int('threads', { min: 1 }),
    onNonFinite: onNan === 'stop' ? 'stop' : 'skip', quiet: p.bool('quiet'), ...optim(p), ...template(p),
  });
  const s = r.summary;
  console.log(`done: ${s['steps']} steps, loss ${formatMetric(s['first_loss'])} → ${formatMetric(s['last_loss'])}${s['val_loss_after'] !== null ? `, validation loss ${formatMetric(s['val_loss_before'])} → ${formatMetric(s['val_loss_after'])}` : ''}; model in ${r.modelDir}`);
}

