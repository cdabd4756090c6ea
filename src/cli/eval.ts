/**
 * `kolm eval`: run benchmark tasks on kolm model folders or an OpenAI-compatible endpoint; `kolm eval report` renders
 * results files side by side as HTML.
 */
import { createWriteStream, existsSync, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { KolmError } from '../util/errors.js';
import { intOption, numberOption, templateKwargsOption } from './args.js';
import { chatPrompt } from '../eval/chat-prompt.js';
import { writeFileAtomic } from '../util/atomic.js';
import { KolmBackend } from '../eval/backend-kolm.js';
import { OpenAICompletionsBackend } from '../eval/backend-openai.js';
import type { Backend } from '../eval/backend.js';
import { builtinTaskDir, TaskIndex } from '../eval/config.js';
import { evaluate, type EvalResults } from '../eval/evaluator.js';
import { loadResults, mergeRuns, renderReport, type ReportRun } from '../eval/report.js';

const USAGE = `usage: kolm eval (--model DIR[,DIR…] | --endpoint URL) --tasks NAME[,NAME…] [options]
       kolm eval report RESULTS.json… --out report.html [--title TEXT]   (files of one model share a column)
       kolm eval --list [--include-path DIR]

  --model DIR[,DIR…]     kolm model folders (each evaluated in turn; a report compares them)
  --endpoint URL         OpenAI-compatible server (…/v1); log-likelihoods via echo + logprobs
  --endpoint-model NAME  'model' field of the requests (default: the server's first model)
  --tokenizer DIR        tokenizer for the endpoint (send token ids, split continuations by tokens as lm-eval does)
  --max-length N         endpoint context length for truncation (default 2048)
  --tasks LIST           tasks, groups or tags (kobest, click, kmmlu, gsm8k, …) or task YAML files
  --limit N              documents per task (N < 1: that fraction)
  --num-fewshot K        override each task's few-shot count
  --fewshot-seed S       few-shot sampling seed (default 1234, as lm-eval)
  --data-dir DIR         benchmark files (default ../shared/data/external when it exists)
  --include-path DIR     more task definitions (repeatable)
  --out DIR              results folder (default eval-results): OUT/<model>/results.json (+ a timestamped copy),
                         OUT/<model>/samples/<task>.jsonl; with several models OUT/report.html
  --no-samples           do not write samples JSONL
  --bootstrap-iters N    bootstrap resamples for corpus metrics' stderr (default 1000; lm-eval uses 100000)
  --chat                 render prompts with the model folder's chat template
  --chat-template-kwargs JSON   template variables for --chat, e.g. '{"force_reasoning": true}'
  --threads N            ORT threads for a model folder
  --batch-tokens N       max B·T tokens per scoring batch (default 8192)
  --exec-timeout S       seconds per sandboxed code execution (default 10)
  --python PATH          Python interpreter for code tasks (default python3)
  --json                 print the results JSON to stdout`;

const FLAGS = {
  model: { type: 'string' },
  endpoint: { type: 'string' },
  'endpoint-model': { type: 'string' },
  tokenizer: { type: 'string' },
  'max-length': { type: 'string' },
  tasks: { type: 'string' },
  limit: { type: 'string' },
  'num-fewshot': { type: 'string' },
  'fewshot-seed': { type: 'string' },
  'data-dir': { type: 'string' },
  'include-path': { type: 'string', multiple: true },
  out: { type: 'string' },
  'no-samples': { type: 'boolean' },
  'bootstrap-iters': { type: 'string' },
  chat: { type: 'boolean' },
  'chat-template-kwargs': { type: 'string' },
  threads: { type: 'string' },
  'batch-tokens': { type: 'string' },
  'exec-timeout': { type: 'string' },
  python: { type: 'string' },
  json: { type: 'boolean' },
  list: { type: 'boolean' },
  title: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'model';
}

export async function run(argv: string[]): Promise<void> {
  if (argv[0] === 'report') return report(argv.slice(1));
  const { values: v } = parseArgs({ args: argv, options: FLAGS, allowPositionals: false });
  if (v.help) {
    console.log(USAGE);
    return;
  }
  const index = new TaskIndex([builtinTaskDir(), ...(v['include-path'] ?? []).map((p) => resolve(p))]);
  if (v.list) {
    const rows = [...index.groups.keys()].map((g) => `group ${g}`).concat([...index.tags.keys()].map((t) => `tag   ${t}`), [...index.tasks.keys()].map((t) => `task  ${t}`));
    console.log(rows.sort((a, b) => a.slice(6).localeCompare(b.slice(6))).join('\n'));
    return;
  }
  if (!v.tasks) throw new KolmError(`--tasks is required\n\n${USAGE}`);
  const templateKwargs = templateKwargsOption('chat-template-kwargs', v['chat-template-kwargs']);
  if (templateKwargs && !v.chat) throw new KolmError('--chat-template-kwargs needs --chat (it is passed to the chat template)');
  if (!v.model === !v.endpoint) throw new KolmError(`give exactly one of --model DIR[,DIR…] or --endpoint URL\n\n${USAGE}`);
  const dataDir = resolve(v['data-dir'] ?? (existsSync('../shared/data/external') ? '../shared/data/external' : 'data'));
  if (!existsSync(dataDir)) throw new KolmError(`data directory not found: ${dataDir} (pass --data-dir DIR)`);
  const { tasks, groups } = index.resolve(v.tasks.split(',').map((s) => s.trim()).filter(Boolean));
  const limit = numberOption('limit', v['limit'], { min: 0 });
  const out = resolve(v.out ?? 'eval-results');
  const common = {
    tasks, groups, dataDir, limit,
    numFewshot: intOption('num-fewshot', v['num-fewshot'], { min: 0 }),
    fewshotSeed: intOption('fewshot-seed', v['fewshot-seed']),
    bootstrapIters: intOption('bootstrap-iters', v['bootstrap-iters'], { min: 0 }),
    sandbox: { timeoutMs: (numberOption('exec-timeout', v['exec-timeout'], { min: 0.1 }) ?? 10) * 1000, python: v.python },
    progress: true,
    log: (line: string) => console.error(line),
  };
  const runs: { dir: string; results: EvalResults }[] = [];
  const targets = v.model ? v.model.split(',').map((s) => s.trim()).filter(Boolean) : [v.endpoint!];
  for (const target of targets) {
    let backend: Backend;
    let chat: ((t: string) => string) | undefined;
    if (v.model) {
      console.error(`loading ${target}`);
      const kb = await KolmBackend.load(target, {
        threads: intOption('threads', v['threads'], { min: 1 }),
        score: { maxBatchTokens: intOption('batch-tokens', v['batch-tokens'], { min: 1 }) },
      });
      backend = kb;
      if (v.chat) chat = chatPrompt(kb.model.tokenizer, templateKwargs);
    } else {
      const tok = v.tokenizer ? await Tokenizer.load(v.tokenizer) : undefined;
      const codec = tok ? { encode: (t: string) => tok.encode(t, { allowSpecial: true }) } : undefined;
      backend = new OpenAICompletionsBackend({
        baseUrl: target,
        model: v['endpoint-model'],
        tokenizer: codec,
        prefixToken: tok ? tok.tokenId(tok.config.bosToken) ?? 0 : undefined,
        maxLength: intOption('max-length', v['max-length'], { min: 1 }),
      });
      if (v.chat) {
        if (!tok) throw new KolmError('--chat with --endpoint needs --tokenizer DIR (its chat template renders the prompts)');
        chat = chatPrompt(tok, templateKwargs);
      }
    }
    const dir = join(out, safeName(v.model ? basename(resolve(target)) === 'model' ? resolve(target).split('/').slice(-2).join('-') : basename(resolve(target)) : backend.name));
    mkdirSync(join(dir, 'samples'), { recursive: true });
    const streams = new Map<string, WriteStream>();
    const results = await evaluate({
      ...common,
      backend,
      chat,
      onSample: v['no-samples'] ? undefined : (s) => {
        const task = String(s['task']);
        let w = streams.get(task);
        if (!w) streams.set(task, (w = createWriteStream(join(dir, 'samples', `${safeName(task)}.jsonl`))));
        w.write(JSON.stringify(s) + '\n');
      },
    });
    await Promise.all([...streams.values()].map((w) => new Promise((r) => w.end(r))));
    await backend.close?.();
    // results.json is the latest run; a timestamped copy keeps earlier runs (as lm-eval's results_<date>.json).
    const json = JSON.stringify(results, null, 2) + '\n';
    await writeFileAtomic(join(dir, `results_${results.date.replace(/[:.]/g, '-')}.json`), json);
    await writeFileAtomic(join(dir, 'results.json'), json);
    console.error(`wrote ${join(dir, 'results.json')}`);
    printTable(results);
    runs.push({ dir, results });
    if (v.json) console.log(JSON.stringify(results));
  }
  if (runs.length > 1) {
    const html = renderReport(runs.map((r) => ({ label: r.results.model_name, results: r.results })), v.title ?? 'kolm evaluation');
    await writeFileAtomic(join(out, 'report.html'), html);
    console.error(`wrote ${join(out, 'report.html')}`);
  }
}

function printTable(r: EvalResults): void {
  const lines: string[] = [`| task | metric | value | stderr |`, `|---|---|---|---|`];
  for (const section of ['results', 'groups'] as const) {
    for (const [task, res] of Object.entries(r[section])) {
      for (const [k, val] of Object.entries(res)) {
        if (k === 'alias' || k.includes('_stderr,') || typeof val !== 'number') continue;
        const se = res[k.replace(',', '_stderr,')];
        lines.push(`| ${task} | ${k.replace(/,none$/, '')} | ${val.toFixed(4)} | ${typeof se === 'number' ? se.toFixed(4) : 'N/A'} |`);
      }
    }
  }
  console.error(lines.join('\n'));
}

async function report(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({ args: argv, options: { out: { type: 'string' }, title: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
  if (v.help) {
    console.log(USAGE);
    return;
  }
  if (!positionals.length) throw new KolmError(`eval report: give one or more results.json files\n\n${USAGE}`);
  if (!v.out) throw new KolmError('eval report: --out FILE.html is required');
  // Files of the same model (e.g. a log-likelihood run and a generation run with another --limit) share a column.
  const runs: ReportRun[] = mergeRuns(positionals.map((p) => {
    const results = loadResults(p);
    return { label: results.model_name ?? basename(p), results };
  }));
  writeFileSync(v.out, renderReport(runs, v.title ?? 'kolm evaluation'));
  console.error(`wrote ${v.out} (${runs.length} model${runs.length > 1 ? 's' : ''})`);
}
