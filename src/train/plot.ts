/** A dependency-free SVG line chart of loss curves, written next to checkpoints so a run can be seen at a glance. */
export interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

export function lossChartSvg(series: Series[], title: string, width = 720, height = 360): string {
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  if (all.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><text x="20" y="30">${escape(title)}: no data yet</text></svg>\n`;
  const pad = { l: 56, r: 16, t: 32, b: 40 };
  const [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  const sx = (x: number) => pad.l + ((x - x0) / Math.max(x1 - x0, 1e-9)) * (width - pad.l - pad.r);
  const sy = (y: number) => height - pad.b - ((y - y0) / Math.max(y1 - y0, 1e-9)) * (height - pad.t - pad.b);
  const ticks = (lo: number, hi: number, n: number) => Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
  const grid = ticks(y0, y1, 5)
    .map((y) => `<line x1="${pad.l}" x2="${width - pad.r}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#eee"/><text x="${pad.l - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end" font-size="11">${y.toFixed(2)}</text>`)
    .join('');
  const xlabels = ticks(x0, x1, 5)
    .map((x) => `<text x="${sx(x).toFixed(1)}" y="${height - pad.b + 16}" text-anchor="middle" font-size="11">${Math.round(x)}</text>`)
    .join('');
  const lines = series
    .filter((s) => s.points.length)
    .map((s) => `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${s.points.filter(([, y]) => Number.isFinite(y)).map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`)
    .join('');
  const legend = series.map((s, i) => `<text x="${width - pad.r - 8}" y="${pad.t + 14 * i}" text-anchor="end" font-size="12" fill="${s.color}">${escape(s.name)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/><text x="${pad.l}" y="20" font-size="14">${escape(title)}</text>${grid}${xlabels}` +
    `<text x="${(width / 2).toFixed(0)}" y="${height - 6}" text-anchor="middle" font-size="12">step</text>${lines}${legend}</svg>\n`;
}

function escape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
