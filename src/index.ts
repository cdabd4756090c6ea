// kolm's library entry point: everything the CLI does is available from here.
export { KolmError } from './util/errors.js';
export { Graph, Tensor, GraphError, topoSort } from './graph/tensor.js';
export { grad } from './graph/autodiff.js';
export { evaluate } from './graph/interpreter.js';
export { ndarray, scalar, randn, rng, type NDArray, type DType } from './graph/ndarray.js';
export { attention, causalMask, crossEntropy, linear, rmsNorm, rotary, rotaryTables, swiglu } from './graph/nn.js';
export { exportOnnx, saveOnnx, type OnnxModel, type OnnxExportOptions } from './graph/onnx/export.js';
export { opNames } from './graph/registry.js';
export { Session, toOrt, toNumbers, type SessionOptions, type FeedValue } from './runtime/session.js';
export { buildAdamW, type AdamWOptions, type TrainableParam } from './train/adamw.js';
export { TrainStep, type TrainStepSpec } from './train/step.js';
