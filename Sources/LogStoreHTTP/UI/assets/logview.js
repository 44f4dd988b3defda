// The log of one stream (a job, or a workflow engine's log): a virtual list that renders only
// the rows in view, so a million-line job scrolls like a short one. Lines are fetched by cursor
// pages from /v1/logs around what is shown; a far jump (scrollbar, time, shared link) finds its
// line number with /v1/hits (the lines before a time) and reads from there. Follow mode appends
// what /v1/tail answers (long poll from the last LSN seen, so a reconnect loses nothing).
import { api, url } from './api.js';
import { html, esc, link, num, ms, fmtTime, selParams, selQuery, sleep, replaceHash, toLocalInput } from './util.js';
import { ansiToHtml } from './ansi.js';
import { workflowName } from './workflows.js';

const LH = 18; // row height in px (style.css .lv .r)
const MAXH = 8e6; // tallest scroll area; beyond it the scrollbar maps to line numbers
const PAGE = 2000; // lines per page read while scrolling
const NEAR = 4000; // a gap this small is read page by page from a neighbour; a larger one by time
const KEEP = 300000; // lines kept in memory; farther segments are dropped

/** Compares two cursors "<ns>-<lsn>" (numbers beyond 2^53: compared as digit strings). */
export function cmpCursor(a, b) {
  const [at, al] = a.split('-');
  const [bt, bl] = b.split('-');
  if (at !== bt) return at.length !== bt.length ? at.length - bt.length : at < bt ? -1 : 1;
  return Number(al) - Number(bl);
}
const cursorMs = (c) => Math.floor(Number(c.split('-')[0]) / 1e6);

export class LogView {
  constructor(box, sel, opts = {}) {
    this.sel = sel;
    this.opts = opts;
    this.total = 0;
    this.first = null; // ms of the first and last line (stream statistics)
    this.last = null;
    this.segs = []; // [{start, lines}] sorted by start, disjoint
    this.ts = localStorage.getItem('logstore-ts') !== '0';
    this.wrap = localStorage.getItem('logstore-wrap') === '1';
    this.follow = false;
    this.stick = false;
    this.unseen = 0;
    this.busy = false;
    this.selected = opts.at || null;
    this.controller = new AbortController();
    this.tailAfter = null;
    this.shownComplete = false;
    this.el = html(`<div class="lv${opts.embedded ? ' embedded' : ''}">
      <div class="tools">
        <button data-act="follow" title="Follow new lines live (f)">▶ Follow</button>
        <label><input type="checkbox" data-act="ts"> Timestamps</label>
        <label><input type="checkbox" data-act="wrap"> Wrap</label>
        <button data-act="top" title="First line (g)">⤒ Top</button>
        <button data-act="bottom" title="Last line (G)">⤓ End</button>
        <form class="jump"><input type="datetime-local" step="1" aria-label="Jump to time" title="Jump to a time"><button>Go</button></form>
        <button data-act="download" title="Download as text">⇩ Download</button>
        <span class="status muted"></span>
      </div>
      <div class="scroller" tabindex="0"><div class="rows"></div><div class="spacer"></div></div>
      <button class="newlines" hidden></button>
    </div>`);
    box.append(this.el);
    this.scroller = this.el.querySelector('.scroller');
    this.rows = this.el.querySelector('.rows');
    this.spacer = this.el.querySelector('.spacer');
    this.status = this.el.querySelector('.status');
    this.newlines = this.el.querySelector('.newlines');
    this.el.querySelector('[data-act=ts]').checked = this.ts;
    this.el.querySelector('[data-act=wrap]').checked = this.wrap;
    this.el.classList.toggle('wrap', this.wrap);
    this.el.classList.toggle('nots', !this.ts);
    this.el.addEventListener('click', (e) => this.click(e));
    this.el.addEventListener('change', (e) => {
      const act = e.target.dataset.act;
      if (act === 'ts') this.setTs(e.target.checked);
      if (act === 'wrap') this.setWrap(e.target.checked);
    });
    this.el.querySelector('.jump').onsubmit = (e) => {
      e.preventDefault();
      const v = e.target.querySelector('input').value;
      if (v) this.seekTime(new Date(v).getTime());
    };
    this.scroller.addEventListener('scroll', () => this.scrolled(), { passive: true });
    this.resize = new ResizeObserver(() => this.layout());
    this.resize.observe(this.scroller);
    this.start();
  }

