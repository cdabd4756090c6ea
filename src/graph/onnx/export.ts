import { KolmError } from '../../util/errors.js';
import { opDef } from '../registry.js';
import { topoSort, type Tensor } from '../tensor.js';
import type { NDArray } from '../ndarray.js';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic.js';
import { OnnxBuilder, valueInfo, type ExternalData } from './builder.js';
import { ProtoWriter } from './protobuf.js';

export interface OnnxExportOptions {
  /** Default opset 18 (ReduceMean/ReduceMax take axes as inputs from 18 on). */
  opset?: number;
  graphName?: string;
  /** Named weights stored as initializers instead of graph inputs (inference exports). */
  initializers?: Record<string, NDArray>;
  /** Store initializers of at least `threshold` bytes (default 1024) in a side file named `location`. */
  externalData?: { location: string; threshold?: number };
}

export interface OnnxModel {
  bytes: Uint8Array;
  /** Graph inputs in declaration order, as they must be fed. */
  inputs: { name: string; shape: readonly (number | string)[]; dtype: string }[];
  outputs: string[];
  /** The external data file, when requested: its contents as the initializers' bytes in order (views, not copies). */
  externalData?: { location: string; chunks: Uint8Array[]; size: number };
}

/** Lower the subgraph computing `outputs` to an ONNX ModelProto. */
export function exportOnnx(outputs: Record<string, Tensor>, options: OnnxExportOptions = {}): OnnxModel {
  const opset = options.opset ?? 18;
  const entries = Object.entries(outputs);
  if (entries.length === 0) throw new KolmError('exportOnnx: no outputs given');
  const order = topoSort(entries.map(([, t]) => t));
  const external: ExternalData | undefined = options.externalData
    ? { location: options.externalData.location, threshold: options.externalData.threshold ?? 1024, chunks: [], size: 0 }
    : undefined;
  const b = new OnnxBuilder(external);
  const names = new Map<number, string>();
  const outputNames = new Map<number, string>();
  for (const [name, t] of entries) if (!outputNames.has(t.id) && t.op !== 'input' && t.op !== 'const') outputNames.set(t.id, name);

  const graph = new ProtoWriter();
  const inputs: OnnxModel['inputs'] = [];
  for (const node of order) {
    if (node.op === 'input') {
      const name = node.attrs['name'] as string;
      names.set(node.id, name);
      const weight = options.initializers?.[name];
      if (weight) {
        b.initializer(name, { ...weight, dtype: node.dtype });
      } else {
        inputs.push({ name, shape: node.shape, dtype: node.dtype });
        graph.message(11, valueInfo(name, node.dtype, node.shape));
      }
      continue;
    }
    const name = outputNames.get(node.id) ?? `t${node.id}`;
    names.set(node.id, name);
    if (node.op === 'const') {
      b.initializer(name, node.attrs['value'] as NDArray);
      continue;
    }
    const def = opDef(node.op);
    if (!def) throw new KolmError(`exportOnnx: unknown op '${node.op}' (node ${node} built at ${node.site})`);
    try {
      def.onnx(b, node, node.inputs.map((i) => names.get(i.id)!), name);
    } catch (err) {
      throw new KolmError(`exportOnnx: ${node.op} (node ${node} built at ${node.site}): ${(err as Error).message}`);
    }
  }
  for (const [name, t] of entries) {
    if (names.get(t.id) !== name) b.node('Identity', [names.get(t.id)!], [name]);
    graph.message(12, valueInfo(name, t.dtype, t.shape));
  }
  for (const n of b.nodes) graph.message(1, n);
  graph.string(2, options.graphName ?? 'kolm');
  for (const init of b.initializers) graph.message(5, init);

  const model = new ProtoWriter()
    .int(1, opset >= 23 ? 11 : opset >= 21 ? 10 : opset >= 19 ? 9 : 8) // the IR version each opset needs
    .string(2, 'kolm')
    .message(7, graph)
    .message(8, new ProtoWriter().string(1, '').int(2, opset));
  for (const domain of b.domains) model.message(8, new ProtoWriter().string(1, domain).int(2, 1));
  const result: OnnxModel = { bytes: model.finish(), inputs, outputs: entries.map(([n]) => n) };
  if (external) result.externalData = { location: external.location, chunks: external.chunks, size: external.size };
  return result;
}

/** Write a model (and its external data file, if any) atomically next to each other. */
export async function saveOnnx(model: OnnxModel, path: string): Promise<void> {
  // The weights are written chunk by chunk from the tensors themselves, never gathered into one buffer.
  if (model.externalData) await writeFileAtomic(join(dirname(path), model.externalData.location), model.externalData.chunks);
  await writeFileAtomic(path, model.bytes);
}
