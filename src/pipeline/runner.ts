/**
 * Runs a recipe: stages in order, each in its own folder of the run, skipped when its inputs' hashes match the last
 * finished run of it, continued from its newest checkpoint when a crash interrupted it (pretraining), and logged to
 * `run.jsonl`. A watched pretraining stage gets a second process that evaluates each checkpoint as it appears.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, createWriteStream, type WriteStream } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomicSync } from '../util/atomic.js';
import { formatDuration } from '../util/format.js';
import { KolmError } from '../util/errors.js';
import { fingerprint, sha256 } from './fingerprint.js';
import { dependencies, interpolate, loadRecipe, recipeDir, type Recipe, type Value, type WatchSpec } from './recipe.js';
import { COMMANDS, toFlags } from './stages.js';

export interface PipelineOptions {
  recipe: string;
  /** Run folder (default `runs/<recipe name>`). */
  out?: string;
  vars?: Record<string, string>;
  /** Stop after this stage. */
  until?: string;
  /** Print the plan (which stages would run or be skipped, and their command lines) without running anything. */
  dryRun?: boolean;
  log?: (line: string) => void;
}

export type StageStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed';

export interface StageState {
  name: string;
  command: string;
  dir: string;
  argv: string[];
  needs: string[];
  hash: string;
  status: StageStatus;
  started?: string;
  finished?: string;
  seconds?: number;
}

export interface PipelineState {
  name: string;
  recipe: string;
  description?: string;
  started: string;
  updated: string;
  stages: StageState[];
}

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