  destroy() {
    this.dead = true;
    this.follow = false;
    this.controller.abort();
    this.resize.disconnect();
  }

  get signal() { return this.controller.signal; }

  async start() {
    const params = selParams(this.sel);
    // Three reads at once: the statistics (line count, times), the first page (or the shared
    // line), and the tail's current LSN (where following will start).
    const stats = api('v1/streams', params, { signal: this.signal }).then((r) => {
      const mine = r.streams.filter((s) => ['index', 'workflow', 'job'].every((k) => this.sel[k] === undefined || s[k] === this.sel[k]));
      this.total = Math.max(this.total, mine.reduce((n, s) => n + s.lines, 0));
      this.first = Math.min(...mine.map((s) => ms(s.first) ?? Infinity));
      this.last = Math.max(...mine.map((s) => ms(s.last) ?? -Infinity));
      this.statsKnown = true;
    });
    const tail = api('v1/tail', { ...params, wait: 0 }, { signal: this.signal }).then((r) => { this.tailAfter ??= r.next; }).catch(() => {});
    try {
      if (this.selected) {
        await stats;
        await this.seekCursor(this.selected);
      } else if (this.opts.end) {
        await stats;
        this.goBottom();
      } else {
        const first = await api('v1/logs', { ...params, limit: 200 }, { signal: this.signal });
        if (this.dead) return;
        this.insert(0, first.lines);
        if (!first.next) this.total = first.lines.length;
        this.render();
        await stats;
        if (!first.next) this.total = first.lines.length;
      }
      await tail;
      this.layout();
      if (this.opts.follow) this.setFollow(true);
    } catch (e) {
      if (e.name !== 'AbortError') this.status.textContent = e.message;
    }
  }

  // ---- data ----

