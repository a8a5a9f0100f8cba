// The dashboard's building blocks: elements, progress bars, statuses, times, the
// confirm dialog and the throughput chart.
'use strict';

const Ui = (() => {
  /** An element: `h('a', {href: '/x'}, 'text', child)`. Attributes starting with `on`
   * are listeners; `null` and `false` attributes are left out. */
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) {
        continue;
      }
      if (name.startsWith('on') && typeof value === 'function') {
        element.addEventListener(name.slice(2), value);
      } else if (name === 'class') {
        element.className = value;
      } else if (name in element && typeof value !== 'string') {
        element[name] = value;
      } else {
        element.setAttribute(name, value === true ? '' : String(value));
      }
    }
    append(element, children);
    return element;
  }

  function append(element, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) {
        continue;
      }
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  let uniqueCounter = 0;
  /** An id no other element of the page has. */
  function uniqueId(prefix) {
    uniqueCounter += 1;
    return `${prefix}-${uniqueCounter}`;
  }

  /** A progress bar of `fraction` (0 to 1), named by `label`; its percentage is
   * written beside the bar, on the page's own background. */
  function progressBar(fraction, label) {
    const bar = h('div', {
      class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100',
      'aria-label': label,
    }, h('span', { class: 'track' }, h('span', { class: 'fill' })), h('span', { class: 'percent' }));
    setProgress(bar, fraction);
    return bar;
  }

  function setProgress(bar, fraction) {
    const percent = Math.round(Math.max(0, Math.min(1, Number(fraction) || 0)) * 100);
    bar.setAttribute('aria-valuenow', String(percent));
    bar.setAttribute('aria-valuetext', `${percent}%`);
    bar.querySelector('.fill').style.width = `${percent}%`;
    bar.querySelector('.percent').textContent = `${percent}%`;
  }

  function statusBadge(status) {
    return h('span', { class: `status status-${status}` }, status);
  }

  function time(text) {
    if (!text) {
      return '–';
    }
    const date = new Date(text);
    return h('time', { datetime: text, title: text }, date.toLocaleString());
  }

  /** A duration in seconds, as people read it: `42 s`, `3 min 5 s`, `2 h 4 min`. */
  function duration(seconds) {
    if (seconds === null || seconds === undefined) {
      return '–';
    }
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) {
      return `${s} s`;
    }
    if (s < 3600) {
      return `${Math.floor(s / 60)} min ${s % 60} s`;
    }
    if (s < 86400) {
      return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    }
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }

  function age(text) {
    return text ? duration((Date.now() - new Date(text).getTime()) / 1000) : '–';
  }

  function bytes(count) {
    if (count === null || count === undefined) {
      return '–';
    }
    const units = ['B', 'KiB', 'MiB', 'GiB'];
    let value = count;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
  }

  /** Asks `question` in a modal dialog; resolves true when confirmed. */
  function confirm(question, action) {
    return new Promise((resolve) => {
      const titleId = uniqueId('confirm');
      const yes = h('button', { type: 'button', class: 'danger', value: 'yes' }, action);
      const no = h('button', { type: 'button', class: 'secondary', value: 'no' }, 'Keep it');
      const dialog = h('dialog', { 'aria-labelledby': titleId },
        h('p', { id: titleId }, question),
        h('div', { class: 'actions' }, yes, no));
      const close = (answer) => {
        dialog.close();
        dialog.remove();
        resolve(answer);
      };
      yes.addEventListener('click', () => close(true));
      no.addEventListener('click', () => close(false));
      dialog.addEventListener('cancel', (event) => {
        event.preventDefault();
        close(false);
      });
      document.body.append(dialog);
      dialog.showModal();
      no.focus();
    });
  }

  /** Tells the page's live region `message`; `bad` marks it as an error. */
  function notify(message, bad) {
    const notice = document.getElementById('notice');
    notice.className = bad ? 'bad' : '';
    notice.textContent = message || '';
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attributes, ...children) {
    const element = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      element.setAttribute(name, String(value));
    }
    for (const child of children) {
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  /** The throughput chart: a pair of bars per minute, done and failed. */
  function throughputChart(minutes) {
    const width = 720;
    const height = 200;
    const left = 40;
    const bottom = 24;
    const top = 10;
    const plot = height - bottom - top;
    const most = Math.max(1, ...minutes.map((minute) => minute.done + minute.failed));
    const step = (width - left - 10) / Math.max(1, minutes.length);
    const y = (value) => top + plot - (value / most) * plot;
    const done = minutes.reduce((sum, minute) => sum + minute.done, 0);
    const failed = minutes.reduce((sum, minute) => sum + minute.failed, 0);
    const chart = svg('svg', {
      viewBox: `0 0 ${width} ${height}`, role: 'img',
      'aria-label': `Jobs finished per minute over the last hour: ${done} done and ${failed} failed in all`,
    });
    for (const value of [0, most / 2, most]) {
      chart.append(
        svg('line', { x1: left, x2: width - 10, y1: y(value), y2: y(value), stroke: '#c9ced4' }),
        svg('text', { x: left - 6, y: y(value) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#4a525c' },
          Number.isInteger(value) ? value : value.toFixed(1)));
    }
    minutes.forEach((minute, index) => {
      const x = left + index * step + 1;
      const w = Math.max(1, step - 2);
      if (minute.done > 0) {
        chart.append(svg('rect', {
          x, width: w, y: y(minute.done + minute.failed), height: (minute.done / most) * plot,
          fill: '#0b5cad',
        }, svg('title', {}, `${minute.start}: ${minute.done} done`)));
      }
      if (minute.failed > 0) {
        chart.append(svg('rect', {
          x, width: w, y: y(minute.failed), height: (minute.failed / most) * plot, fill: '#a1111b',
        }, svg('title', {}, `${minute.start}: ${minute.failed} failed`)));
      }
      if (index % 10 === 0 || index === minutes.length - 1) {
        const label = index === minutes.length - 1 ? 'now' : `-${minutes.length - 1 - index} min`;
        chart.append(svg('text', {
          x: x + w / 2, y: height - 6, 'text-anchor': 'middle', 'font-size': 11, fill: '#4a525c',
        }, label));
      }
    });
    return h('div', { class: 'chart' }, chart,
      h('div', { class: 'legend' },
        h('span', {}, h('span', { class: 'swatch', style: 'background:#0b5cad' }), `done (${done})`),
        h('span', {}, h('span', { class: 'swatch', style: 'background:#a1111b' }), `failed (${failed})`)));
  }

  return {
    h, append, uniqueId, progressBar, setProgress, statusBadge, time, duration, age, bytes,
    confirm, notify, throughputChart,
  };
})();
