/**
 * The package as a user gets it: `npm pack`, then npm installs the tarball into an empty folder (offline, from npm's
 * cache, with package-lock.json's versions of kolm's dependencies and none of its development dependencies), and
 * every `kolm` command runs from there: `kolm --help`, each command's and each benchmark's --help, cheap real runs
 * (tokenizer encode and generate on a shipped model, eval --list, init, demo, bench engine/train/serve), and the
 * benchmarks whose peers are development dependencies name the package to install instead of crashing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The environment of a user's shell: none of the npm_* variables `npm test` sets, onnxruntime-node's install skipped
 * (kolm is a dependency here, so its own package.json's allowScripts does not apply), no npm update notice.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ONNXRUNTIME_NODE_INSTALL: 'skip', NO_COLOR: '1', npm_config_update_notifier: 'false' };
}

function npmAvailable(): boolean {
  const r = spawnSync('npm', ['--version'], { encoding: 'utf8', env: userEnv() });
  return !r.error && r.status === 0;
}

type LockEntry = { version?: string; resolved?: string; integrity?: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; [k: string]: unknown };

/**
 * A lockfile for a folder that depends on the tarball alone: the tarball's entry, and the entries of package-lock.json
 * for kolm's runtime dependencies and theirs (found as Node finds them, from the nearest node_modules upwards).
 */
function lockFor(tarball: string, spec: string): Record<string, unknown> {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Record<string, unknown> & { dependencies: Record<string, string> };
  const find = (from: string, name: string): string | undefined => {
    for (let base = from; ; base = base.slice(0, Math.max(0, base.lastIndexOf('/node_modules/')))) {
      const path = `${base ? `${base}/` : ''}node_modules/${name}`;
      if (lock.packages[path]) return path;
      if (!base) return undefined;
    }
  };
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { kolm: spec } },
    'node_modules/kolm': {
      version: pkg['version'], resolved: spec, integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      license: pkg['license'], dependencies: pkg.dependencies, bin: pkg['bin'], engines: pkg['engines'],
    },
  };
  const queue = Object.keys(pkg.dependencies).map((name) => ({ from: '', name }));
  while (queue.length) {
    const { from, name } = queue.shift()!;
    const path = find(from, name);
    if (!path) {
      if (lock.packages[from]?.optionalDependencies?.[name] !== undefined) continue;
      throw new Error(`package-lock.json has no entry for ${name} (needed by ${from || 'kolm'})`);
    }
    if (packages[path]) continue;
    const { dev: _dev, devOptional: _devOptional, ...entry } = lock.packages[path]!;
    packages[path] = entry;
    for (const dep of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {})]) queue.push({ from: path, name: dep });
  }
  return { name: 'app', lockfileVersion: 3, requires: true, packages };
}

