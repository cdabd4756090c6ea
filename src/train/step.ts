import { grad } from '../graph/autodiff.js';
import type { NDArray } from '../graph/ndarray.js';
import type { Graph, Tensor } from '../graph/tensor.js';
import { Session, toOrt, zeros, type FeedValue, type ort, type SessionOptions } from '../runtime/session.js';
import { KolmError } from '../util/errors.js';
import { buildAdamW, stateNames, type AdamWOptions, type TrainableParam } from './adamw.js';

export interface TrainModel {
  graph: Graph;
  loss: Tensor;
  params: TrainableParam[];
  /** Extra scalar outputs reported with each step (accuracy, KL, clip fraction…), averaged over micro-batches. */
  metrics?: Record<string, Tensor>;
}

export interface TrainStepSpec {
  /** Builds the forward graph and loss; called once per compiled graph (twice with accumulation). */
  build: () => TrainModel;
  optimizer?: AdamWOptions;
  session?: SessionOptions;
  /** Micro-batches per optimizer step (gradient accumulation); default 1. */
  accumulation?: number;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  /** True when the loss or gradients were not finite and the update was not applied. */
  skipped: boolean;
  /** The model's extra scalar metrics (see TrainModel.metrics), averaged over the step's micro-batches. */
  metrics: Record<string, number>;
}

/** Float32 parameter values and AdamW moments, by parameter name: what a checkpoint stores. */
export interface OptimizerState {
  step: number;
  params: Record<string, NDArray | { shape: readonly number[]; data: Float32Array }>;
  exp_avg?: Record<string, { shape: readonly number[]; data: Float32Array }>;
  exp_avg_sq?: Record<string, { shape: readonly number[]; data: Float32Array }>;
}

const accName = (p: string) => `${p}.grad_acc`;
const metricName = (m: string) => `metric.${m}`;

/**
 * One optimizer step — forward, loss, backward, clipping, AdamW — compiled into a single ONNX Runtime graph.
 * Parameters and moments stay ORT tensors between steps (each step's outputs are the next step's inputs). With
 * gradient accumulation, a second graph adds each micro-batch's gradients into accumulators, and the update graph
 * consumes them together with the last micro-batch.
 */
export class TrainStep {
  private constructor(
    private readonly update: Session,
    private readonly accumulate: Session | undefined,
    private readonly names: string[],
    /** Micro-batches per optimizer step. */
    readonly accumulation: number,
    private readonly beta1: number,
    private readonly beta2: number,
    private state: Record<string, ort.Tensor>,
    public step: number,
    private readonly metricKeys: string[] = [],
  ) {}

  static async create(spec: TrainStepSpec, initial: OptimizerState): Promise<TrainStep> {
    const beta1 = spec.optimizer?.beta1 ?? 0.9;
    const beta2 = spec.optimizer?.beta2 ?? 0.95;
    const n = spec.accumulation ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new KolmError(`accumulation must be a positive integer, got ${n}`);

    const model = spec.build();
    const grads = grad(model.loss, model.params.map((p) => p.tensor));
    const total = n === 1 ? grads : grads.map((g, i) => g.add(model.graph.input(accName(model.params[i]!.name), g.shape)).mul(1 / n));
    const adam = buildAdamW(model.graph, model.params, total, { ...spec.optimizer, beta1, beta2 });
    const outputs: Record<string, Tensor> = { loss: model.loss, grad_norm: adam.gradNorm };
    const metricKeys = Object.keys(model.metrics ?? {});
    for (const k of metricKeys) outputs[metricName(k)] = model.metrics![k]!;
    for (const s of adam.states) {
      const names = stateNames(s.name);
      outputs[names.next] = s.nextParam;
      outputs[`next.${names.m}`] = s.nextM;
      outputs[`next.${names.v}`] = s.nextV;
    }
    const update = await Session.create(outputs, { graphName: 'train_step', ...spec.session });

    let accumulate: Session | undefined;
    if (n > 1) {
      const micro = spec.build();
      const microGrads = grad(micro.loss, micro.params.map((p) => p.tensor));
      const accOutputs: Record<string, Tensor> = { loss: micro.loss };
      for (const k of metricKeys) accOutputs[metricName(k)] = micro.metrics![k]!;
      micro.params.forEach((p, i) => (accOutputs[`next.${accName(p.name)}`] = microGrads[i]!.add(micro.graph.input(accName(p.name), p.tensor.shape))));
      accumulate = await Session.create(accOutputs, { graphName: 'accumulate_step', ...spec.session });
    }

    const state: Record<string, ort.Tensor> = {};
    for (const p of model.params) {
      const value = initial.params[p.name];
      if (!value) throw new KolmError(`TrainStep: no initial value for parameter '${p.name}'`);
      const expected = p.tensor.shape.join('x');
      if (value.shape.join('x') !== expected) throw new KolmError(`TrainStep: parameter '${p.name}' has shape [${value.shape}], the model needs [${p.tensor.shape}]`);
      const names = stateNames(p.name);
      state[p.name] = toOrt(value, 'float32', p.name);
      state[names.m] = initial.exp_avg?.[p.name] ? toOrt(initial.exp_avg[p.name]!, 'float32') : zeros(value.shape);
      state[names.v] = initial.exp_avg_sq?.[p.name] ? toOrt(initial.exp_avg_sq[p.name]!, 'float32') : zeros(value.shape);
    }
    return new TrainStep(update, accumulate, model.params.map((p) => p.name), n, beta1, beta2, state, initial.step, metricKeys);
  }

