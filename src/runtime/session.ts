import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { KolmError } from '../util/errors.js';
import { exportOnnx, saveOnnx, type OnnxExportOptions, type OnnxModel } from '../graph/onnx/export.js';
import type { DType, NDArray } from '../graph/ndarray.js';
import type { Tensor } from '../graph/tensor.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions extends OnnxExportOptions {
  /** Intra-op threads; default: all cores. */
  threads?: number;
  executionProvider?: ExecutionProvider;
  /**
   * Let idle intra-op threads spin waiting for work (ORT's default, true). Spinning saves a wake-up per parallel
   * section but burns a core between runs; inference sessions turn it off, so an idle prefill pool does not take a
   * core from the decode steps (or from anything else on a busy machine).
   */
  spinning?: boolean;
  /** Write ORT's per-node profile (Chrome trace JSON) with this file prefix; read it back with `endProfiling()`. */
  profilePrefix?: string;
}

/** What a feed may be: an ORT tensor (zero-copy, e.g. last step's outputs) or any array with a shape. */
export type FeedValue = ort.Tensor | NDArray | { dtype?: DType; shape: readonly number[]; data: ArrayLike<number> | BigInt64Array };

const compiled = new Map<string, Promise<ort.InferenceSession>>();

/**
 * Initializers above this many bytes go to ORT through a temporary model file with external data: ORT then reads
 * each weight once into its own memory, where a model passed as bytes is parsed and copied (measured on a
 * SEED-0.5B-shaped f32 model: +4.1 GB and 28 s from bytes, +2.2 GB and 12 s from a file).
 */
const EXTERNAL_WEIGHTS_BYTES = 256 << 20;

function initializerBytes(options: SessionOptions): number {
  let n = 0;
  for (const w of Object.values(options.initializers ?? {})) n += (w.data as ArrayLike<number> & { byteLength?: number }).byteLength ?? w.data.length * 4;
  return n;
}

/** A session of a model with large weights, created from a temporary folder that is removed once ORT has read it. */
async function sessionFromFile(outputs: Record<string, Tensor>, options: SessionOptions, ortOptions: ort.InferenceSession.SessionOptions): Promise<{ model: OnnxModel; session: ort.InferenceSession }> {
  const model = exportOnnx(outputs, { ...options, externalData: { location: 'weights.bin' } });
  const dir = await mkdtemp(join(tmpdir(), 'kolm-session-'));
  try {
    await saveOnnx(model, join(dir, 'model.onnx'));
    return { model, session: await ort.InferenceSession.create(join(dir, 'model.onnx'), ortOptions) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A graph compiled once into an ONNX Runtime session and run many times with named feeds and fetches.
 * Sessions are cached by the exported model's bytes and the options, so rebuilding an identical graph is free.
 */
export class Session {
  private constructor(
    /** The graph's interface (the model's bytes are not kept: ORT holds the weights once compiled). */
    readonly model: Pick<OnnxModel, 'inputs' | 'outputs'>,
    private readonly session: ort.InferenceSession,
  ) {}

  static async create(outputs: Record<string, Tensor>, options: SessionOptions = {}): Promise<Session> {
    const ep = options.executionProvider ?? 'cpu';
    const ortOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: ep === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.threads ?? 0,
      interOpNumThreads: 1,
      ...(options.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
      ...(options.profilePrefix ? { enableProfiling: true, profileFilePrefix: options.profilePrefix } : {}),
    };
    if (!options.externalData && initializerBytes(options) > EXTERNAL_WEIGHTS_BYTES) {
      // Not cached: the model's bytes no longer hold the weights that would tell two such sessions apart.
      try {
        const { model, session } = await sessionFromFile(outputs, options, ortOptions);
        return new Session({ inputs: model.inputs, outputs: model.outputs }, session);
      } catch (err) {
        throw new KolmError(`ONNX Runtime rejected graph '${options.graphName ?? 'kolm'}': ${(err as Error).message}`);
      }
    }
    const model = exportOnnx(outputs, options);
    const key = createHash('sha256').update(model.bytes).update(`${ep}|${options.threads ?? 0}|${options.spinning ?? true}|${options.profilePrefix ?? ''}`).digest('hex');
    let pending = compiled.get(key);
    if (!pending) {
      pending = ort.InferenceSession.create(model.bytes, ortOptions);
      compiled.set(key, pending);
      pending.catch(() => compiled.delete(key));
    }
    let session: ort.InferenceSession;
    try {
      session = await pending;
    } catch (err) {
      throw new KolmError(`ONNX Runtime rejected graph '${options.graphName ?? 'kolm'}': ${(err as Error).message}`);
    }
    return new Session({ inputs: model.inputs, outputs: model.outputs }, session);
  }

  get inputNames(): string[] {
    return this.model.inputs.map((i) => i.name);
  }

  /** Stop profiling and flush the trace file (sessions created with `profilePrefix`). */
  endProfiling(): void {
    this.session.endProfiling();
  }

  /** Run once; returns the requested outputs (all by default) as ORT tensors. */
  async run(feeds: Record<string, FeedValue>, fetches: readonly string[] = this.model.outputs): Promise<Record<string, ort.Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const spec of this.model.inputs) {
      const value = feeds[spec.name];
      if (value === undefined) throw new KolmError(`session run: missing feed '${spec.name}' (shape [${spec.shape.join(', ')}], ${spec.dtype})`);
      ortFeeds[spec.name] = toOrt(value, spec.dtype as DType, spec.name);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.model.inputs.some((i) => i.name === name)) throw new KolmError(`session run: unknown feed '${name}'; inputs are ${this.inputNames.join(', ')}`);
    }
    try {
      return (await this.session.run(ortFeeds, [...fetches])) as Record<string, ort.Tensor>;
    } catch (err) {
      throw new KolmError(`session run failed: ${(err as Error).message}`);
    }
  }
}

const ORT_TYPES: Record<DType, ort.Tensor.Type> = { float32: 'float32', int64: 'int64', bool: 'bool', uint8: 'uint8' };

export function toOrt(value: FeedValue, dtype: DType, name = 'value'): ort.Tensor {
  if (value instanceof ort.Tensor) {
    if (value.type !== ORT_TYPES[dtype]) throw new KolmError(`feed '${name}': expected ${dtype}, got ${value.type}`);
    return value;
  }
  const plain = value as Exclude<FeedValue, ort.Tensor>;
  const dims = [...plain.shape];
  const data = plain.data;
  if (dtype === 'float32') return new ort.Tensor('float32', data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>), dims);
  if (dtype === 'int64') {
    return new ort.Tensor('int64', data instanceof BigInt64Array ? data : BigInt64Array.from(data as ArrayLike<number>, (v) => BigInt(v)), dims);
  }
  if (dtype === 'uint8') return new ort.Tensor('uint8', data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number>), dims);
  return new ort.Tensor('bool', Uint8Array.from(data as ArrayLike<number>, (v) => (v ? 1 : 0)), dims);
}

/** A float32 tensor of zeros (optimizer moments, gradient accumulators). */
export function zeros(shape: readonly number[]): ort.Tensor {
  return toOrt({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }, 'float32');
}

/** An ORT result as plain numbers (for comparisons and small outputs). */
export function toNumbers(t: ort.Tensor): Float64Array {
  const data = t.data as ArrayLike<number | bigint>;
  return Float64Array.from({ length: data.length }, (_, i) => Number(data[i]!));
}

export { ort };
