/** Worker thread: runs DocProcessor on batches of documents sent by ProcessorPool. */
import { parentPort, workerData } from 'node:worker_threads';
import { Tokenizer } from '../tokenizer/index.js';
import { DocProcessor, type DocInput } from './process.js';
import type { WorkerInit } from './workers.js';

const init = workerData as WorkerInit;
const tokenizer = await Tokenizer.load(init.tokenizerDir);
if (tokenizer.hash !== init.tokenizerHash) throw new Error(`worker loaded tokenizer ${tokenizer.hash}, expected ${init.tokenizerHash}`);
const processor = new DocProcessor(init.config, init.seed, tokenizer);

parentPort!.on('message', ({ id, docs }: { id: number; docs: DocInput[] }) => {
  const transfer: ArrayBuffer[] = [];
  const results = docs.map((doc) => {
    const r = processor.process(doc);
    if (r.drop !== undefined) return r;
    // Typed arrays move to the main thread without a copy.
    const ids = Int32Array.from(r.ids);
    transfer.push(ids.buffer, r.fingerprint.signature.buffer as ArrayBuffer);
    return { ...r, ids };
  });
  parentPort!.postMessage({ id, results, stats: processor.takeStats() }, transfer);
});
parentPort!.postMessage({ ready: true });
