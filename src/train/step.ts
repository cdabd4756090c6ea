import { grad } from '../graph/autodiff.js';
import type { NDArray } from '../graph/ndarray.js';
import type { Graph, Tensor } from '../graph/tensor.js';
import { Session, toOrt, ort, type FeedValue, type SessionOptions } from '../runtime/session.js';
import { buildAdamW, stateNames, type AdamWOptions, type TrainableParam } from './adamw.js';

export interface TrainStepSpec {
  graph: Graph;
  loss: Tensor;
  params: readonly TrainableParam[];
  optimizer?: AdamWOptions;
  session?: SessionOptions;
}

/**
 * One whole training step — forward, loss, backward, clipping, AdamW — compiled into a single ONNX Runtime graph.
 * Parameters and moments live as ORT tensors between steps: each step's outputs are the next step's inputs,
 * so the only copies are ORT's at the run boundary.
 */
export class TrainStep {
  private constructor(
    private readonly session: Session,
    private readonly params: readonly TrainableParam[],
    private readonly beta1: number,
    private readonly beta2: number,
    private state: Record<string, ort.Tensor>,
    public step = 0,
  ) {}

  static async create(spec: TrainStepSpec, initial: Record<string, NDArray>): Promise<TrainStep> {
    const beta1 = spec.optimizer?.beta1 ?? 0.9;
    const beta2 = spec.optimizer?.beta2 ?? 0.95;
    const grads = grad(spec.loss, spec.params.map((p) => p.tensor));
    const adam = buildAdamW(spec.graph, spec.params, grads, { ...spec.optimizer, beta1, beta2 });
    const outputs: Record<string, Tensor> = { loss: spec.loss, grad_norm: adam.gradNorm };
    for (const s of adam.states) {
      const names = stateNames(s.name);
      outputs[names.next] = s.nextParam;
      outputs[`next.${names.m}`] = s.nextM;
      outputs[`next.${names.v}`] = s.nextV;
    }
    const session = await Session.create(outputs, { graphName: 'train_step', ...spec.session });
    const state: Record<string, ort.Tensor> = {};
    for (const p of spec.params) {
      const value = initial[p.name];
      if (!value) throw new Error(`TrainStep: no initial value for parameter '${p.name}'`);
      const names = stateNames(p.name);
      state[p.name] = toOrt(value, 'float32', p.name);
      state[names.m] = new ort.Tensor('float32', new Float32Array(value.data.length), [...value.shape]);
      state[names.v] = new ort.Tensor('float32', new Float32Array(value.data.length), [...value.shape]);
    }
    return new TrainStep(session, spec.params, beta1, beta2, state);
  }

  /** Run one optimisation step on a batch; returns the loss and the pre-clipping gradient norm. */
  async run(batch: Record<string, FeedValue>, lr: number): Promise<{ loss: number; gradNorm: number }> {
    this.step += 1;
    const feeds: Record<string, FeedValue> = {
      ...batch,
      ...this.state,
      'optim.lr': { shape: [], data: [lr] },
      'optim.bias1': { shape: [], data: [1 - Math.pow(this.beta1, this.step)] },
      'optim.bias2': { shape: [], data: [1 - Math.pow(this.beta2, this.step)] },
    };
    const out = await this.session.run(feeds);
    for (const p of this.params) {
      const names = stateNames(p.name);
      this.state[p.name] = out[names.next]!;
      this.state[names.m] = out[`next.${names.m}`]!;
      this.state[names.v] = out[`next.${names.v}`]!;
    }
    return { loss: (out['loss']!.data as Float32Array)[0]!, gradNorm: (out['grad_norm']!.data as Float32Array)[0]! };
  }

  /** Current parameter values (float32 copies). */
  parameters(): Record<string, { shape: readonly number[]; data: Float32Array }> {
    const out: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
    for (const p of this.params) out[p.name] = { shape: this.state[p.name]!.dims, data: this.state[p.name]!.data as Float32Array };
    return out;
  }
}
