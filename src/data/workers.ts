/**
 * A pool of worker threads running stages 1-5, the dedup fingerprint and tokenization; batches are answered in
 * submission order by the caller awaiting them in order, so the build stays deterministic for any pool size.
 */
import { Worker } from 'node:worker_threads';
import type { DataConfig } from './config.js';
import type { DocInput, Processed, ProcessStage } from './process.js';
import type { StageReport } from './stats.js';

export interface WorkerInit {
  config: DataConfig;
  seed: number;
  tokenizerDir: string;
  tokenizerHash: string;
}

export interface BatchResult {
  results: Processed[];
  stats: Record<ProcessStage, StageReport>;
}

export class ProcessorPool {
  private readonly waiting = new Map<number, { resolve: (r: BatchResult) => void; reject: (e: Error) => void }>();
  private next = 0;
  private failure: Error | undefined;
  private closing = false;

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (m: BatchResult & { id: number }) => {
        const p = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        p?.resolve(m);
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => { if (!this.closing) this.fail(new Error(`data worker exited with code ${code}`)); });
    }
  }

  static async start(size: number, init: WorkerInit): Promise<ProcessorPool> {
    const workers = Array.from({ length: size }, () => new Worker(new URL('./worker.js', import.meta.url), { workerData: init }));
    await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    })));
    return new ProcessorPool(workers);
  }

  process(docs: DocInput[]): Promise<BatchResult> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.workers[id % this.workers.length].postMessage({ id, docs });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.waiting.values()) p.reject(e);
    this.waiting.clear();
  }
}
