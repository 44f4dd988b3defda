// One workflow: its jobs (streams) with their line counts and last line time, and the workflow
// engine's own log (the workflow's streams without a job name) shown below.
import { api } from './api.js';
import { html, esc, link, num, ms, ago, fmtTime } from './util.js';
import { workflowName } from './workflows.js';
import { LogView } from './logview.js';

export function mount(main, params) {
  const id = params.id ?? '';
  const page = html(`<section class="page">
    <div class="bar"><h2><a href="#/workflows">Workflows</a> › <span class="wid">${esc(workflowName(id))}</span></h2>
      <span class="muted count"></span>
      <a class="button" href="${esc(link('search', { q: id ? `workflow:"${id}"` : 'workflow:""' }))}">Search this workflow</a></div>
    <div class="tablewrap"><table class="list jobs">
      <thead><tr><th>Job</th><th class="idx">Index</th><th class="num">Lines</th><th class="when">First line</th><th>Last line</th></tr></thead>
      <tbody></tbody>
    </table></div>
    <h3 class="engine-title">Workflow engine log</h3>
    <div class="engine"></div>
  </section>`);
  main.append(page);
  let view = null;
  const controller = new AbortController();
  (async () => {
    try {
      const r = await api('v1/streams', { workflow: id }, { signal: controller.signal });
      const streams = r.streams.filter((s) => s.workflow === id);
      const jobs = streams.filter((s) => s.job !== '').sort((a, b) => (ms(a.first) ?? 0) - (ms(b.first) ?? 0));
      const engine = streams.filter((s) => s.job === '');
      page.querySelector('.count').textContent = `${num(jobs.length)} job${jobs.length === 1 ? '' : 's'}, ${num(streams.reduce((n, s) => n + s.lines, 0))} lines`;
      page.querySelector('tbody').innerHTML = jobs.map((s) => `<tr>
        <td class="id"><a href="${esc(link('log', { index: s.index, workflow: s.workflow, job: s.job }))}">${esc(s.job)}</a></td>
        <td class="idx">${esc(s.index)}</td>
        <td class="num">${num(s.lines)}</td>
        <td class="when">${esc(fmtTime(s.first))}</td>
        <td title="${esc(fmtTime(s.last))}">${esc(fmtTime(s.last))} <span class="muted">(${esc(ago(ms(s.last)))})</span></td></tr>`).join('')
        || '<tr><td colspan="5" class="muted">No job logs.</td></tr>';
      const box = page.querySelector('.engine');
      if (!engine.length) {
        box.innerHTML = '<p class="muted">No engine log for this workflow.</p>';
      } else {
        // One engine stream per index (REANA: fluentbit-workflow_log); shown one after the other.
        const s = engine[0];
        view = new LogView(box, { index: s.index, workflow: s.workflow, job: '' }, { embedded: true });
        if (engine.length > 1) box.insertAdjacentHTML('beforeend', engine.slice(1).map((e) =>
          `<p><a href="${esc(link('log', { index: e.index, workflow: e.workflow, job: '' }))}">Engine log in ${esc(e.index)}</a></p>`).join(''));
      }
    } catch (e) {
      if (e.name !== 'AbortError') page.querySelector('.count').textContent = e.message;
    }
  })();
  return { unmount: () => { controller.abort(); view?.destroy(); }, onKey: (k) => view?.onKey(k) };
}