  /** One optimizer step over `accumulation` micro-batches. A non-finite loss or gradient leaves the state as it was. */
  async run(microBatches: readonly Record<string, FeedValue>[], lr: number): Promise<StepResult> {
    if (microBatches.length !== this.accumulation) throw new KolmError(`TrainStep.run: expected ${this.accumulation} micro-batches, got ${microBatches.length}`);
    let lossSum = 0;
    const metricSums: Record<string, number> = Object.fromEntries(this.metricKeys.map((k) => [k, 0]));
    const addMetrics = (out: Record<string, ort.Tensor>) => {
      for (const k of this.metricKeys) metricSums[k]! += (out[metricName(k)]!.data as Float32Array)[0]!;
    };
    let acc: Record<string, ort.Tensor> = {};
    if (this.accumulate) {
      for (const name of this.names) acc[accName(name)] = zeros(this.state[name]!.dims);
      for (const batch of microBatches.slice(0, -1)) {
        const feeds: Record<string, FeedValue> = { ...batch, ...acc };
        for (const name of this.names) feeds[name] = this.state[name]!;
        const out = await this.accumulate.run(feeds);
        lossSum += (out['loss']!.data as Float32Array)[0]!;
        addMetrics(out);
        acc = Object.fromEntries(this.names.map((n) => [accName(n), out[`next.${accName(n)}`]!]));
      }
    }
    const step = this.step + 1;
    const out = await this.update.run({
      ...microBatches[microBatches.length - 1]!,
      ...this.state,
      ...acc,
      'optim.lr': { shape: [], data: [lr] },
      'optim.bias1': { shape: [], data: [1 - Math.pow(this.beta1, step)] },
      'optim.bias2': { shape: [], data: [1 - Math.pow(this.beta2, step)] },
    });
    const loss = (lossSum + (out['loss']!.data as Float32Array)[0]!) / this.accumulation;
    const gradNorm = (out['grad_norm']!.data as Float32Array)[0]!;
    addMetrics(out);
    const metrics = Object.fromEntries(this.metricKeys.map((k) => [k, metricSums[k]! / this.accumulation]));
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) return { loss, gradNorm, skipped: true, metrics };
    this.step = step;
    for (const name of this.names) {
      const names = stateNames(name);
      this.state[name] = out[names.next]!;
      this.state[names.m] = out[`next.${names.m}`]!;
      this.state[names.v] = out[`next.${names.v}`]!;
    }
    return { loss, gradNorm, skipped: false, metrics };
  }

  /** Current parameters as ORT tensors, to feed other graphs (validation) without copies. */
  parameterFeeds(): Record<string, ort.Tensor> {
    return Object.fromEntries(this.names.map((n) => [n, this.state[n]!]));
  }

  /** Flush ORT profiles (when created with `session.profilePrefix`). */
  endProfiling(): void {
    this.update.endProfiling();
    this.accumulate?.endProfiling();
  }

  /** Current parameters and moments (views of ORT's float32 buffers; copy before mutating). */
  snapshot(): Required<OptimizerState> {
    const pick = (key: (n: string) => string) =>
      Object.fromEntries(this.names.map((n) => [n, { shape: this.state[key(n)]!.dims, data: this.state[key(n)]!.data as Float32Array }]));
    return { step: this.step, params: pick((n) => n), exp_avg: pick((n) => stateNames(n).m), exp_avg_sq: pick((n) => stateNames(n).v) };
  }
}
