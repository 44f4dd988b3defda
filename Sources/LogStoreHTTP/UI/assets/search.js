// Search: the native query language, a time range (relative or absolute), the matches over time
// (/v1/hits, drag to zoom) and the matching lines newest first (/v1/search), each opening its
// job's log at that line.
import { api } from './api.js';
import { html, esc, link, num, ms, fmtTime, toLocalInput, parseDuration, replaceHash } from './util.js';
import { ansiToHtml } from './ansi.js';
import { positives, highlighter } from './query.js';
import { histogram, chooseStep, stepText } from './histogram.js';
import { workflowName } from './workflows.js';

const RANGES = [['15m', 'Last 15 minutes'], ['1h', 'Last hour'], ['6h', 'Last 6 hours'], ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['all', 'All time'], ['abs', 'Between…']];

export function mount(main, params) {
  const page = html(`<section class="page search">
    <form class="query">
      <input type="search" name="q" class="q" placeholder='error -debug job:"reana-run-job-…" "connection refused"' aria-label="Query" autocomplete="off" spellcheck="false">
      <select name="range" aria-label="Time range">${RANGES.map(([v, t]) => `<option value="${v}">${t}</option>`).join('')}</select>
      <span class="abs"><input type="datetime-local" step="1" name="from" aria-label="From"> – <input type="datetime-local" step="1" name="to" aria-label="To"></span>
      <button type="submit">Search</button>
      <a class="muted help" href="#" data-help>syntax</a>
    </form>
    <div class="syntax muted" hidden>Words match whole tokens, case-insensitive: <code>error</code>, prefix <code>err*</code>, phrase <code>"connection refused"</code>, not <code>-debug</code>, <code>a OR b</code>, fields <code>workflow:ID</code> <code>job:NAME</code> <code>index:NAME</code>.</div>
    <div class="summary"><span class="count"></span> <span class="muted range"></span></div>
    <div class="chart"></div>
    <ol class="results"></ol>
    <button class="more" hidden>More</button>
  </section>`);
  main.append(page);
  const form = page.querySelector('form');
  const box = form.q;
  box.setAttribute('data-search-box', '');
  box.value = params.q || '';
  form.range.value = params.from || params.to ? 'abs' : params.range || '24h';
  if (params.from) form.from.value = toLocalInput(Number(params.from));
  if (params.to) form.to.value = toLocalInput(Number(params.to));
  const showAbs = () => page.querySelector('.abs').classList.toggle('on', form.range.value === 'abs');
  showAbs();
  form.range.onchange = () => {
    showAbs();
    if (form.range.value === 'abs' && !form.from.value) {
      form.from.value = toLocalInput(Date.now() - 864e5);
      form.to.value = toLocalInput(Date.now());
    }
  };
  page.querySelector('[data-help]').onclick = (e) => { e.preventDefault(); page.querySelector('.syntax').hidden ^= true; };
  const controller = new AbortController();
  const results = page.querySelector('.results');
  const more = page.querySelector('.more');
  let next = null;
  let current = null;

  function state() {
    const s = { q: box.value.trim() };
    if (form.range.value === 'abs') {
      s.from = form.from.value ? new Date(form.from.value).getTime() : undefined;
      s.to = form.to.value ? new Date(form.to.value).getTime() + 999 : undefined;
    } else s.range = form.range.value;
    return s;
  }

  async function bounds(s) {
    if (s.range === 'all') {
      const r = await api('v1/workflows', { limit: 1 }, { signal: controller.signal });
      const first = ms(r.first) ?? Date.now() - 36e5;
      const last = ms(r.last) ?? Date.now();
      return [first, Math.max(last + 1, first + 1000)];
    }
    if (s.range) { const now = Date.now(); return [now - parseDuration(s.range), now]; }
    return [s.from ?? 0, s.to ?? Date.now()];
  }

  async function run(pushState = true) {
    const s = state();
    if (pushState) replaceHash(link('search', s));
    const count = page.querySelector('.count');
    count.textContent = 'searching…';
    results.innerHTML = '';
    more.hidden = true;
    try {
      const [from, to] = await bounds(s);
      const step = chooseStep(from, to);
      current = { q: s.q, from, to, step, words: positives(s.q) };
      page.dataset.from = from;
      page.dataset.to = to;
      page.dataset.step = stepText(step);
      page.querySelector('.range').textContent = `${fmtTime(from)} – ${fmtTime(to)}`;
      const hits = api('v1/hits', { q: s.q, from, to, step: stepText(step) }, { signal: controller.signal });
      const lines = api('v1/search', { q: s.q, from, to, limit: 100 }, { signal: controller.signal });
      const h = await hits;
      count.textContent = `${num(h.total)} matching line${h.total === 1 ? '' : 's'}`;
      count.dataset.total = h.total;
      histogram(page.querySelector('.chart'), { buckets: h.buckets.map((b) => ({ start: ms(b.start), count: b.count })), step, from, to, total: h.total }, (a, b) => {
        form.range.value = 'abs';
        form.from.value = toLocalInput(a);
        form.to.value = toLocalInput(b);
        showAbs();
        s.from = a; s.to = b; delete s.range;
        replaceHash(link('search', { q: s.q, from: a, to: b }));
        run(false);
      });
      show(await lines);
    } catch (e) {
      if (e.name !== 'AbortError') count.textContent = e.message;
    }
  }

  function show(r) {
    const mark = highlighter(current.words);
    results.insertAdjacentHTML('beforeend', r.lines.map((l) => {
      const sel = { index: l.index, workflow: l.workflow, job: l.job, at: l.cursor };
      const where = l.job || `${workflowName(l.workflow)} (engine)`;
      const text = l.log.endsWith('\n') ? l.log.slice(0, -1) : l.log;
      return `<li data-lsn="${l.lsn}"><a class="hit" href="${esc(link('log', sel))}">
        <span class="t">${esc(fmtTime(l.timestamp))}</span><span class="src" title="${esc(l.index)}">${esc(where)}</span>
        <span class="m">${ansiToHtml(text, mark)}</span></a></li>`;
    }).join(''));
    next = r.next;
    more.hidden = next == null;
    if (!results.children.length) results.innerHTML = '<li class="muted">No line matches.</li>';
  }

  more.onclick = async () => {
    more.hidden = true;
    try {
      show(await api('v1/search', { q: current.q, from: current.from, to: current.to, limit: 100, cursor: next }, { signal: controller.signal }));
    } catch (e) {
      if (e.name !== 'AbortError') page.querySelector('.count').textContent = e.message;
    }
  };
  form.onsubmit = (e) => { e.preventDefault(); run(); };
  if (params.focus) box.focus();
  if (params.q !== undefined || params.range || params.from) run(false);
  else box.focus();
  return { unmount: () => controller.abort() };
}