  seg(i) {
    let lo = 0;
    let hi = this.segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segs[mid];
      if (i < s.start) hi = mid - 1;
      else if (i >= s.start + s.lines.length) lo = mid + 1;
      else return s;
    }
    return null;
  }
  line(i) {
    const s = this.seg(i);
    return s ? s.lines[i - s.start] : undefined;
  }

  /** Puts lines[0] at index `start`; newer data replaces what it overlaps; neighbours merge. */
  insert(start, lines) {
    if (!lines.length) return;
    const end = start + lines.length;
    const out = [];
    for (const s of this.segs) {
      const se = s.start + s.lines.length;
      if (se <= start || s.start >= end) { out.push(s); continue; }
      if (s.start < start) out.push({ start: s.start, lines: s.lines.slice(0, start - s.start) });
      if (se > end) out.push({ start: end, lines: s.lines.slice(end - s.start) });
    }
    out.push({ start, lines });
    out.sort((a, b) => a.start - b.start);
    const merged = [];
    for (const s of out) {
      const p = merged[merged.length - 1];
      if (p && p.start + p.lines.length === s.start) p.lines = p.lines.concat(s.lines);
      else merged.push({ start: s.start, lines: s.lines });
    }
    this.segs = merged;
    this.total = Math.max(this.total, end);
    this.trim();
  }

  /** Drops the segments farthest from the view when too many lines are held. */
  trim() {
    let held = this.segs.reduce((n, s) => n + s.lines.length, 0);
    if (held <= KEEP) return;
    const here = this.position().first;
    const far = [...this.segs].sort((a, b) => Math.abs(b.start - here) - Math.abs(a.start - here));
    for (const s of far) {
      if (held <= KEEP) break;
      if (here >= s.start && here < s.start + s.lines.length) continue;
      this.segs.splice(this.segs.indexOf(s), 1);
      held -= s.lines.length;
    }
  }

  /** How many lines come before time `t` (ms): the line number of the first line at or after it. */
  async countBefore(t) {
    const r = await api('v1/hits', { q: selQuery(this.sel), to: t, step: '3650d' }, { signal: this.signal });
    return r.total;
  }

  /** Reads what index range [a, b) lacks, one read at a time; render() asks again after. */
  async ensure(a, b) {
    a = Math.max(0, a);
    b = Math.min(this.total, b);
    if (this.busy || a >= b) return;
    let m = a;
    while (m < b && this.line(m) !== undefined) {
      const s = this.seg(m);
      m = s.start + s.lines.length;
    }
    if (m >= b) return;
    const prev = [...this.segs].reverse().find((s) => s.start + s.lines.length <= m);
    const next = this.segs.find((s) => s.start > m);
    const e = Math.min(b, next ? next.start : this.total);
    const params = selParams(this.sel);
    this.busy = true;
    try {
      if (prev && m - (prev.start + prev.lines.length) <= NEAR) {
        const from = prev.start + prev.lines.length;
        const r = await api('v1/logs', { ...params, after: prev.lines[prev.lines.length - 1].cursor, limit: Math.min(10000, Math.max(PAGE, e - from + 200)) }, { signal: this.signal });
        this.insert(from, r.lines);
        if (!r.next) this.total = from + r.lines.length;
      } else if (next && next.start - m <= NEAR + (e - m)) {
        const limit = Math.min(10000, Math.max(PAGE, next.start - m + 200));
        const r = await api('v1/logs', { ...params, after: next.lines[0].cursor, order: 'desc', limit }, { signal: this.signal });
        const lines = r.lines.reverse();
        if (!r.next && next.start !== lines.length) {
          // The beginning was reached: the counts were off (lines arrived meanwhile); renumber.
          const shift = lines.length - next.start;
          for (const s of this.segs) s.start += shift;
          this.total += shift;
        }
        this.insert(next.start - lines.length, lines);
      } else if (m <= NEAR) {
        const r = await api('v1/logs', { ...params, limit: Math.min(10000, Math.max(PAGE, e + 200)) }, { signal: this.signal });
        this.insert(0, r.lines);
        if (!r.next) this.total = r.lines.length;
      } else if (this.total - m <= NEAR) {
        await this.readEnd(this.total - m + 200);
      } else {
        await this.seekIndex(m);
      }
    } catch (err) {
      if (err.name !== 'AbortError') { this.status.textContent = err.message; await sleep(1000); }
    } finally {
      this.busy = false;
    }
    if (!this.dead) this.render();
  }

  /** Reads the last `limit` lines and places them at the end. */
  async readEnd(limit) {
    const r = await api('v1/logs', { ...selParams(this.sel), order: 'desc', limit: Math.min(10000, Math.max(limit, 200)) }, { signal: this.signal });
    const lines = r.lines.reverse();
    if (!r.next) this.total = lines.length;
    this.insert(this.total - lines.length, lines);
  }

  /** Finds the lines around index m by time: interpolate a time, count the lines before it. */
  async seekIndex(m) {
    const anchors = [{ i: 0, t: this.first }, { i: this.total, t: this.last + 1 }];
    for (const s of this.segs) {
      anchors.push({ i: s.start, t: cursorMs(s.lines[0].cursor) });
      anchors.push({ i: s.start + s.lines.length, t: cursorMs(s.lines[s.lines.length - 1].cursor) + 1 });
    }
    let t = this.first;
    let c = 0;
    for (let round = 0; round < 4; round++) {
      anchors.sort((x, y) => x.i - y.i || x.t - y.t);
      let lo = anchors[0];
      let hi = anchors[anchors.length - 1];
      for (const a of anchors) {
        if (a.i <= m && a.t >= lo.t) lo = a;
        if (a.i >= m && a.t <= hi.t) { hi = a; break; }
      }
      t = hi.i === lo.i ? lo.t : Math.floor(lo.t + ((m - lo.i) / (hi.i - lo.i)) * (hi.t - lo.t));
      c = await this.countBefore(t);
      if (Math.abs(c - m) <= PAGE / 2 || hi.t - lo.t <= 1) break;
      anchors.push({ i: c, t });
    }
    await this.readAt(t, c);
    return c;
  }

  /** Reads a page from time t (ms), whose first line is number c, and a few lines before it. */
  async readAt(t, c) {
    const params = selParams(this.sel);
    const at = `${BigInt(t) * 1000000n}-0`;
    const [after, before] = await Promise.all([
      api('v1/logs', { ...params, after: at, limit: PAGE }, { signal: this.signal }),
      c > 0 ? api('v1/logs', { ...params, after: at, order: 'desc', limit: 200 }, { signal: this.signal }) : { lines: [] },
    ]);
    const lines = before.lines.reverse();
    this.insert(c - lines.length, lines.concat(after.lines));
    if (!after.next) this.total = c + after.lines.length;
    return after.lines;
  }

  /** Shows the line with this cursor (a shared link or a search result) in the middle. */
  async seekCursor(cursor) {
    const t = cursorMs(cursor);
    const c = await this.countBefore(t);
    const lines = await this.readAt(t, c);
    const j = lines.findIndex((l) => l.cursor === cursor);
    this.scrollToLine(c + Math.max(j, 0) - Math.floor(this.visibleRows() / 2));
    if (j < 0) this.status.textContent = 'That line is not in this log any more; showing its time.';
  }

  async seekTime(t) {
    try {
      const c = await this.countBefore(t);
      await this.readAt(t, c);
      this.setFollow(false);
      this.scrollToLine(c);
    } catch (e) {
      if (e.name !== 'AbortError') this.status.textContent = e.message;
    }
  }

  // ---- geometry and rendering ----

  visibleRows() { return Math.max(1, Math.floor(this.scroller.clientHeight / LH)); }
  height() {
    const vh = this.scroller.clientHeight;
    return { vh, H: Math.max(vh, Math.min(this.total * LH, MAXH)) };
  }
  /** Sizes the sticky rows layer and the spacer for the current line count. */
  size() {
    const { vh, H } = this.height();
    const rows = `${vh}px`;
    const spacer = `${H - vh}px`;
    if (this.rows.style.height !== rows) this.rows.style.height = rows;
    if (this.spacer.style.height !== spacer) this.spacer.style.height = spacer;
  }
  layout() {
    this.size();
    this.render();
  }
  position() {
    const { vh, H } = this.height();
    const maxScroll = H - vh;
    const maxLine = Math.max(0, this.total - vh / LH);
    const pos = maxScroll > 0 ? (this.scroller.scrollTop / maxScroll) * maxLine : 0;
    return { first: Math.floor(pos), off: (pos - Math.floor(pos)) * LH, atBottom: this.scroller.scrollTop >= maxScroll - 2 };
  }
  scrollToLine(i) {
    const { vh, H } = this.height();
    const maxLine = Math.max(0, this.total - vh / LH);
    this.size();
    this.scroller.scrollTop = maxLine > 0 ? (Math.max(0, Math.min(i, maxLine)) / maxLine) * (H - vh) : 0;
    this.render();
  }
  goTop() { this.setFollow(false); this.scrollToLine(0); }
  goBottom() {
    this.size();
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.render();
  }

  scrolled() {
    // Following sticks to the bottom until the reader scrolls up, and again once back there.
    if (this.follow) this.stick = this.position().atBottom;
    if (this.stick || this.position().atBottom) { this.unseen = 0; this.newlines.hidden = true; }
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  rowHtml(i, l) {
    const n = `<a class="n" href="${esc(link('log', { ...selParams(this.sel), at: l ? l.cursor : undefined }))}" data-i="${i}">${i + 1}</a>`;
    if (!l) return `<div class="r pending">${n}<span class="t"></span><span class="m">…</span></div>`;
    l.t ??= fmtTime(l.timestamp);
    l.h ??= ansiToHtml(l.log.endsWith('\n') ? l.log.slice(0, -1) : l.log);
    return `<div class="r${l.cursor === this.selected ? ' sel' : ''}">${n}<span class="t">${l.t}</span><span class="m">${l.h}</span></div>`;
  }

  render() {
    if (this.dead) return;
    this.size();
    const rows = this.visibleRows() + 2;
    let { first, off, atBottom } = this.position();
    const bottomUp = atBottom && this.total > rows - 2;
    if (bottomUp) { first = Math.max(0, this.total - rows); off = 0; }
    const end = Math.min(this.total, first + rows);
    let out = '';
    let complete = true;
    for (let i = first; i < end; i++) {
      const l = this.line(i);
      if (!l) complete = false;
      out += this.rowHtml(i, l);
    }
    this.rows.innerHTML = `<div class="in">${out || (this.statsKnown && !this.total ? '<div class="r empty"><span class="m muted">No lines.</span></div>' : '')}</div>`;
    const inner = this.rows.firstElementChild;
    // At the end, the last line sits on the bottom edge (wrapped rows are taller than LH).
    const shift = bottomUp ? Math.min(0, this.scroller.clientHeight - inner.offsetHeight) : -off;
    inner.style.transform = `translateY(${shift}px)`;
    this.rows.dataset.first = first;
    this.rows.dataset.last = end - 1;
    this.rows.dataset.total = this.total;
    this.rows.dataset.complete = complete ? '1' : '0';
    if (complete && end > first && !this.shownComplete) {
      this.shownComplete = true;
      performance.mark('logstore:first-lines');
    }
    if (complete) window.dispatchEvent(new CustomEvent('logstore:rendered', { detail: { first, last: end - 1, total: this.total } }));
    this.status.textContent = this.total
      ? `${num(first + 1)}–${num(end)} of ${num(this.total)} lines${this.follow ? ' · following' : ''}${complete ? '' : ' · loading…'}`
      : this.statsKnown ? '0 lines' : 'loading…';
    if (!complete) this.ensure(first - 100, end + 100);
    else if (first > 0 && !this.line(first - 50)) this.ensure(first - PAGE, first);
    else if (end < this.total && !this.line(Math.min(this.total - 1, end + 50))) this.ensure(end, end + PAGE);
  }

  // ---- controls ----

  click(e) {
    const act = e.target.closest('[data-act]')?.dataset.act;
    if (e.target.classList.contains('n')) {
      e.preventDefault();
      const l = this.line(Number(e.target.dataset.i));
      if (!l) return;
      this.selected = l.cursor;
      if (!this.opts.embedded) replaceHash(e.target.getAttribute('href'));
      else location.hash = e.target.getAttribute('href');
      this.render();
      return;
    }
    if (e.target === this.newlines) { this.stick = true; this.goBottom(); return; }
    if (act === 'follow') this.setFollow(!this.follow);
    if (act === 'top') this.goTop();
    if (act === 'bottom') this.goBottom();
    if (act === 'download') this.download();
  }

  onKey(k) {
    if (k === 'f') this.setFollow(!this.follow);
    else if (k === 'g') this.goTop();
    else if (k === 'G') this.goBottom();
    else if (k === 't') this.setTs(!this.ts);
    else if (k === 'w') this.setWrap(!this.wrap);
    else return false;
    return true;
  }

  setTs(on) {
    this.ts = on;
    localStorage.setItem('logstore-ts', on ? '1' : '0');
    this.el.querySelector('[data-act=ts]').checked = on;
    this.el.classList.toggle('nots', !on);
  }
  setWrap(on) {
    this.wrap = on;
    localStorage.setItem('logstore-wrap', on ? '1' : '0');
    this.el.querySelector('[data-act=wrap]').checked = on;
    this.el.classList.toggle('wrap', on);
    this.render();
  }

  setFollow(on) {
    if (on === this.follow) return;
    this.follow = on;
    const button = this.el.querySelector('[data-act=follow]');
    button.classList.toggle('on', on);
    button.textContent = on ? '❚❚ Following' : '▶ Follow';
    if (!on) { this.stick = false; this.render(); return; }
    this.stick = true;
    this.goBottom();
    this.followLoop();
  }

  /** Long-polls /v1/tail from the last LSN seen; after an error, asks again from the same LSN. */
  async followLoop() {
    if (this.following) return;
    this.following = true;
    let backoff = 200;
    while (this.follow && !this.dead) {
      try {
        const params = { ...selParams(this.sel), wait: 20, limit: 5000 };
        if (this.tailAfter == null) params.tail = 0; else params.after = this.tailAfter;
        const r = await api('v1/tail', params, { signal: this.signal });
        if (!this.follow) break;
        this.tailAfter = r.next;
        this.append(r.lines);
        backoff = 200;
      } catch (e) {
        if (e.name === 'AbortError' || this.dead) break;
        this.status.textContent = `reconnecting: ${e.message}`;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
    this.following = false;
  }

  /** New lines from the tail, put in log order into the loaded end of the log. */
  append(lines) {
    if (!lines.length) return;
    const endSeg = this.segs.find((s) => s.start + s.lines.length === this.total);
    const seen = new Set(endSeg ? endSeg.lines.slice(-20000).map((l) => l.lsn) : []);
    lines.sort((a, b) => cmpCursor(a.cursor, b.cursor));
    let added = 0;
    for (const l of lines) {
      if (seen.has(l.lsn)) continue;
      added++;
      this.total++;
      if (!endSeg) continue;
      let k = endSeg.lines.length;
      while (k > 0 && cmpCursor(endSeg.lines[k - 1].cursor, l.cursor) > 0) k--;
      if (k === 0 && endSeg.lines.length) endSeg.start++;
      else endSeg.lines.splice(k, 0, l);
    }
    if (!added) return;
    if (this.stick) {
      this.goBottom();
    } else {
      this.unseen += added;
      this.newlines.textContent = `↓ ${num(this.unseen)} new line${this.unseen === 1 ? '' : 's'}`;
      this.newlines.hidden = false;
      this.layout();
    }
  }

  /** Saves the whole log as a text file, read page by page. */
  async download() {
    const parts = [];
    let after;
    let n = 0;
    try {
      for (;;) {
        const r = await api('v1/logs', { ...selParams(this.sel), after, limit: 20000 }, { signal: this.signal });
        for (const l of r.lines) parts.push(l.log.endsWith('\n') ? l.log : l.log + '\n');
        n += r.lines.length;
        this.status.textContent = `downloading: ${num(n)} lines`;
        if (!r.next) break;
        after = r.next;
      }
    } catch (e) {
      if (e.name !== 'AbortError') this.status.textContent = e.message;
      return;
    }
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob(parts, { type: 'text/plain' }));
    a.download = `${(this.sel.job || this.sel.workflow || this.sel.index || 'log').replace(/[^\w.-]+/g, '_')}.log`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    this.render();
  }
}

/** The #/log page: one stream's log, full height. */
export function mount(main, params) {
  const sel = {};
  for (const k of ['index', 'workflow', 'job']) if (params[k] !== undefined) sel[k] = params[k];
  const title = sel.job ? sel.job : 'workflow engine log';
  const page = html(`<section class="page logpage">
    <div class="bar"><h2><a href="#/workflows">Workflows</a>${sel.workflow !== undefined ? ` › <a href="${esc(link('workflow', { id: sel.workflow }))}">${esc(workflowName(sel.workflow))}</a>` : ''} › <span class="jid">${esc(title)}</span></h2>
    <a class="muted raw" href="${esc(url('v1/logs', { ...sel, format: 'text', limit: 100000 }))}" target="_blank" rel="noopener">raw</a></div>
  </section>`);
  main.append(page);
  const view = new LogView(page, sel, { at: params.at, follow: params.follow === '1', end: params.end === '1' });
  view.scroller.focus();
  return { unmount: () => view.destroy(), onKey: (k) => view.onKey(k) };
}
