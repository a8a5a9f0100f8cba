// The job views: the list (filters, parameter search, selection and bulk actions,
// live progress) and one job's page (info, log, data, and its actions).
'use strict';

const JobViews = (() => {
  const { h } = Ui;
  const STATUSES = ['queued', 'running', 'waiting', 'done', 'failed', 'cancelled'];
  const FINISHED = ['done', 'failed', 'cancelled'];
  // A browser keeps about six connections to one server: streams take a few of them,
  // and the list's refresh keeps the rest of the bars current.
  const MAX_STREAMS = 3;
  const REFRESH_MS = 2000;

  function shortUuid(uuid) {
    return uuid.slice(0, 8);
  }

  function labelled(label, control) {
    const id = Ui.uniqueId('filter');
    control.id = id;
    return h('div', {}, h('label', { for: id }, label), control);
  }

  function select(options, current, emptyLabel) {
    const element = h('select', {}, h('option', { value: '' }, emptyLabel));
    for (const option of options) {
      element.append(h('option', { value: option, selected: option === current }, option));
    }
    return element;
  }

  /** `GET /jobs` with the page's filters, from the URL's query so that a view can be
   * bookmarked. */
  async function list(view, context) {
    const query = new URLSearchParams(location.search);
    const [discovery, queues] = await Promise.all([context.discovery(), Api.get('/queues')]);
    const status = select(STATUSES, query.get('status'), 'any status');
    const jobType = select(discovery.jobTypes.map((type) => type.jobType), query.get('jobType'), 'any type');
    const queue = select(queues.queues.map((entry) => entry.name), query.get('queue'), 'any queue');
    const search = h('input', {
      type: 'text', value: query.get('search') || '', placeholder: '{"delay": 5}', size: 28,
      class: 'mono',
    });
    const searchHelp = h('p', { class: 'help muted', id: Ui.uniqueId('search-help') },
      'Parameter search: a JSON object that the jobs\u2019 parameters contain.');
    search.setAttribute('aria-describedby', searchHelp.id);
    const searchError = h('p', { class: 'error-text', role: 'alert' });
    const apply = h('button', { type: 'submit' }, 'Apply filters');
    const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter jobs' },
      labelled('Status', status), labelled('Job type', jobType), labelled('Queue', queue),
      labelled('Parameters', search), apply);

    const selectAll = h('input', { type: 'checkbox', 'aria-label': 'Select every job on this page' });
    const body = h('tbody');
    const table = h('table', {},
      h('caption', { class: 'visually-hidden' }, 'Jobs, newest first'),
      h('thead', {}, h('tr', {},
        Api.settings.readOnly ? null : h('th', { scope: 'col' }, selectAll),
        h('th', { scope: 'col' }, 'Job'), h('th', { scope: 'col' }, 'Type'),
        h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Progress'),
        h('th', { scope: 'col' }, 'Result'), h('th', { scope: 'col' }, 'Created'),
        h('th', { scope: 'col' }, 'Updated'))),
      body);
    const cancelSelected = h('button', { type: 'button', class: 'secondary' }, 'Cancel selected');
    const retrySelected = h('button', { type: 'button', class: 'secondary' }, 'Retry selected');
    const deleteSelected = h('button', { type: 'button', class: 'danger' }, 'Delete selected');
    const bulk = Api.settings.readOnly ? null : h('div', { class: 'actions', role: 'group', 'aria-label': 'Selected jobs' },
      cancelSelected, retrySelected, deleteSelected, h('span', { class: 'muted', id: 'selected-count' }, 'No job selected'));
    const firstPage = h('button', { type: 'button', class: 'secondary' }, 'First page');
    const nextPage = h('button', { type: 'button', class: 'secondary' }, 'Next page');
    const pageInfo = h('span', { class: 'muted' });
    const pager = h('div', { class: 'actions' }, firstPage, nextPage, pageInfo);
    view.append(filters, searchHelp, searchError, bulk, table, pager);

    let cursor = query.get('after') || '';
    let next = null;
    const rows = new Map();
    const streams = new Map();

    function filterQuery() {
      const out = new URLSearchParams();
      if (status.value) out.set('status', status.value);
      if (jobType.value) out.set('jobType', jobType.value);
      if (queue.value) out.set('queue', queue.value);
      if (search.value.trim()) out.set('search', search.value.trim());
      return out;
    }

    function selected() {
      return [...rows.values()].filter((row) => row.check && row.check.checked).map((row) => row.job);
    }

    function updateSelection() {
      if (!bulk) {
        return;
      }
      const count = selected().length;
      document.getElementById('selected-count').textContent = count ? `${count} selected` : 'No job selected';
      selectAll.checked = count > 0 && count === rows.size;
    }

    function row(job) {
      const check = Api.settings.readOnly ? null : h('input', {
        type: 'checkbox', 'aria-label': `Select job ${job.uuid}`, onchange: updateSelection,
      });
      const bar = Ui.progressBar(job.completeness, `Progress of job ${shortUuid(job.uuid)}`);
      const statusCell = h('td', {}, Ui.statusBadge(job.status));
      const resultCell = h('td', { class: 'num' }, job.resultCode < 0 ? '–' : job.resultCode);
      const updatedCell = h('td', {}, Ui.time(job.updatedAt));
      const element = h('tr', { 'data-uuid': job.uuid },
        check ? h('td', {}, check) : null,
        h('td', {}, h('a', { href: Api.page(`/jobs/${job.uuid}`), class: 'mono', title: job.uuid }, shortUuid(job.uuid))),
        h('td', {}, job.jobType), statusCell, h('td', {}, bar), resultCell,
        h('td', {}, Ui.time(job.createdAt)), updatedCell);
      const entry = { job, check, element, bar, statusCell, resultCell, updatedCell };
      rows.set(job.uuid, entry);
      return element;
    }

    function update(job) {
      const entry = rows.get(job.uuid);
      if (!entry) {
        return;
      }
      entry.job = { ...entry.job, ...job };
      Ui.setProgress(entry.bar, entry.job.completeness);
      entry.statusCell.replaceChildren(Ui.statusBadge(entry.job.status));
      entry.resultCell.textContent = entry.job.resultCode < 0 ? '–' : entry.job.resultCode;
      if (job.updatedAt) {
        entry.updatedCell.replaceChildren(Ui.time(job.updatedAt));
      }
    }

    /** Follows up to MAX_STREAMS unfinished jobs of the page by their event streams. */
    function follow() {
      for (const [uuid, controller] of streams) {
        const entry = rows.get(uuid);
        if (!entry || FINISHED.includes(entry.job.status)) {
          controller.abort();
          streams.delete(uuid);
        }
      }
      for (const entry of rows.values()) {
        if (streams.size >= MAX_STREAMS) {
          break;
        }
        if (entry.job.status !== 'running' || streams.has(entry.job.uuid)) {
          continue;
        }
        const controller = new AbortController();
        streams.set(entry.job.uuid, controller);
        context.signal.addEventListener('abort', () => controller.abort());
        Api.stream(`/events/${entry.job.uuid}`, ({ data }) => update(data), controller.signal)
          .catch(() => {})
          .finally(() => streams.delete(entry.job.uuid));
      }
    }

    async function load() {
      const params = filterQuery();
      params.set('limit', '50');
      if (cursor) params.set('after', cursor);
      searchError.textContent = '';
      let answer;
      try {
        answer = await Api.get(`/jobs?${params}`);
      } catch (error) {
        if (error instanceof Api.ApiError && error.status === 400) {
          searchError.textContent = error.message;
          search.setAttribute('aria-invalid', 'true');
          return;
        }
        throw error;
      }
      search.removeAttribute('aria-invalid');
      next = answer.next;
      rows.clear();
      body.replaceChildren(...answer.jobs.map(row));
      if (answer.jobs.length === 0) {
        body.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' },
          next ? 'No match among the jobs looked at; the next page looks further.' : 'No jobs.')));
      }
      nextPage.disabled = !next;
      firstPage.disabled = !cursor;
      pageInfo.textContent = `${answer.jobs.length} jobs on this page${next ? '; more on the next' : ''}.`;
      updateSelection();
      follow();
    }

    /** Keeps the page's rows current without redrawing them. */
    async function refresh() {
      const params = filterQuery();
      params.set('limit', '50');
      if (cursor) params.set('after', cursor);
      try {
        const answer = await Api.get(`/jobs?${params}`);
        answer.jobs.forEach(update);
        follow();
      } catch (_) {
        // The next refresh tries again.
      }
    }

    filters.addEventListener('submit', (event) => {
      event.preventDefault();
      cursor = '';
      const bookmark = filterQuery();
      history.replaceState(null, '', `${location.pathname}${bookmark.size ? `?${bookmark}` : ''}`);
      load().catch(context.fail);
    });
    firstPage.addEventListener('click', () => {
      cursor = '';
      load().catch(context.fail);
    });
    nextPage.addEventListener('click', () => {
      cursor = next || '';
      load().catch(context.fail);
    });
    selectAll.addEventListener('change', () => {
      for (const entry of rows.values()) {
        entry.check.checked = selectAll.checked;
      }
      updateSelection();
    });

    async function each(jobs, verb, send) {
      if (jobs.length === 0) {
        Ui.notify('Select jobs first.', true);
        return;
      }
      if (!await Ui.confirm(`${verb} ${jobs.length} job${jobs.length === 1 ? '' : 's'}?`, `${verb} them`)) {
        return;
      }
      const failures = [];
      for (const job of jobs) {
        try {
          await send(job);
        } catch (error) {
          failures.push(`${shortUuid(job.uuid)}: ${error.message}`);
        }
      }
      Ui.notify(failures.length
        ? `${verb}: ${jobs.length - failures.length} done, ${failures.length} refused (${failures.join('; ')})`
        : `${verb}: ${jobs.length} done.`, failures.length > 0);
      await load();
    }
    cancelSelected.addEventListener('click', () => each(selected(), 'Cancel',
      (job) => Api.post(`/cancel/${job.uuid}`)).catch(context.fail));
    retrySelected.addEventListener('click', () => each(selected(), 'Retry',
      (job) => Api.post(`/retry/${job.uuid}`)).catch(context.fail));
    deleteSelected.addEventListener('click', () => each(selected(), 'Delete',
      (job) => Api.del(`/jobs/${job.uuid}`)).catch(context.fail));

    await load();
    context.every(REFRESH_MS, refresh);
  }

  /** One job's page: `GET /info`, `/data`, and `/events` while it runs. */
  async function one(view, context, uuid) {
    let info;
    try {
      info = await Api.get(`/info/${encodeURIComponent(uuid)}`);
    } catch (error) {
      if (error instanceof Api.ApiError && (error.status === 404 || error.status === 400)) {
        context.title('No such job');
        view.append(h('p', {}, error.message));
        return;
      }
      throw error;
    }
    context.title(`Job ${shortUuid(uuid)}`);
    const bar = Ui.progressBar(info.completeness, 'Progress');
    const details = h('dl', { class: 'info' });
    const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions' });
    const logBody = h('tbody');
    const log = h('table', { class: 'log' },
      h('caption', { class: 'visually-hidden' }, 'The job\u2019s log'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Kind'),
        h('th', { scope: 'col' }, 'Code'), h('th', { scope: 'col' }, 'Message'))),
      logBody);
    const data = h('div', { id: 'job-data' });
    view.append(
      h('section', { class: 'panel', 'aria-labelledby': 'info-heading' },
        h('h2', { id: 'info-heading' }, 'Info'), h('div', { class: 'field' }, bar), details, actions),
      h('section', { class: 'panel', 'aria-labelledby': 'log-heading' },
        h('h2', { id: 'log-heading' }, 'Log'), log),
      h('section', { class: 'panel', 'aria-labelledby': 'data-heading' },
        h('h2', { id: 'data-heading' }, 'Data'), data));

    function drawInfo() {
      const entries = [
        ['uuid', h('code', {}, info.uuid)], ['Job type', info.jobType], ['Queue', info.queue],
        ['Status', Ui.statusBadge(info.status)], ['Result code', info.resultCode < 0 ? '–' : info.resultCode],
        ['Attempts', `${info.attempts} of ${info.maxAttempts}`], ['Priority', info.priority],
        ['Created', Ui.time(info.createdAt)], ['Started', Ui.time(info.startedAt)],
        ['Updated', Ui.time(info.updatedAt)], ['Finished', Ui.time(info.finishedAt)],
        ['Run after', Ui.time(info.runAfter)],
        ['Schedule', info.schedule ? `${info.schedule.name} (${info.schedule.tick})` : '–'],
      ];
      details.replaceChildren(...entries.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value ?? '–')]));
      Ui.setProgress(bar, info.completeness);
      // Redrawn only when they change, so that progress never takes the focus away
      // from a button.
      if (info.status !== actionsFor) {
        actionsFor = info.status;
        drawActions();
      }
    }
    let actionsFor = null;

    function drawActions() {
      actions.replaceChildren();
      if (Api.settings.readOnly) {
        return;
      }
      const finished = FINISHED.includes(info.status);
      const act = (label, question, path, danger) => h('button', {
        type: 'button', class: danger ? 'danger' : '',
        onclick: async () => {
          if (!await Ui.confirm(question, label)) {
            return;
          }
          try {
            await Api.post(path);
            Ui.notify(`${label}: sent.`);
          } catch (error) {
            Ui.notify(`${label}: ${error.message}`, true);
          }
          await reload();
        },
      }, label);
      if (!finished) {
        actions.append(act('Cancel', `Cancel job ${shortUuid(uuid)}? A running job stops at its next checkpoint.`,
          `/cancel/${uuid}`, false));
      }
      if (info.status === 'running') {
        actions.append(act('Kill', `Kill job ${shortUuid(uuid)} now? Its run is dropped without waiting for a checkpoint.`,
          `/cancel/${uuid}?kill=true`, true));
      }
      if (info.status === 'failed' || info.status === 'cancelled') {
        actions.append(act('Retry', `Retry job ${shortUuid(uuid)}? Its attempts start again; the log is kept.`,
          `/retry/${uuid}`, false));
      }
    }

    function drawLog() {
      const lines = [
        ...(info.events || []).map((entry) => ({ ...entry, kind: 'event' })),
        ...(info.warnings || []).map((entry) => ({ ...entry, kind: 'warning' })),
        ...(info.errors || []).map((entry) => ({ ...entry, kind: 'error' })),
      ].sort((a, b) => (a.timeStamp < b.timeStamp ? -1 : a.timeStamp > b.timeStamp ? 1 : 0));
      logBody.replaceChildren(...lines.map((line) => h('tr', { class: `log-${line.kind}` },
        h('td', {}, Ui.time(line.timeStamp)), h('td', {}, line.kind),
        h('td', { class: 'num' }, line.errorCode ?? ''), h('td', {}, line.msg))));
      if (lines.length === 0) {
        logBody.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'Nothing logged yet.')));
      }
    }

    async function drawData() {
      try {
        const answer = await Api.get(`/data/${uuid}`);
        data.replaceChildren(h('pre', { tabindex: '0', role: 'region', 'aria-label': 'The job\u2019s data' }, JSON.stringify(answer.data, null, 2)));
      } catch (error) {
        if (error instanceof Api.ApiError && error.status === 409) {
          data.replaceChildren(h('p', { class: 'muted' }, `No data yet: the job is ${error.body.status || 'not finished'}.`));
        } else {
          throw error;
        }
      }
    }

    async function reload() {
      info = await Api.get(`/info/${uuid}`);
      drawInfo();
      drawLog();
      await drawData();
      follow();
    }

    let following = false;
    function follow() {
      if (following || FINISHED.includes(info.status)) {
        return;
      }
      following = true;
      let first = true;
      Api.stream(`/events/${uuid}`, ({ event, data: progress }) => {
        info.status = progress.status;
        info.completeness = progress.completeness;
        info.resultCode = progress.resultCode;
        info.updatedAt = progress.updatedAt;
        // The first event carries the whole log so far, the others what is new.
        const before = (key) => (first ? [] : info[key] || []);
        info.events = [...before('events'), ...(progress.events || [])];
        info.warnings = [...before('warnings'), ...(progress.warnings || [])];
        info.errors = [...before('errors'), ...(progress.errors || [])];
        first = false;
        drawInfo();
        drawLog();
        if (event === 'finished') {
          reload().catch(context.fail);
        }
      }, context.signal).catch(() => {}).finally(() => {
        following = false;
      });
    }

    drawInfo();
    drawLog();
    await drawData();
    follow();
  }

  return { list, one, STATUSES };
})();