export async function runPipeline(opts: PipelineOptions): Promise<PipelineState> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const recipe = loadRecipe(opts.recipe, opts.vars);
  const run = resolve(opts.out ?? join('runs', recipe.name));
  if (opts.until && !recipe.stages.has(opts.until)) throw new KolmError(`--until: the recipe has no stage '${opts.until}'`);
  mkdirSync(join(run, '.stages'), { recursive: true });
  mkdirSync(join(run, 'logs'), { recursive: true });
  const unlock = opts.dryRun ? () => {} : lock(run);
  const state: PipelineState = {
    name: recipe.name, recipe: recipe.path, description: recipe.description,
    started: new Date().toISOString(), updated: new Date().toISOString(), stages: [],
  };
  const event = (stage: string, ev: string, extra: Record<string, unknown> = {}) => {
    if (!opts.dryRun) appendFileSync(join(run, 'run.jsonl'), JSON.stringify({ time: new Date().toISOString(), stage, event: ev, ...extra }) + '\n');
  };
  const save = () => {
    state.updated = new Date().toISOString();
    if (!opts.dryRun) writeFileAtomicSync(join(run, 'pipeline.json'), JSON.stringify(state, null, 1) + '\n');
  };
  // Variables may use ${recipe} and ${run} (not stages or other variables).
  const builtin = (n: string): string => {
    if (n === 'run') return run;
    if (n === 'recipe') return recipeDir(recipe);
    throw new KolmError(`recipe ${recipe.path}: a variable refers to '\${${n}}'; variables may use only \${recipe} and \${run}`);
  };
  const hashes = new Map<string, string>();
  const names = [...recipe.stages.keys()];
  const stop = opts.until ? names.indexOf(opts.until) + 1 : names.length;
  try {
    for (const [i, name] of names.entries()) {
      const spec = recipe.stages.get(name)!;
      const cmd = COMMANDS[spec.run]!;
      const deps = spec.run === 'report' ? names.slice(0, i) : dependencies(recipe, name);
      const lookup = (n: string): string => (n === 'run' ? run : n === 'recipe' ? recipeDir(recipe) : n in recipe.vars ? interpolate(recipe.vars[n]!, builtin) : join(run, n));
      const args = interpolate(spec.with as Value, lookup) as Record<string, Value>;
      const hash = stageHash(recipe, name, deps, hashes, args, run);
      hashes.set(name, hash);
      const dir = join(run, name);
      const at = (f: string) => `recipe ${recipe.path}: stages.${name}.with.${f}`;
      const outPath = cmd.out === 'dir' ? dir : join(dir, cmd.out.file);
      const argv = cmd.argv ? [...cmd.argv, ...toFlags(args, at), '--out', outPath] : [];
      const st: StageState = { name, command: spec.run, dir: name, argv, needs: deps, hash, status: 'pending' };
      state.stages.push(st);
      if (i >= stop) continue;
      const prev = readStageState(run, name);
      if (prev?.status === 'done' && prev.hash === hash && existsSync(outPath) && spec.run !== 'report') {
        Object.assign(st, { status: 'skipped', started: prev.started, finished: prev.finished, seconds: prev.seconds });
        log(`· ${name}: up to date`);
        event(name, 'skip', { hash });
        continue;
      }
      const resumeFlags = prev && prev.hash === hash && prev.status !== 'done' ? cmd.resume?.(dir) : undefined;
      if (resumeFlags) argv.push(...resumeFlags);
      if (opts.dryRun) {
        log(`▶ ${name}: would ${resumeFlags ? 'resume' : 'run'}${cmd.argv ? `: kolm ${argv.join(' ')}` : ` (${spec.run})`}`);
        continue;
      }
      if (!resumeFlags) {
        rmSync(dir, { recursive: true, force: true });
        if (cmd.out !== 'dir' || cmd.builtin) mkdirSync(dir, { recursive: true });
      }
      log(`▶ [${i + 1}/${names.length}] ${name}${resumeFlags ? ' (resuming)' : ''}${cmd.argv ? `: kolm ${argv.join(' ')}` : ''}`);
      Object.assign(st, { status: 'running', started: new Date().toISOString() });
      writeStageState(run, st);
      save();
      event(name, resumeFlags ? 'resume' : 'start', { hash, argv });
      const t0 = Date.now();
      try {
        if (cmd.builtin) await cmd.builtin(args, { dir, run });
        else await runCommand(argv, join(run, 'logs', `${name}.log`), spec.watch ? watcherArgv(spec.watch, args, lookup, dir, run, name) : undefined, log);
      } catch (err) {
        Object.assign(st, { status: 'failed', finished: new Date().toISOString(), seconds: (Date.now() - t0) / 1000 });
        writeStageState(run, st);
        save();
        event(name, 'fail', { error: (err as Error).message });
        throw new KolmError(`stage '${name}' failed: ${(err as Error).message}\n(log: ${relative(process.cwd(), join(run, 'logs', `${name}.log`))}; run the same command again to continue)`);
      }
      Object.assign(st, { status: 'done', finished: new Date().toISOString(), seconds: (Date.now() - t0) / 1000 });
      writeStageState(run, st);
      save();
      event(name, 'done', { seconds: st.seconds });
      log(`✓ ${name} in ${formatDuration(st.seconds!)}`);
    }
  } finally {
    save();
    unlock();
  }
  return state;
}

