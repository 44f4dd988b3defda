// Matches over time as bars (SVG); dragging across it selects a time range to zoom into.
import { esc, fmtTime, num } from './util.js';

/**
 * Draws `buckets` ([{start, count}], start in ms) of width `step` ms over [from, to) into `box`.
 * `onZoom(from, to)` is called after a drag.
 */
export function histogram(box, { buckets, step, from, to, total }, onZoom) {
  const W = 1000;
  const Hh = 100;
  const counts = new Map(buckets.map((b) => [b.start, b.count]));
  const first = Math.floor(from / step) * step;
  const slots = [];
  for (let s = first; s < to; s += step) slots.push({ start: s, count: counts.get(s) || 0 });
  // Buckets the server gave outside the range are still counted (and drawn at the edges).
  for (const b of buckets) if (b.start < first || b.start >= to) slots.push({ start: b.start, count: b.count });
  slots.sort((a, b) => a.start - b.start);
  const max = Math.max(1, ...slots.map((s) => s.count));
  const x = (t) => ((t - from) / (to - from)) * W;
  const bars = slots.map((s) => {
    const x0 = Math.max(0, x(s.start));
    const x1 = Math.min(W, x(s.start + step));
    const h = s.count ? Math.max(1.5, (s.count / max) * (Hh - 4)) : 0;
    return `<rect class="bar" data-start="${s.start}" data-count="${s.count}" x="${x0.toFixed(2)}" y="${(Hh - h).toFixed(2)}" width="${Math.max(0.5, x1 - x0 - 0.3).toFixed(2)}" height="${h.toFixed(2)}"><title>${esc(fmtTime(s.start))}: ${num(s.count)}</title></rect>`;
  }).join('');
  box.innerHTML = `<div class="histo" data-total="${total}">
    <div class="axis"><span>${esc(fmtTime(from))}</span><span class="muted">max ${num(max)} per ${esc(stepText(step))} · drag to zoom</span><span>${esc(fmtTime(to))}</span></div>
    <svg viewBox="0 0 ${W} ${Hh}" preserveAspectRatio="none" role="img" aria-label="Matches over time">${bars}<rect class="brush" x="0" y="0" width="0" height="${Hh}"/></svg>
  </div>`;
  const svg = box.querySelector('svg');
  const brush = svg.querySelector('.brush');
  let start = null;
  const at = (e) => {
    const r = svg.getBoundingClientRect();
    return Math.max(0, Math.min(W, ((e.clientX - r.left) / r.width) * W));
  };
  svg.addEventListener('pointerdown', (e) => {
    start = at(e);
    svg.setPointerCapture(e.pointerId);
  });
  svg.addEventListener('pointermove', (e) => {
    if (start === null) return;
    const p = at(e);
    brush.setAttribute('x', Math.min(start, p));
    brush.setAttribute('width', Math.abs(p - start));
  });
  svg.addEventListener('pointerup', (e) => {
    if (start === null) return;
    const p = at(e);
    const [a, b] = [Math.min(start, p), Math.max(start, p)];
    start = null;
    brush.setAttribute('width', 0);
    const t = (v) => Math.round(from + (v / W) * (to - from));
    if (b - a >= 4) onZoom(t(a), Math.max(t(b), t(a) + 1000));
    else {
      // A click zooms into the bucket under the pointer.
      const s = Math.floor(t(a) / step) * step;
      if (step > 1000) onZoom(Math.max(from, s), Math.min(to, s + step));
    }
  });
}

export function stepText(ms) {
  if (ms % 864e5 === 0) return `${ms / 864e5}d`;
  if (ms % 36e5 === 0) return `${ms / 36e5}h`;
  if (ms % 6e4 === 0) return `${ms / 6e4}m`;
  return `${ms / 1e3}s`;
}

const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000].map((s) => s * 1000);
/** The smallest step that cuts [from, to) into at most `bars` buckets. */
export function chooseStep(from, to, bars = 100) {
  return STEPS.find((s) => (to - from) / s <= bars) ?? Math.ceil((to - from) / bars / 864e5) * 864e5;
}
