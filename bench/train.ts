/**
 * `kolm bench train --preset s [--batch 4] [--steps 6] [--json] [--torch] [--profile]`: steady-state training
 * throughput of a preset through the whole-step ORT graph (random tokens), peak memory, optionally the same model and
 * optimizer in PyTorch measured in the same run (bench/torch_train.py; needs python3-torch), and ORT's time per op type.
 */
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from '../src/util/random.js';
import { intOption } from '../src/cli/args.js';
import { PRESETS } from '../src/model/presets.js';
import { initParams, parameterCount } from '../src/model/params.js';
import { buildLmGraph, windowsToBatch } from '../src/train/lm.js';
import { TrainStep } from '../src/train/step.js';
import { KolmError } from '../src/util/errors.js';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      preset: { type: 'string', default: 's' }, batch: { type: 'string', default: '4' }, steps: { type: 'string', default: '6' },
      seq: { type: 'string' }, json: { type: 'boolean' }, torch: { type: 'boolean' }, profile: { type: 'boolean' }, threads: { type: 'string' }, help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(`usage: kolm bench train [--preset s (${Object.keys(PRESETS).join('|')})] [--batch 4] [--steps 6] [--seq T] [--threads N] [--torch] [--profile] [--json]`);
    return;
  }
  const preset = PRESETS[values.preset!];
  if (!preset) throw new KolmError(`unknown preset '${values.preset}'; choose one of ${Object.keys(PRESETS).join(', ')}`);
  const c = preset.config;
  const B = intOption('batch', values.batch, { min: 1 })!;
  const T = intOption('seq', values.seq, { min: 1 }) ?? preset.seq;
  const steps = intOption('steps', values.steps, { min: 1 })!;
  const threads = intOption('threads', values.threads, { min: 1 }) ?? cpus().length;
  const profileDir = values.profile ? mkdtempSync(join(tmpdir(), 'kolm-prof-')) : undefined;
  const trainer = await TrainStep.create(
    { build: () => buildLmGraph(c, B, T), session: { threads, profilePrefix: profileDir && join(profileDir, 'train') } },
    { step: 0, params: initParams(c, 1) },
  );
  const random = rng(1);
  const batch = () => windowsToBatch(Array.from({ length: B * (T + 1) }, () => Math.floor(random() * c.vocab_size)), B, T);
  for (let i = 0; i < 2; i++) await trainer.run([batch()], 1e-3); // warm-up: first runs allocate
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const b = batch();
    const t = performance.now();
    await trainer.run([b], 1e-3);
    times.push((performance.now() - t) / 1e3);
  }
  times.sort((a, b) => a - b);
  const stepS = times[Math.floor(times.length / 2)]!;
  const result: Record<string, unknown> = {
    preset: values.preset,
    params: parameterCount(c),
    batch: B,
    seq: T,
    threads,
    tokens_per_s: Math.round((B * T) / stepS),
    step_s: +stepS.toFixed(3),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  if (profileDir) {
    trainer.endProfiling();
    result['time_by_op'] = opProfile(profileDir);
    rmSync(profileDir, { recursive: true, force: true });
  }
  if (values.torch) {
    const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'torch_train.py');
    // Debian's python3-torch lives under the system interpreter, which may not be the first python3 on PATH.
    const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    const torch = spawnSync(python, [script, JSON.stringify({ config: c, batch: B, seq: T, steps, threads })], { encoding: 'utf8' });
    if (torch.status !== 0) throw new KolmError(`PyTorch reference failed (apt-get install python3-torch):\n${torch.stderr}`);
    const ref = JSON.parse(torch.stdout.trim().split('\n').at(-1)!) as { tokens_per_s: number; peak_rss_mb: number; torch: string };
    result['torch_tokens_per_s'] = ref.tokens_per_s;
    result['torch_peak_rss_mb'] = ref.peak_rss_mb;
    result['torch_version'] = ref.torch;
    result['speedup_vs_torch'] = +((result['tokens_per_s'] as number) / ref.tokens_per_s).toFixed(2);
  }
  if (values.json) console.log(JSON.stringify(result));
  else console.log(result);
}

/** Share of kernel time per ONNX op type, from ORT's Chrome-trace profile. */
function opProfile(dir: string): Record<string, number> {
  const byOp = new Map<string, number>();
  for (const file of readdirSync(dir)) {
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const op = e.args?.op_name ?? 'unknown';
      byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    }
  }
  const total = [...byOp.values()].reduce((a, b) => a + b, 0);
  return Object.fromEntries([...byOp.entries()].sort((a, b) => b[1] - a[1]).map(([op, t]) => [op, +((100 * t) / total).toFixed(1)]));
}