/** The hash of what a stage computes: its command and options (stage references by their hashes) and the content of every existing file or folder outside the run that its options name. */
function stageHash(recipe: Recipe, name: string, deps: string[], hashes: Map<string, string>, resolved: Record<string, Value>, run: string): string {
  const spec = recipe.stages.get(name)!;
  const symbolic = interpolate({ with: spec.with, watch: (spec.watch ?? null) as Value } as Value, (n) =>
    hashes.has(n) ? `stage:${hashes.get(n)}` : n in recipe.vars ? recipe.vars[n]! : `\${${n}}`);
  const files: Record<string, string> = {};
  const visit = (v: Value) => {
    if (typeof v === 'string') {
      for (const part of v.split(',')) {
        const p = resolve(part);
        if (part && !p.startsWith(run + sep) && p !== run && existsSync(p)) files[part] = fingerprint(p);
      }
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(resolved as Value);
  return sha256(JSON.stringify({ run: spec.run, symbolic, deps: deps.map((d) => hashes.get(d)), files }));
}

function watcherArgv(watch: WatchSpec, args: Record<string, Value>, lookup: (n: string) => string, dir: string, run: string, stage: string): string[] {
  const w = interpolate(watch as Value, lookup) as Record<string, Value>;
  const argv = ['pipeline', 'watch', '--dir', dir, '--events', join(run, 'run.jsonl'), '--stage', stage];
  const v = w['validate'] as Record<string, Value> | undefined;
  if (v) argv.push('--data', String(v['data'] ?? args['data']), '--seq', String(v['seq']), '--batches', String(v['batches'] ?? 4), '--batch', String(v['batch'] ?? 4));
  if (Array.isArray(w['tasks']) && w['tasks'].length) argv.push('--tasks', w['tasks'].join(','));
  if (w['limit'] !== undefined) argv.push('--limit', String(w['limit']));
  if (w['data-dir'] !== undefined) argv.push('--data-dir', String(w['data-dir']));
  if (w['include-path'] !== undefined) argv.push('--include-path', String(w['include-path']));
  return argv;
}

/** Run `kolm ARGV` as a child process, its output shown live and kept (without progress-bar redraws) in `logPath`. */
async function runCommand(argv: string[], logPath: string, watchArgv: string[] | undefined, log: (l: string) => void): Promise<void> {
  const logFile = createWriteStream(logPath, { flags: 'a' });
  logFile.write(`$ kolm ${argv.join(' ')}\n`);
  const env = { ...process.env, ...(process.stderr.isTTY ? { KOLM_PROGRESS: 'tty' } : {}) };
  const child = spawn(process.execPath, [MAIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
  tee(child, logFile, '');
  let watcher: ChildProcess | undefined;
  let watcherDone: Promise<number | null> | undefined;
  if (watchArgv) {
    watcher = spawn(process.execPath, [MAIN, ...watchArgv], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, KOLM_PROGRESS: 'off' } });
    tee(watcher, logFile, '[checkpoint eval] ');
    watcherDone = new Promise((res) => watcher!.on('close', (code) => res(code)));
  }
  const forward = (sig: NodeJS.Signals) => () => {
    child.kill(sig);
    watcher?.kill(sig);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const code = await new Promise<number | null>((res, rej) => {
      child.on('error', rej);
      child.on('close', (c, signal) => res(signal ? 128 : c));
    });
    if (watcher) {
      if (code === 0) {
        log('  waiting for the checkpoint evaluations to finish');
        watcher.stdin!.end();
      } else {
        watcher.kill('SIGTERM');
      }
      const wcode = await watcherDone;
      if (code === 0 && wcode !== 0) throw new KolmError(`the checkpoint evaluator exited with code ${wcode}`);
    }
    if (code !== 0) throw new KolmError(`kolm ${argv.slice(0, 2).join(' ')} exited with code ${code}`);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    await new Promise((r) => logFile.end(r));
  }
}

/** Child output goes to our own stdout/stderr as it comes and to the log with progress redraws collapsed to their last state. */
function tee(child: ChildProcess, logFile: WriteStream, prefix: string): void {
  for (const [stream, sink] of [[child.stdout!, process.stdout], [child.stderr!, process.stderr]] as const) {
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      sink.write(prefix ? text.replace(/^(?=.)/gm, prefix) : text);
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) logFile.write(prefix + line.split('\r').at(-1)!.replace(/\x1b\[K/g, '') + '\n');
    });
    stream.on('end', () => {
      if (pending) logFile.write(prefix + pending.split('\r').at(-1)!.replace(/\x1b\[K/g, '') + '\n');
    });
  }
}

function lock(run: string): () => void {
  const path = join(run, '.lock');
  if (existsSync(path)) {
    const pid = Number(readFileSync(path, 'utf8'));
    if (pid !== process.pid && isRunning(pid)) throw new KolmError(`${run} is in use by another pipeline (pid ${pid}); remove ${path} if that is wrong`);
  }
  writeFileSync(path, String(process.pid));
  return () => rmSync(path, { force: true });
}

/** Whether `pid` is a live process (a killed one not yet reaped — a zombie — is not). */
function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';
  } catch {
    return true;
  }
}

function readStageState(run: string, name: string): StageState | undefined {
  const path = join(run, '.stages', `${name}.json`);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as StageState;
  } catch {
    return undefined;
  }
}

function writeStageState(run: string, st: StageState): void {
  writeFileAtomicSync(join(run, '.stages', `${st.name}.json`), JSON.stringify(st, null, 1) + '\n');
}
