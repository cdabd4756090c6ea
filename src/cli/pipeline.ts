import { parseArgs } from 'node:util';
import { KolmError } from '../util/errors.js';
import { runPipeline } from '../pipeline/runner.js';
import { formatDuration } from '../util/format.js';
import { intOption, numberOption } from './args.js';
import { COMMANDS } from '../pipeline/stages.js';

const USAGE = `usage: kolm pipeline --recipe FILE [--out RUN] [--var NAME=VALUE]… [--until STAGE] [--dry-run]
       kolm pipeline report RUN
       kolm pipeline watch --dir TRAIN_DIR [--data SHARDS --seq T] [--tasks A,B --limit N --data-dir DIR --include-path DIR]

Runs a recipe's stages in order, each into RUN/<stage> (default RUN: runs/<recipe name>). A stage whose command,
options and input files are unchanged since it last finished is skipped; an interrupted pretraining stage continues
from its newest checkpoint. A pretraining stage with \`watch:\` gets a second process that evaluates each checkpoint
as it appears (RUN/<stage>/checkpoint-evals.jsonl). Events go to RUN/run.jsonl, stage logs to RUN/logs/, the state
to RUN/pipeline.json, and a report stage writes RUN/report.html.

stage commands: ${Object.keys(COMMANDS).join(', ')}`;

export async function run(argv: string[]): Promise<void> {
  if (argv[0] === 'watch') return watch(argv.slice(1));
  if (argv[0] === 'report') return report(argv.slice(1));
  const { values: v } = parseArgs({
    args: argv,
    options: {
      recipe: { type: 'string' }, out: { type: 'string' }, var: { type: 'string', multiple: true }, until: { type: 'string' },
      'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help || !v.recipe) {
    console.log(USAGE);
    if (!v.help) process.exitCode = 1;
    return;
  }
  const vars: Record<string, string> = {};
  for (const kv of v.var ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new KolmError(`--var expects NAME=VALUE, got '${kv}'`);
    vars[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const t0 = Date.now();
  const state = await runPipeline({ recipe: v.recipe, out: v.out, vars, until: v.until, dryRun: v['dry-run'] });
  if (v['dry-run']) return;
  const ran = state.stages.filter((s) => s.status === 'done').length;
  const skipped = state.stages.filter((s) => s.status === 'skipped').length;
  console.error(`pipeline ${state.name}: ${ran} stage(s) ran, ${skipped} up to date, in ${formatDuration((Date.now() - t0) / 1000)}`);
}

async function watch(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string' }, data: { type: 'string' }, seq: { type: 'string' }, batch: { type: 'string' }, batches: { type: 'string' },
      tasks: { type: 'string' }, limit: { type: 'string' }, 'data-dir': { type: 'string' }, 'include-path': { type: 'string' }, events: { type: 'string' }, stage: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (v.help || !v.dir) {
    console.log(USAGE);
    if (!v.help) process.exitCode = 1;
    return;
  }
  const { watchCheckpoints } = await import('../pipeline/watch.js');
  // Training is over when stdin closes (the pipeline ends it) or, run by hand, on Ctrl-D / SIGTERM.
  const finished = new Promise<void>((res) => {
    process.stdin.on('end', () => res());
    process.stdin.on('close', () => res());
    process.on('SIGTERM', () => process.exit(143));
    process.stdin.resume();
  });
  await watchCheckpoints({
    dir: v.dir, data: v.data, seq: intOption('seq', v.seq, { min: 1 }), batch: intOption('batch', v.batch, { min: 1 }), batches: intOption('batches', v.batches, { min: 1 }),
    tasks: v.tasks?.split(',').filter(Boolean), limit: numberOption('limit', v.limit, { min: 0 }), dataDir: v['data-dir'], includePath: v['include-path'], events: v.events, stage: v.stage, finished,
  });
}

async function report(argv: string[]): Promise<void> {
  const [dir] = argv;
  if (!dir) throw new KolmError(`kolm pipeline report needs the run folder\n\n${USAGE}`);
  const { writeReport } = await import('../pipeline/report.js');
  const { html } = await writeReport(dir);
  console.error(`wrote ${html}`);
}
