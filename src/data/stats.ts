export interface StageReport {
  in: number; kept: number; dropped: Record<string, number>; changed: Record<string, number>;
  charsIn: number; charsOut: number; seconds: number;
}

/** Per-stage accounting: how many documents came in, were kept, dropped (by reason) and changed (by kind). */
export class StageStats {
  in = 0;
  kept = 0;
  dropped: Record<string, number> = {};
  /** Counts of edits that did not drop the document, e.g. PII replacements by type or boilerplate lines removed. */
  changed: Record<string, number> = {};
  charsIn = 0;
  charsOut = 0;
  seconds = 0;

  constructor(readonly name: string) {}

  drop(reason: string): false {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
    return false;
  }

  change(kind: string, n = 1): void {
    if (n) this.changed[kind] = (this.changed[kind] ?? 0) + n;
  }

  get droppedTotal(): number {
    let n = 0;
    for (const v of Object.values(this.dropped)) n += v;
    return n;
  }

  /** Add another report's counts (e.g. from a worker thread) to these. */
  add(r: StageReport): void {
    this.in += r.in;
    this.kept += r.kept;
    for (const [k, v] of Object.entries(r.dropped)) bump(this.dropped, k, v);
    for (const [k, v] of Object.entries(r.changed)) bump(this.changed, k, v);
    this.charsIn += r.charsIn;
    this.charsOut += r.charsOut;
    this.seconds += r.seconds;
  }

  /** The counts so far, and start again from zero. */
  take(): StageReport {
    const r: StageReport = {
      in: this.in, kept: this.kept, dropped: this.dropped, changed: this.changed, charsIn: this.charsIn, charsOut: this.charsOut, seconds: this.seconds,
    };
    this.in = this.kept = this.charsIn = this.charsOut = this.seconds = 0;
    this.dropped = {};
    this.changed = {};
    return r;
  }

  toJSON(): StageReport {
    return {
      in: this.in, kept: this.kept, dropped: sortedCounts(this.dropped), changed: sortedCounts(this.changed),
      charsIn: this.charsIn, charsOut: this.charsOut, seconds: round(this.seconds, 3),
    };
  }
}

export function sortedCounts(c: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(c).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Add `n` to `counts[key]`. */
export function bump(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}
