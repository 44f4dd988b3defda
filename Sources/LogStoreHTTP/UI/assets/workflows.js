// The first page: workflows, most recently active first, with a filter box.
import { api } from './api.js';
import { html, esc, link, num, ms, ago, fmtTime, debounce, replaceHash } from './util.js';

export const workflowName = (w) => (w === '' ? '(jobs without a workflow id)' : w);

export function mount(main, params) {
  const page = html(`<section class="page">
    <div class="bar">
      <h2>Workflows</h2>
      <input type="search" class="filter" placeholder="Filter by workflow id or job name" aria-label="Filter" value="${esc(params.filter || '')}">
      <span class="muted count"></span>
    </div>
    <div class="tablewrap"><table class="list workflows">
      <thead><tr><th>Workflow</th><th class="num">Jobs</th><th class="num">Lines</th><th class="when">First line</th><th>Last line</th></tr></thead>
      <tbody></tbody>
    </table></div>
  </section>`);
  main.append(page);
  const input = page.querySelector('.filter');
  const body = page.querySelector('tbody');
  const count = page.querySelector('.count');
  let controller = null;

  async function load() {
    controller?.abort();
    controller = new AbortController();
    const filter = input.value.trim();
    replaceHash(link('workflows', filter ? { filter } : {}));
    try {
      const r = await api('v1/workflows', { filter: filter || undefined, limit: 500 }, { signal: controller.signal });
      body.innerHTML = r.workflows.map((w) => `<tr>
        <td class="id"><a href="${esc(link('workflow', { id: w.workflow }))}">${esc(workflowName(w.workflow))}</a></td>
        <td class="num">${num(w.jobs)}</td>
        <td class="num">${num(w.lines)}</td>
        <td class="when" title="${esc(fmtTime(w.first))}">${esc(fmtTime(w.first))}</td>
        <td title="${esc(fmtTime(w.last))}">${esc(ago(ms(w.last)))}</td></tr>`).join('')
        || `<tr><td colspan="5" class="muted">${filter ? 'No workflow matches.' : 'No logs stored yet.'}</td></tr>`;
      count.textContent = r.total > r.workflows.length ? `${num(r.workflows.length)} of ${num(r.total)}` : `${num(r.total)} workflow${r.total === 1 ? '' : 's'}`;
    } catch (e) {
      if (e.name !== 'AbortError') count.textContent = e.message;
    }
  }
  input.addEventListener('input', debounce(load, 200));
  input.setAttribute('data-search-box', '');
  load();
  return { unmount: () => controller?.abort() };
}
