// The dashboard's other views (overview, submit, workers, queues, schedules), the
// token prompt, and the router that draws the view the location names.
'use strict';

(() => {
  const { h } = Ui;
  const view = document.getElementById('view');
  const title = document.getElementById('title');
  const OVERVIEW_REFRESH_MS = 5000;
  const LIST_REFRESH_MS = 3000;

  const NAV = [
    ['', 'Overview'], ['/jobs', 'Jobs'], ['/submit', 'Submit'], ['/queues', 'Queues'],
    ['/workers', 'Workers'], ['/schedules', 'Schedules'],
  ];

  function setTitle(text) {
    title.textContent = text;
    document.title = `${text} · zerog`;
  }

  function drawNav(discovery) {
    const nav = document.getElementById('nav');
    const current = Api.view.replace(/^\/(jobs|submit)\/.*/, '/$1');
    nav.replaceChildren(...NAV.map(([path, label]) => {
      let href = Api.page(path);
      if (path === '/submit') {
        const first = discovery && discovery.jobTypes[0];
        if (!first) {
          return null;
        }
        href = Api.page(`/submit/${first.jobType}`);
      }
      return h('li', {}, h('a', { href, 'aria-current': current === path ? 'page' : null }, label));
    }).filter(Boolean));
    const mode = document.getElementById('mode');
    mode.replaceChildren(...[
      Api.settings.readOnly ? h('span', { class: 'status' }, 'read-only') : null,
      Api.settings.tokenRequired && Api.token()
        ? h('button', {
          type: 'button', class: 'secondary',
          onclick: () => {
            Api.setToken('');
            location.reload();
          },
        }, 'Forget token')
        : null,
    ].filter(Boolean));
  }

  /** What names the focused control of the view, so that a redraw can give the focus
   * back to the control that replaced it. */
  function focusKey() {
    const active = document.activeElement;
    if (!active || active === document.body || !view.contains(active)) {
      return null;
    }
    return { tag: active.tagName, name: active.getAttribute('aria-label') || active.textContent };
  }

  function restoreFocus(key) {
    if (!key || view.contains(document.activeElement)) {
      return;
    }
    const same = [...view.querySelectorAll(key.tag)].find((element) =>
      (element.getAttribute('aria-label') || element.textContent) === key.name);
    if (same) {
      same.focus();
    }
  }

  /** What a view is given: the job types, timers and fetches that end when the view
   * is left, and how to report a failure. */
  function makeContext() {
    const controller = new AbortController();
    let discovery = null;
    return {
      signal: controller.signal,
      title: setTitle,
      discovery: async () => {
        discovery = discovery || await Api.get('/');
        return discovery;
      },
      every(ms, task) {
        let busy = false;
        const timer = setInterval(async () => {
          if (busy || document.hidden) {
            return;
          }
          busy = true;
          const focused = focusKey();
          try {
            await task();
          } finally {
            busy = false;
            restoreFocus(focused);
          }
        }, ms);
        controller.signal.addEventListener('abort', () => clearInterval(timer));
      },
      fail(error) {
        Ui.notify(error && error.message ? error.message : String(error), true);
      },
      abort: () => controller.abort(),
    };
  }

  // ---- the token prompt ----

  // While the prompt is up, a refused token is answered by the prompt itself.
  let prompting = false;

  function askForToken(message) {
    prompting = true;
    setTitle('Sign in');
    const input = h('input', { type: 'password', autocomplete: 'current-password', id: 'token', required: true });
    const error = h('p', { class: 'error-text', role: 'alert' }, message || '');
    const form = h('form', { class: 'panel login' },
      h('p', {}, 'This service requires its API token. It is kept in this browser tab only, until it closes.'),
      h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token'), input),
      error,
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Use this token')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      Api.setToken(input.value.trim());
      try {
        await Api.get('/jobs/stats');
        start();
      } catch (failure) {
        Api.setToken('');
        error.textContent = failure.status === 401 ? 'That token was refused.' : failure.message;
        input.focus();
      }
    });
    view.replaceChildren(form);
    input.focus();
  }

  // ---- the overview ----

  async function overview(context) {
    setTitle('Overview');
    const cards = h('ul', { class: 'cards', 'aria-label': 'Jobs by status' });
    const chart = h('div');
    const oldest = h('p');
    const queuesBody = h('tbody');
    const types = h('ul');
    view.append(
      h('section', { 'aria-labelledby': 'status-heading' }, h('h2', { id: 'status-heading' }, 'Jobs by status'), cards),
      h('section', { class: 'panel', 'aria-labelledby': 'chart-heading' },
        h('h2', { id: 'chart-heading' }, 'Finished per minute, last hour'), chart, oldest),
      h('section', { 'aria-labelledby': 'queues-heading' }, h('h2', { id: 'queues-heading' }, 'Queues'),
        h('table', {}, h('thead', {}, h('tr', {}, ...['Queue', 'Due', 'Running', 'Waiting', 'Paused']
          .map((name, index) => h('th', { scope: 'col', class: index && index < 4 ? 'num' : null }, name)))),
        queuesBody)),
      h('section', { 'aria-labelledby': 'types-heading' }, h('h2', { id: 'types-heading' }, 'Job types'), types));

    async function draw() {
      const [stats, discovery] = await Promise.all([Api.get('/jobs/stats'), context.discovery()]);
      cards.replaceChildren(...JobViews.STATUSES.map((status) => {
        const { count, capped } = stats.statuses[status];
        const shown = capped ? `≥ ${count.toLocaleString('en-US')}` : count.toLocaleString('en-US');
        return h('li', {}, h('a', {
          class: 'card', href: Api.page(`/jobs?status=${status}`),
        }, h('span', { class: 'value' }, shown), ' ', h('span', { class: 'label' }, status)));
      }));
      chart.replaceChildren(Ui.throughputChart(stats.minutes));
      oldest.textContent = stats.oldestDueSeconds === null
        ? 'No job is waiting to start.'
        : `The oldest due job has waited ${Ui.duration(stats.oldestDueSeconds)} to start.`;
      if (Object.values(stats.statuses).some((entry) => entry.capped)) {
        oldest.append(h('br'), h('span', { class: 'muted' },
          `Counts stop at ${stats.countCap.toLocaleString()}: “≥” marks those that reached it.`));
      }
      queuesBody.replaceChildren(...stats.queues.map((queue) => h('tr', {},
        h('td', {}, h('a', { href: Api.page(`/jobs?queue=${encodeURIComponent(queue.name)}`) }, queue.name)),
        h('td', { class: 'num' }, queue.due), h('td', { class: 'num' }, queue.running),
        h('td', { class: 'num' }, queue.waiting), h('td', {}, queue.paused ? 'paused' : 'no'))));
      if (stats.queues.length === 0) {
        queuesBody.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No queue has unfinished jobs.')));
      }
      types.replaceChildren(...discovery.jobTypes.map((type) => h('li', {},
        h('strong', {}, type.name), ` (${type.jobType}, queue ${type.queue}): ${type.description} `,
        Api.settings.readOnly ? null : h('a', { href: Api.page(`/submit/${type.jobType}`) }, `Submit ${type.name}`))));
    }
    await draw();
    context.every(OVERVIEW_REFRESH_MS, () => draw().catch(() => {}));
  }

  // ---- submit ----

  async function submit(context, jobType) {
    const discovery = await context.discovery();
    const type = discovery.jobTypes.find((entry) => entry.jobType === jobType);
    if (!type) {
      setTitle('No such job type');
      view.append(h('p', {}, `This service has no job type “${jobType}”.`));
      return;
    }
    setTitle(`Submit ${type.name}`);
    const chooser = h('select', { id: 'job-type' }, ...discovery.jobTypes.map((entry) =>
      h('option', { value: entry.jobType, selected: entry.jobType === jobType }, entry.name)));
    chooser.addEventListener('change', () => location.assign(Api.page(`/submit/${chooser.value}`)));
    view.append(h('div', { class: 'field' }, h('label', { for: 'job-type' }, 'Job type'), chooser),
      h('p', {}, type.description));
    if (Api.settings.readOnly) {
      view.append(h('p', { class: 'muted' }, 'This service is read-only: it takes no new job.'));
      return;
    }
    const schema = await Api.get(`/schema/${encodeURIComponent(jobType)}`);
    const form = SchemaForm.build(schema, { title: 'Parameters' });
    const priority = h('input', { type: 'number', id: 'priority', min: 0, max: 9, step: 1, inputmode: 'numeric' });
    const runAfter = h('input', { type: 'number', id: 'run-after', min: 0, step: 1, inputmode: 'numeric' });
    const optionsError = h('p', { class: 'error-text', role: 'alert' });
    const element = h('form', { class: 'panel', novalidate: true, 'aria-label': `Submit ${type.name}` },
      form.element,
      h('fieldset', {}, h('legend', {}, 'Options'),
        h('div', { class: 'field' }, h('label', { for: 'priority' }, 'Priority'),
          h('p', { class: 'help', id: 'priority-help' }, '0 runs first, 9 last; empty for the type\u2019s own.'), priority),
        h('div', { class: 'field' }, h('label', { for: 'run-after' }, 'Start after (seconds)'),
          h('p', { class: 'help', id: 'run-after-help' }, 'Empty to start as soon as a worker is free.'), runAfter),
        optionsError),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, `Submit ${type.name}`)));
    priority.setAttribute('aria-describedby', 'priority-help');
    runAfter.setAttribute('aria-describedby', 'run-after-help');
    element.addEventListener('submit', async (event) => {
      event.preventDefault();
      const { value, problems } = form.read();
      const query = new URLSearchParams();
      optionsError.textContent = '';
      if (priority.value !== '') {
        const number = Number(priority.value);
        if (!Number.isInteger(number) || number < 0 || number > 9) {
          optionsError.textContent = 'The priority is a whole number from 0 to 9.';
          priority.focus();
          return;
        }
        query.set('priority', String(number));
      }
      if (runAfter.value !== '') {
        const number = Number(runAfter.value);
        if (!Number.isInteger(number) || number < 0) {
          optionsError.textContent = 'Start after a whole number of seconds, 0 or more.';
          runAfter.focus();
          return;
        }
        query.set('runAfter', String(number));
      }
      if (problems.length) {
        form.showErrors(problems);
        Ui.notify('Some values need fixing before the job can be submitted.', true);
        return;
      }
      form.clearErrors();
      try {
        const answer = await Api.post(`/job/${encodeURIComponent(jobType)}${query.size ? `?${query}` : ''}`, value);
        location.assign(Api.page(`/jobs/${answer.uuid}`));
      } catch (error) {
        if (error instanceof Api.ApiError && error.kind === 'validation') {
          form.showErrors(error.details);
          Ui.notify('The server refused some values: see the marked fields.', true);
        } else {
          Ui.notify(error.message, true);
        }
      }
    });
    view.append(element);
  }

  // ---- workers ----

  async function workers(context) {
    setTitle('Workers');
    const body = h('tbody');
    view.append(h('table', {}, h('caption', { class: 'visually-hidden' }, 'Live workers'),
      h('thead', {}, h('tr', {}, ...['Worker', 'State', 'Capacity', 'Running jobs', 'Queues', 'Memory (RSS)', 'Last heartbeat', Api.settings.readOnly ? null : 'Actions']
        .filter(Boolean).map((name) => h('th', { scope: 'col' }, name)))), body));
    async function draw() {
      const answer = await Api.get('/workers');
      body.replaceChildren(...answer.workers.map((worker) => h('tr', {},
        h('td', { class: 'mono' }, worker.id), h('td', {}, worker.state),
        h('td', {}, Ui.progressBar(worker.capacityTotal ? worker.capacityUsed / worker.capacityTotal : 0,
          `Capacity of ${worker.id}: ${worker.capacityUsed} of ${worker.capacityTotal} units used`),
        `${worker.capacityUsed} of ${worker.capacityTotal}`),
        h('td', {}, worker.running.length ? worker.running.map((uuid) => [h('a', { href: Api.page(`/jobs/${uuid}`), class: 'mono' }, uuid.slice(0, 8)), ' ']) : '–'),
        h('td', {}, worker.queues.join(', ')),
        h('td', { class: 'num' }, Ui.bytes(worker.rssBytes)),
        h('td', {}, Ui.time(worker.lastHeartbeat)),
        Api.settings.readOnly ? null : h('td', {}, worker.state === 'draining' ? 'draining' : h('button', {
          type: 'button', class: 'secondary', 'aria-label': `Drain ${worker.id}`,
          onclick: async () => {
            if (await Ui.confirm(`Drain ${worker.id}? It takes no new job and finishes what it runs.`, 'Drain')) {
              await Api.post(`/workers/${encodeURIComponent(worker.id)}/drain`).catch(context.fail);
              await draw();
            }
          },
        }, 'Drain')))));
      if (answer.workers.length === 0) {
        body.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No live worker.')));
      }
    }
    await draw();
    context.every(LIST_REFRESH_MS, () => draw().catch(() => {}));
  }

  // ---- queues ----

  async function queues(context) {
    setTitle('Queues');
    const body = h('tbody');
    view.append(h('table', {}, h('caption', { class: 'visually-hidden' }, 'Queues'),
      h('thead', {}, h('tr', {}, ...['Queue', 'Due', 'Running', 'Waiting', 'Limit', 'State', Api.settings.readOnly ? null : 'Actions']
        .filter(Boolean).map((name) => h('th', { scope: 'col' }, name)))), body));
    async function draw() {
      const answer = await Api.get('/queues');
      body.replaceChildren(...answer.queues.map((queue) => h('tr', {},
        h('td', {}, h('a', { href: Api.page(`/jobs?queue=${encodeURIComponent(queue.name)}`) }, queue.name)),
        h('td', { class: 'num' }, queue.due), h('td', { class: 'num' }, queue.running),
        h('td', { class: 'num' }, queue.waiting), h('td', { class: 'num' }, queue.limit ?? '–'),
        h('td', {}, queue.paused ? 'paused' : 'active'),
        Api.settings.readOnly ? null : h('td', {}, h('button', {
          type: 'button', class: 'secondary',
          onclick: async () => {
            const verb = queue.paused ? 'resume' : 'pause';
            await Api.post(`/queues/${encodeURIComponent(queue.name)}/${verb}`).catch(context.fail);
            await draw();
          },
        }, `${queue.paused ? 'Resume' : 'Pause'} ${queue.name}`)))));
    }
    await draw();
    context.every(LIST_REFRESH_MS, () => draw().catch(() => {}));
  }

  // ---- schedules ----

  async function schedules(context) {
    setTitle('Schedules');
    const body = h('tbody');
    view.append(h('table', {}, h('caption', { class: 'visually-hidden' }, 'Schedules'),
      h('thead', {}, h('tr', {}, ...['Name', 'Job type', 'Cron', 'Time zone', 'Parameters', 'Source', 'State', 'Next run', 'Last run', Api.settings.readOnly ? null : 'Actions']
        .filter(Boolean).map((name) => h('th', { scope: 'col' }, name)))), body));
    async function draw() {
      const answer = await Api.get('/schedules');
      body.replaceChildren(...answer.schedules.map((schedule) => h('tr', {},
        h('td', {}, schedule.name), h('td', {}, schedule.jobType), h('td', { class: 'mono' }, schedule.cron),
        h('td', {}, schedule.timezone), h('td', { class: 'mono' }, JSON.stringify(schedule.params)),
        h('td', {}, schedule.source), h('td', {}, schedule.paused ? 'paused' : 'active'),
        h('td', {}, Ui.time(schedule.nextRunAt)), h('td', {}, Ui.time(schedule.lastRunAt)),
        Api.settings.readOnly ? null : h('td', {}, h('div', { class: 'actions' },
          h('button', {
            type: 'button', class: 'secondary',
            onclick: async () => {
              const verb = schedule.paused ? 'resume' : 'pause';
              await Api.post(`/schedules/${encodeURIComponent(schedule.name)}/${verb}`).catch(context.fail);
              await draw();
            },
          }, `${schedule.paused ? 'Resume' : 'Pause'} ${schedule.name}`),
          h('button', {
            type: 'button', class: 'danger',
            onclick: async () => {
              if (await Ui.confirm(`Remove the schedule ${schedule.name}? It creates no more jobs.`, 'Remove')) {
                await Api.del(`/schedules/${encodeURIComponent(schedule.name)}`).catch(context.fail);
                await draw();
              }
            },
          }, `Remove ${schedule.name}`))))));
      if (answer.schedules.length === 0) {
        body.append(h('tr', {}, h('td', { colspan: 10, class: 'muted' }, 'No schedule.')));
      }
    }
    await draw();
    context.every(LIST_REFRESH_MS, () => draw().catch(() => {}));
    if (!Api.settings.readOnly) {
      await addSchedule(context, draw);
    }
  }

  async function addSchedule(context, draw) {
    const discovery = await context.discovery();
    if (discovery.jobTypes.length === 0) {
      return;
    }
    const name = h('input', { type: 'text', id: 'schedule-name', required: true, pattern: '[A-Za-z0-9_.\\-]{1,100}' });
    const cron = h('input', { type: 'text', id: 'schedule-cron', required: true, class: 'mono', placeholder: '*/5 * * * *' });
    const timezone = h('input', { type: 'text', id: 'schedule-timezone', value: 'UTC' });
    const jobType = h('select', { id: 'schedule-type' }, ...discovery.jobTypes.map((type) =>
      h('option', { value: type.jobType }, type.name)));
    const paramsSlot = h('div');
    const error = h('p', { class: 'error-text', role: 'alert' });
    let form = null;
    async function drawParams() {
      const schema = await Api.get(`/schema/${encodeURIComponent(jobType.value)}`);
      form = SchemaForm.build(schema, { title: 'Parameters' });
      paramsSlot.replaceChildren(form.element);
    }
    jobType.addEventListener('change', () => drawParams().catch(context.fail));
    const field = (label, control, help) => h('div', { class: 'field' }, h('label', { for: control.id }, label),
      help ? h('p', { class: 'help' }, help) : null, control);
    const element = h('form', { class: 'panel', novalidate: true, 'aria-labelledby': 'add-heading' },
      h('h2', { id: 'add-heading' }, 'Add a schedule'),
      field('Name', name, 'Letters, digits, _, . and -.'), field('Job type', jobType),
      field('Cron', cron, '5 fields, 6 with seconds first, or a macro such as @hourly.'),
      field('Time zone', timezone, 'An IANA name, such as Europe/Paris.'),
      paramsSlot, error, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add schedule')));
    element.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      const { value, problems } = form.read();
      if (!name.value.trim() || !cron.value.trim()) {
        error.textContent = 'A schedule needs a name and a cron expression.';
        return;
      }
      if (problems.length) {
        form.showErrors(problems);
        return;
      }
      form.clearErrors();
      try {
        await Api.post('/schedules', {
          name: name.value.trim(), jobType: jobType.value, cron: cron.value.trim(),
          timezone: timezone.value.trim() || 'UTC', params: value,
        });
        Ui.notify(`The schedule ${name.value.trim()} was added.`);
        element.reset();
        await draw();
      } catch (failure) {
        if (failure instanceof Api.ApiError && failure.kind === 'validation') {
          form.showErrors(failure.details);
        } else {
          error.textContent = failure.message;
        }
      }
    });
    view.append(element);
    await drawParams();
  }

  // ---- the router ----

  let current = null;

  async function start() {
    prompting = false;
    if (current) {
      current.abort();
    }
    Ui.notify('');
    view.replaceChildren();
    if (Api.settings.tokenRequired && !Api.token()) {
      drawNav(null);
      askForToken();
      return;
    }
    const context = makeContext();
    current = context;
    try {
      drawNav(await context.discovery());
      const parts = Api.view.split('/').filter(Boolean).map(decodeURIComponent);
      switch (parts[0] || '') {
        case '': await overview(context); break;
        case 'jobs':
          if (parts[1]) {
            await JobViews.one(view, context, parts[1]);
          } else {
            setTitle('Jobs');
            await JobViews.list(view, context);
          }
          break;
        case 'submit': await submit(context, parts[1]); break;
        case 'workers': await workers(context); break;
        case 'queues': await queues(context); break;
        case 'schedules': await schedules(context); break;
        default: setTitle('Not a view');
      }
    } catch (error) {
      if (!(error instanceof Api.ApiError && error.status === 401)) {
        context.fail(error);
      }
    }
  }

  Api.onUnauthorized(() => {
    if (prompting) {
      return;
    }
    if (current) {
      current.abort();
      current = null;
    }
    Api.setToken('');
    if (Api.settings.tokenRequired) {
      askForToken('The token was refused: enter it again.');
    }
  });

  start();
})();