test('the packed tarball, installed by npm into an empty folder, runs every kolm command', { skip: npmAvailable() ? false : 'npm is not available' }, async (t) => {
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'kolm-package-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const env = userEnv();
  const sh = (cmd: string, args: string[], cwd: string, timeout = 120_000): SpawnSyncReturns<string> =>
    spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });

  // No npm warning before kolm's own output (the project's npm configuration is one npm knows).
  const npx = sh('npx', ['--no-install', 'kolm', '--help'], repoRoot);
  assert.equal(npx.status, 0, npx.stderr);
  assert.doesNotMatch(npx.stderr, /npm warn/i);
  assert.match(npx.stdout, /^usage: kolm /);

  // Pack what `tsc` built (the test runs from it), without running `prepare` again.
  const pack = sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], repoRoot);
  assert.equal(pack.status, 0, pack.stderr);
  const packed = (JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
  const paths = new Set(packed.files.map((f) => f.path));
  for (const f of ['dist/src/cli/main.js', 'dist/bench/engine.js', 'dist/bench/serve.js', 'test/fixtures/text/ko-en.txt', 'models/kolm-micro/model.safetensors']) assert.ok(paths.has(f), `the package has ${f}`);
  assert.ok(![...paths].some((p) => p.startsWith('dist/test/') || p.startsWith('node_modules/')), 'no tests or node_modules in the package');
  const tarball = join(work, packed.filename);

  const app = join(work, 'app');
  mkdirSync(app);
  const spec = `file:../${packed.filename}`;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: { kolm: spec } }, null, 2));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lockFor(tarball, spec), null, 2));
  const install = sh('npm', ['ci', '--offline', '--no-audit', '--no-fund'], app, 240_000);
  if (install.status !== 0 && /ENOTCACHED/.test(install.stderr)) {
    // npm's cache lacks a dependency (it was cleaned since `npm ci`): lay the package out as npm would, unpacked, with
    // the project's copies of its runtime dependencies.
    t.diagnostic(`npm ci --offline could not install from the cache (${install.stderr.split('\n').find((l) => l.includes('request to')) ?? 'ENOTCACHED'}); the tarball is unpacked instead`);
    const kolmDir = join(app, 'node_modules', 'kolm');
    mkdirSync(kolmDir, { recursive: true });
    const untar = sh('tar', ['-xzf', tarball, '-C', kolmDir, '--strip-components=1'], app);
    assert.equal(untar.status, 0, untar.stderr);
    const lock = lockFor(tarball, spec) as { packages: Record<string, unknown> };
    for (const path of Object.keys(lock.packages)) {
      if (!path || path === 'node_modules/kolm' || path.split('/node_modules/').length > 1) continue;
      mkdirSync(dirname(join(app, path)), { recursive: true });
      symlinkSync(join(repoRoot, path), join(app, path));
    }
    mkdirSync(join(app, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(join(kolmDir, 'dist', 'src', 'cli', 'main.js'), join(app, 'node_modules', '.bin', 'kolm'));
  } else {
    assert.equal(install.status, 0, install.stderr);
  }
  const installedAt = performance.now();

  const bin = join(app, 'node_modules', '.bin', 'kolm');
  const kolm = (...args: string[]) => {
    const r = sh(process.execPath, [bin, ...args], app);
    const all = `${r.stdout}\n${r.stderr}`;
    assert.ok(!/ERR_MODULE_NOT_FOUND|Cannot find (module|package)|\n\s+at /.test(all), `kolm ${args.join(' ')} crashed:\n${all}`);
    return r;
  };
  const ok = (...args: string[]) => {
    const r = kolm(...args);
    assert.equal(r.status, 0, `kolm ${args.join(' ')}:\n${r.stderr}`);
    return r.stdout;
  };

  const help = ok('--help');
  const commands = [...help.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]!);
  assert.ok(commands.length >= 19 && commands.includes('bench') && commands.includes('serve'), help);
  for (const c of commands) assert.match(ok(c, '--help'), /usage/, `kolm ${c} --help`);
  const benches = /<([a-z|]+)>/.exec(ok('bench', '--help'))![1]!.split('|');
  assert.deepEqual(benches, ['engine', 'tokenizer', 'data', 'train', 'decode', 'serve', 'load']);
  for (const b of benches) assert.match(ok('bench', b, '--help'), new RegExp(`^usage: kolm bench ${b}`), `kolm bench ${b} --help`);

  // Real runs on the shipped models and fixtures.
  const micro = join(app, 'node_modules', 'kolm', 'models', 'kolm-micro');
  const encoded = JSON.parse(ok('tokenizer', 'encode', '--tokenizer', micro, '--text', '안녕하세요', '--json')) as { ids: number[] };
  assert.ok(encoded.ids.length > 0);
  const generated = JSON.parse(ok('generate', '--prompt', '한국의 수도는', '--max-new-tokens', '2', '--json')) as { ids: number[] };
  assert.ok(generated.ids.length >= 1 && generated.ids.length <= 2);
  assert.match(ok('eval', '--list'), /hellaswag|kobest|arc/i);
  ok('init', '--preset', 'nano', '--out', join(work, 'nano'));
  ok('demo', '--steps', '2');
  const engine = JSON.parse(ok('bench', 'engine', '--json', '--size', '64', '--threads', '1')) as { bench: string; gemm_gflops: number };
  assert.equal(engine.bench, 'engine');
  const train = JSON.parse(ok('bench', 'train', '--preset', 'nano', '--steps', '1', '--batch', '1', '--seq', '16', '--threads', '1', '--json')) as { tokens_per_s: number };
  assert.ok(train.tokens_per_s > 0);
  const serveBench = JSON.parse(ok('bench', 'serve', '--preset', 'nano', '--tokens', '2', '--streams', '1', '--rounds', '1', '--repeat', '1', '--json')) as { levels: { output_tokens: number }[] };
  assert.equal(serveBench.levels[0]!.output_tokens, 2);

  // Peers that are development dependencies: the benchmark names what to install.
  const decode = kolm('bench', 'decode', '--preset', 'nano', '--json');
  assert.equal(decode.status, 1);
  assert.match(decode.stderr, /^kolm: kolm bench decode measures kolm against node-llama-cpp, which is not installed here .*npm install 'node-llama-cpp@3\.21\.1'/);
  const tokenizer = kolm('bench', 'tokenizer', '--json');
  assert.equal(tokenizer.status, 1);
  assert.match(tokenizer.stderr, /against @anush008\/tokenizers, @huggingface\/tokenizers, gpt-tokenizer, which are not installed .*npm install '@anush008\/tokenizers@[^']+' '@huggingface\/tokenizers@[^']+' 'gpt-tokenizer@[^']+'/);
  // The data benchmark needs the raw corpora, and says so.
  const data = kolm('bench', 'data', '--json');
  assert.equal(data.status, 1);
  assert.match(data.stderr, /^kolm: raw corpus not found at .*\(use --raw DIR\)/);
  t.diagnostic(`pack + install ${Math.round((installedAt - started) / 1000)} s, ${commands.length} commands and ${benches.length} benchmarks in ${Math.round((performance.now() - installedAt) / 1000)} s`);
});
