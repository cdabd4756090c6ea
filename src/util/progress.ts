import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatCount, formatDuration, formatPercent } from './format.js';

/**
 * A one-line progress bar with rate and ETA on stderr. When stderr is not a terminal (CI logs, pipes, nohup) it
 * writes a plain line at most every 30 s instead, plus a final summary, so logs stay readable.
 */
export class Progress {
  private done = 0;
  private readonly start = Date.now();
  private lastDraw = 0;
  // KOLM_PROGRESS=tty: a parent process (the pipeline) shows this process's output on a terminal.
  private readonly tty = Boolean(process.stderr.isTTY) || process.env['KOLM_PROGRESS'] === 'tty';

  constructor(
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly unit = 'it',
    private readonly enabled = true,
  ) {}

  tick(n = 1, extra = ''): void {
    this.done += n;
    const now = Date.now();
    if (!this.enabled) return;
    if (this.tty && now - this.lastDraw > 100) {
      this.lastDraw = now;
      process.stderr.write(`\r${this.line(extra)}\x1b[K`);
    } else if (!this.tty && now - Math.max(this.lastDraw, this.start) > 30_000) {
      this.lastDraw = now;
      process.stderr.write(`${this.line(extra)}\n`);
    }
  }

  finish(extra = ''): void {
    if (!this.enabled) return;
    process.stderr.write(this.tty ? `\r${this.line(extra)}\x1b[K\n` : `${this.line(extra)}\n`);
  }

  private line(extra: string): string {
    const secs = (Date.now() - this.start) / 1000;
    const rate = this.done / Math.max(secs, 1e-9);
    let bar = '';
    let eta = '';
    if (this.total && this.total > 0) {
      const frac = Math.min(1, this.done / this.total);
      const width = 24;
      const full = Math.round(frac * width);
      bar = `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${formatPercent(frac)} `;
      eta = rate > 0 ? ` eta ${formatDuration((this.total - this.done) / rate)}` : '';
    }
    return `${this.label} ${bar}${formatCount(this.done)}${this.total ? '/' + formatCount(this.total) : ''} ${this.unit} ` +
      `${formatCount(rate)} ${this.unit}/s ${formatDuration(secs)}${eta}${extra ? ' ' + extra : ''}`;
  }
}

/** Append-only JSONL metrics, one object per line, flushed per record so a crash loses nothing written. */
export class MetricsLog {
  constructor(private readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }
  write(record: Record<string, unknown>): void {
    appendFileSync(this.path, JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n');
  }
}
