/**
 * `kolm bench engine [--json] [--size N] [--threads N]`: GEMM throughput through the engine (graph → ONNX → ORT)
 * next to a plain JS loop measured in the same run, the fixed cost of one session run, and training steps/s of the
 * demo decoder.
 */
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { Graph } from '../src/graph/tensor.js';
import { randn } from '../src/graph/ndarray.js';
import { rng } from '../src/util/random.js';
import { intOption } from '../src/cli/args.js';
import { Session, toOrt } from '../src/runtime/session.js';
import { trainDemo } from '../src/demo/train-demo.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function engineGemm(n: number, threads: number): Promise<number> {
  const g = new Graph('gemm');
  const c = g.input('a', [n, n]).matmul(g.input('b', [n, n]));
  const session = await Session.create({ c }, { threads });
  const feeds = { a: toOrt(randn([n, n], rng(1)), 'float32'), b: toOrt(randn([n, n], rng(2)), 'float32') };
  await session.run(feeds); // warm-up
  const times: number[] = [];
  const deadline = performance.now() + 3000;
  while (times.length < 5 || (performance.now() < deadline && times.length < 50)) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  return (2 * n ** 3) / (median(times) / 1e3) / 1e9;
}

/** The cache-friendly i-k-j loop, the best plain JS does without SIMD or threads. */
function jsGemm(n: number): number {
  const a = Float32Array.from(randn([n, n], rng(1)).data);
  const b = Float32Array.from(randn([n, n], rng(2)).data);
  const c = new Float32Array(n * n);
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      const row = k * n;
      const out = i * n;
      for (let j = 0; j < n; j++) c[out + j]! += aik * b[row + j]!;
    }
  }
  return (2 * n ** 3) / ((performance.now() - t) / 1e3) / 1e9;
}

async function runOverhead(): Promise<number> {
  const g = new Graph('tiny');
  const y = g.input('x', [4]).add(1);
  const session = await Session.create({ y }, { threads: 1 });
  const feeds = { x: toOrt(randn([4], rng(1)), 'float32') };
  for (let i = 0; i < 200; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  return median(times) * 1000;
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, size: { type: 'string' }, threads: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log('usage: kolm bench engine [--size 1024] [--threads N] [--json]');
    return;
  }
  const n = intOption('size', values.size, { min: 1 }) ?? 1024;
  const threads = intOption('threads', values.threads, { min: 1 }) ?? cpus().length;
  const gemm = await engineGemm(n, threads);
  const gemm1 = await engineGemm(n, 1);
  const js = jsGemm(Math.min(n, 512));
  const overheadUs = await runOverhead();
  const t = performance.now();
  const steps = 30;
  await trainDemo({ steps, threads });
  const trainStepsPerSec = steps / ((performance.now() - t) / 1e3);
  const result = {
    bench: 'engine',
    gemm_n: n,
    threads,
    gemm_gflops: +gemm.toFixed(1),
    gemm_gflops_1thread: +gemm1.toFixed(1),
    js_loop_gflops: +js.toFixed(2),
    speedup_vs_js: +(gemm / js).toFixed(1),
    session_run_overhead_us: +overheadUs.toFixed(1),
    demo_train_steps_per_s: +trainStepsPerSec.toFixed(1),
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(`GEMM ${n}³ through the engine: ${result.gemm_gflops} GFLOPS (${threads} threads), ${result.gemm_gflops_1thread} on 1 thread`);
    console.log(`plain JS i-k-j loop: ${result.js_loop_gflops} GFLOPS → engine is ${result.speedup_vs_js}× faster`);
    console.log(`one session run on a tiny graph: ${result.session_run_overhead_us} µs`);
    console.log(`demo decoder training (compile included): ${result.demo_train_steps_per_s} steps/s`);
  }
}
