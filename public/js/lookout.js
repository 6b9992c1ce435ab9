// Lookout's browser charts: uPlot panels that share one time range and one crosshair, an event
// lane over them, live tails from the WebSocket, and toasts for new alerts and anomalies.
// Driven by the Leptos islands (app/src/components/explorer.rs) through window.Lookout; the
// data comes from GET /api/v1/history/series as columnar JSON parsed by the browser.
(() => {
  'use strict';

  const COLORS = ['#2563EB', '#D97706', '#16A34A', '#9333EA', '#DC2626', '#0891B2', '#65A30D', '#DB2777'];
  const EVENT_COLORS = { metric_alert: '#DC2626', anomaly: '#EA580C', power_change: '#6B7280', manual: '#2563EB', maintenance: '#9333EA' };
  const timings = (window.LookoutTimings = window.LookoutTimings || { renders: [], zooms: [] });

  function bytes(v) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    v = Math.max(0, v);
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + ' ' + units[i];
  }

  function format(v, unit) {
    if (v == null || Number.isNaN(v)) return '–';
    switch (unit) {
      case 'percent': return v.toFixed(1) + ' %';
      case 'bytes/s': return bytes(v) + '/s';
      case 'MiB': return bytes(v * 1048576);
      case 'ms': return v.toFixed(1) + ' ms';
      case '1/s': return v.toFixed(0) + '/s';
      case 'load': return v.toFixed(2);
      case 'core%': return v.toFixed(0) + ' %';
      case '°C': return v.toFixed(0) + ' °C';
      case 'W': return v.toFixed(0) + ' W';
      // Custom metrics in no catalogue unit: three significant digits.
      case 'number': return v.toFixed(v === 0 ? 0 : Math.min(6, Math.max(0, 2 - Math.floor(Math.log10(Math.abs(v))))));
      default: return v.toFixed(0);
    }
  }

  function csrfHeaders() {
    return { 'content-type': 'application/json' };
  }

  async function getJson(url) {
    const response = await fetch(url, { credentials: 'same-origin' });
    const body = JSON.parse(await response.text());
    if (!response.ok) throw new Error(body.detail || body.message || (body.error && body.error.message) || response.statusText);
    return body.data;
  }

  async function postJson(url, payload) {
    const response = await fetch(url, { method: 'POST', credentials: 'same-origin', headers: csrfHeaders(), body: JSON.stringify(payload || {}) });
    const text = await response.text();
    const body = text ? JSON.parse(text) : {};
    if (!response.ok) throw new Error(body.detail || body.message || (body.error && body.error.message) || response.statusText);
    return body.data;
  }

  // Values of one live sample (the /performance/stats shape) by catalogue name.
  // Series name -> the sample field it comes from (a partial sample lists absent fields).
  const LIVE_FIELDS = {
    'cpu.usagePercent': 'cpu.percent', 'cpu.ready': 'cpu.ready_percent', 'cpu.load1min': 'cpu.load1',
    'cpu.usageMHz': 'cpu.usage_mhz', 'memory.usagePercent': 'memory.percent', 'memory.swapUsedMB': 'memory.swap_used',
    'memory.usedMB': 'memory.used', 'memory.freeMB': 'memory.available', 'disk.usagePercent': 'disk.percent',
    'disk.readIOPS': 'disk.read_iops', 'disk.writeIOPS': 'disk.write_iops', 'disk.readBps': 'disk.read_bps',
    'disk.writeBps': 'disk.write_bps', 'disk.readLatency': 'disk.read_latency_ms', 'disk.writeLatency': 'disk.write_latency_ms',
    'network.inBps': 'network.in_bps', 'network.outBps': 'network.out_bps',
    'system.processes': 'processes.total', 'system.connections': 'connections.active',
  };
  const MIB_FIELDS = new Set(['memory.swap_used', 'memory.used', 'memory.available']);

  // A list panel's series, [member, base name]: `container:web.cpuPercent.avg` → ['web', 'container:web.cpuPercent'].
  function listMembers(panel, series) {
    const prefix = panel.dataset.prefix + ':';
    const suffix = (panel.dataset.field ? '.' + panel.dataset.field : '') + '.avg';
    return Object.keys(series)
      .filter((k) => k.startsWith(prefix) && k.endsWith(suffix))
      .map((k) => [k.slice(prefix.length, k.length - suffix.length), k.slice(0, -4)]);
  }

  // Live values of list members, by field: [list in the sample, key, sample field, divisor].
  const LIST_FIELDS = {
    container: ['containers', 'name', { cpuPercent: ['cpu_percent', 1], memoryMB: ['memory_bytes', 1048576], readBps: ['read_bps', 1], writeBps: ['write_bps', 1] }],
    gpu: ['gpus', 'index', { utilizationPercent: ['utilization_percent', 1], memoryUsedMB: ['memory_used_bytes', 1048576], temperatureC: ['temperature_celsius', 1], powerW: ['power_watts', 1] }],
  };

  function liveValue(stats, name, absent) {
    if (name.startsWith('fs:')) {
      const mount = name.slice(3);
      const fs = (stats.disk.filesystems || []).find((f) => f.mountpoint === mount);
      return fs ? fs.percent : null;
    }
    const colon = name.indexOf(':');
    if (colon > 0 && LIST_FIELDS[name.slice(0, colon)]) {
      const [list, key, fields] = LIST_FIELDS[name.slice(0, colon)];
      const rest = name.slice(colon + 1);
      const dot = rest.lastIndexOf('.');
      const field = fields[rest.slice(dot + 1)];
      const member = (stats[list] || []).find((m) => String(m[key]) === rest.slice(0, dot));
      return member && field ? member[field[0]] / field[1] : null;
    }
    const path = LIVE_FIELDS[name];
    if (!path || (absent && absent.includes(path))) return null;
    const [group, field] = path.split('.');
    const v = stats[group] ? stats[group][field] : null;
    if (v == null) return null;
    return MIB_FIELDS.has(path) ? v / 1048576 : v;
  }

  // One WebSocket for the page, shared by the charts and the toasts; reconnects with back-off.
  const socket = {
    listeners: new Set(),
    ws: null,
    attempt: 0,
    listen(fn) { this.listeners.add(fn); this.open(); return () => this.listeners.delete(fn); },
    open() {
      if (this.ws) return;
      const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
      const ws = new WebSocket(`${scheme}://${location.host}/ws/performance`);
      this.ws = ws;
      ws.onopen = () => { this.attempt = 0; document.documentElement.dataset.stream = 'live'; };
      ws.onmessage = (message) => {
        let event;
        try { event = JSON.parse(message.data); } catch (_) { return; }
        for (const fn of this.listeners) fn(event);
      };
      ws.onclose = () => {
        this.ws = null;
        document.documentElement.dataset.stream = 'reconnecting';
        const delay = Math.min(30000, 1000 * 2 ** Math.min(5, this.attempt++));
        setTimeout(() => this.open(), delay);
      };
    },
  };

  // ---- the event lane ----------------------------------------------------------------------

  function eventLink(event) {
    const at = Date.parse(event.timestamp);
    return `/hosts/${encodeURIComponent(event.vmId)}?from=${at - 1800000}&to=${at + 1800000}&event=${encodeURIComponent(event.id)}`;
  }

  // What else changed on the host around an event (the investigate page): from 10 minutes
  // before it to its end, or to 10 minutes after a point event — as the server-drawn list links.
  function investigateLink(event) {
    const at = Date.parse(event.timestamp);
    const around = 600000;
    const until = event.endTime ? Math.max(Date.parse(event.endTime), at + around) : at + around;
    return `/investigate?host=${encodeURIComponent(event.vmId)}&from=${at - around}&to=${until}`;
  }

  // `unit`: the unit of the chart the event concerns, so its values read as the chart's do.
  function describe(event, unit) {
    const at = new Date(event.timestamp).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
    const lines = [`${event.title}`, at];
    if (event.endTime) lines.push('until ' + new Date(event.endTime).toISOString().replace('T', ' ').slice(0, 19) + ' UTC');
    if (event.severity) lines.push('severity: ' + event.severity);
    if (event.metricData) {
      const m = event.metricData;
      const value = (v) => (typeof v !== 'number' ? String(v) : unit ? format(v, unit) : v.toFixed(2));
      lines.push(`${m.series || m.metric}: ${value(m.value)}` + (m.threshold != null ? ` (threshold ${value(m.threshold)})` : '') + (m.baseline != null ? ` (usual ${value(m.baseline)})` : ''));
    }
    if (event.description) lines.push(event.description);
    if (event.createdBy) lines.push('by ' + event.createdBy);
    return lines;
  }

  // ---- charts -----------------------------------------------------------------------------

  // Legend labels of compared hosts: their names, as the page lists them; a name two hosts share
  // is followed by the vmId, and a host without one is its vmId.
  function hostLabels(vms, namesJson) {
    let names = [];
    try { names = JSON.parse(namesJson || '[]'); } catch (e) { names = []; }
    return vms.map((vm, i) => {
      const name = names[i] || vm;
      const shared = names.filter((n) => n === name).length > 1;
      return shared && name !== vm ? `${name} (${vm})` : name;
    });
  }

  class Explorer {
    constructor(root, options) {
      this.root = root;
      this.options = options;
      this.view = root.dataset.view; // host | compare
      this.vm = root.dataset.vm;
      this.from = options.from;
      this.to = options.to;
      this.live = options.live;
      this.highlight = options.highlight || null;
      this.selectMode = false;
      this.charts = [];
      this.events = [];
      this.generation = 0;
      this.lane = root.querySelector('.event-lane');
      this.popup = root.querySelector('.event-popup');
      this.tooltip = root.querySelector('.event-tooltip');
      this.panels = [...root.querySelectorAll('.chart-panel')];
      root.classList.add('scripted');
      this.unlisten = socket.listen((event) => this.onLive(event));
      this.resizeObserver = new ResizeObserver(() => this.resize());
      this.resizeObserver.observe(root);
      this.load();
    }

    setRange(from, to, live) {
      this.from = from;
      this.to = to;
      this.live = live;
      this.highlight = null;
      return this.load(true);
    }

    setSelectMode(on) {
      this.selectMode = on;
      this.root.classList.toggle('selecting', on);
    }

    width(panel) {
      const plot = panel.querySelector('.plot');
      return Math.max(240, Math.floor(plot.getBoundingClientRect().width || this.root.clientWidth || 600));
    }

    async load(zoom) {
      const generation = ++this.generation;
      const started = performance.now();
      this.root.dataset.loading = '1';
      const requests = this.panels.map((panel) => this.fetchPanel(panel));
      const eventsRequest = this.view === 'host' ? this.fetchEvents() : Promise.resolve([]);
      let results;
      try {
        results = await Promise.all(requests);
        this.events = await eventsRequest;
      } catch (error) {
        if (generation !== this.generation) return;
        this.root.dataset.loading = '';
        this.root.dataset.error = String(error.message || error);
        return;
      }
      if (generation !== this.generation) return;
      const arrived = performance.now();
      this.root.dataset.error = '';
      this.panels.forEach((panel, i) => this.draw(panel, i, results[i]));
      this.drawLane();
      const drawn = performance.now();
      // sinceNavigationMs: performance.now() counts from the page's navigation, so the first
      // record is the page's time to first chart.
      const record = { panels: this.panels.length, fetchMs: arrived - started, renderMs: drawn - arrived, sinceNavigationMs: drawn, points: results.reduce((n, r) => n + r.rows * r.columns, 0) };
      (zoom ? timings.zooms : timings.renders).push(record);
      this.root.dataset.loading = '';
      this.root.dataset.resolution = results[0] ? results[0].resolution : '';
      this.root.dataset.from = String(this.from);
      this.root.dataset.to = String(this.to);
      this.root.dataset.lastT = String(this.lastT());
      this.root.dataset.generation = String(generation);
      if (this.highlight) this.openHighlighted();
      this.scheduleRefresh(results[0] && results[0].resolution);
    }

    lastT() {
      let last = 0;
      for (const chart of this.charts) {
        if (!chart) continue;
        const xs = chart.data[0];
        if (xs.length) last = Math.max(last, xs[xs.length - 1] * 1000);
      }
      return last;
    }

    // Bucketed charts cannot take raw samples, so a live view at a bucketed resolution is
    // re-read on a timer instead; raw ones append each sample as it arrives.
    scheduleRefresh(resolution) {
      clearTimeout(this.refreshTimer);
      this.resolution = resolution;
      if (!this.live || resolution === 'raw') return;
      this.refreshTimer = setTimeout(() => {
        const span = this.to - this.from;
        this.to = Date.now();
        this.from = this.to - span;
        this.load();
      }, 30000);
    }

    async fetchPanel(panel) {
      const points = this.width(panel);
      if (this.view === 'compare') {
        const hosts = (this.root.dataset.hosts || '').split(',').filter(Boolean);
        const metric = this.root.dataset.metric;
        const series = await Promise.all(hosts.map((vm) => getJson(`/api/v1/history/series?vmId=${encodeURIComponent(vm)}&metrics=${encodeURIComponent(metric)}&start=${this.from}&end=${this.to}&points=${points}`)));
        const tables = series.map((s) => [s.t.map((t) => t / 1000), s.series[metric + '.avg'] || s.t.map(() => null)]);
        const joined = tables.length ? uPlot.join(tables) : [[]];
        return { compare: true, hosts, labels: hostLabels(hosts, this.root.dataset.names), joined, resolution: series[0] ? series[0].resolution : '', rows: joined[0].length, columns: hosts.length };
      }
      const metrics = panel.dataset.list || panel.dataset.metrics;
      const data = await getJson(`/api/v1/history/series?vmId=${encodeURIComponent(this.vm)}&metrics=${encodeURIComponent(metrics)}&start=${this.from}&end=${this.to}&points=${points}`);
      data.rows = data.t.length;
      data.columns = Object.keys(data.series).length;
      return data;
    }

    async fetchEvents() {
      const start = new Date(this.from).toISOString();
      const end = new Date(Math.max(this.to, this.from + 1000)).toISOString();
      const data = await getJson(`/api/v1/history/timeline/${encodeURIComponent(this.vm)}?startTime=${start}&endTime=${end}&pageSize=1000`);
      return data.events || [];
    }

    // The uPlot data and series of one panel: each metric's average line, the first metric's
    // min–max band and p95 line where the tier has them; file systems one line each.
    shape(panel, data) {
      const unit = panel.dataset.unit;
      const series = [{}];
      const bands = [];
      if (data.compare) {
        data.hosts.forEach((vm, i) => {
          series.push({ label: data.labels[i], stroke: COLORS[i % COLORS.length], width: 1.5, value: (u, v) => format(v, unit), spanGaps: false });
        });
        return { columns: data.joined, series, bands };
      }
      const xs = data.t.map((t) => t / 1000);
      const columns = [xs];
      const members = panel.dataset.list ? listMembers(panel, data.series) : null;
      const names = members ? members.map((m) => m[1]) : panel.dataset.metrics.split(',');
      const labels = members ? members.map((m) => m[0]) : panel.dataset.labels.split(',');
      names.forEach((name, i) => {
        const color = COLORS[i % COLORS.length];
        columns.push(data.series[name + '.avg'] || xs.map(() => null));
        series.push({ label: labels[i] || name, stroke: color, width: 1.5, value: (u, v) => format(v, unit), metric: name });
        if (i === 0 && data.series[name + '.max'] && !panel.dataset.list) {
          const hi = columns.push(data.series[name + '.max']) - 1;
          series.push({ label: 'max', stroke: 'transparent', width: 0, points: { show: false }, value: (u, v) => format(v, unit) });
          const lo = columns.push(data.series[name + '.min']) - 1;
          series.push({ label: 'min', stroke: 'transparent', width: 0, points: { show: false }, value: (u, v) => format(v, unit) });
          bands.push({ series: [hi, lo], fill: color + '26' });
          if (data.series[name + '.p95']) {
            columns.push(data.series[name + '.p95']);
            series.push({ label: 'p95', stroke: color, width: 1, dash: [4, 4], value: (u, v) => format(v, unit) });
          }
        }
      });
      return { columns, series, bands };
    }

    draw(panel, index, data) {
      const plot = panel.querySelector('.plot');
      const unit = panel.dataset.unit;
      const { columns, series, bands } = this.shape(panel, data);
      const thresholds = this.thresholds(panel);
      const self = this;
      const old = this.charts[index];
      if (old) old.destroy();
      plot.textContent = '';
      // The page's colours (light or dark, style/main.css) for the axes' text and the grid.
      const css = getComputedStyle(document.documentElement);
      const axisText = css.getPropertyValue('--muted').trim() || '#6B7785';
      const grid = css.getPropertyValue('--grid').trim() || '#EEF1F5';
      const yRange = unit === 'percent' ? [0, 100] : (u, min, max) => [0, Math.max(max * 1.1, ...thresholds.map((t) => t * 1.1), 1)];
      const opts = {
        width: this.width(panel),
        height: panel.dataset.list || this.view === 'compare' ? 220 : 160,
        scales: { x: { time: true, min: this.from / 1000, max: this.to / 1000 }, y: { range: yRange } },
        series,
        bands,
        axes: [{ stroke: axisText, grid: { stroke: grid } }, { stroke: axisText, size: 86, grid: { stroke: grid }, values: (u, vals) => vals.map((v) => format(v, unit)) }],
        cursor: { sync: { key: 'lookout-' + (this.vm || 'compare'), setSeries: false }, drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
        legend: { live: true },
        hooks: {
          setSelect: [(u) => {
            if (u.select.width < 3) return;
            const from = Math.round(u.posToVal(u.select.left, 'x') * 1000);
            const to = Math.round(u.posToVal(u.select.left + u.select.width, 'x') * 1000);
            u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
            // The synced charts repeat the selection: act once.
            const now = performance.now();
            if (self.lastSelect && now - self.lastSelect < 300) return;
            self.lastSelect = now;
            if (self.selectMode) self.options.onSelect(from, to);
            else self.options.onRange(from, to);
          }],
          draw: [(u) => self.decorate(u, panel, thresholds)],
          // Off the chart, the legend shows the newest values instead of dashes.
          setCursor: [(u) => { if (u.cursor.idx == null) showNewest(u); }],
        },
      };
      const chart = new uPlot(opts, columns, plot);
      chart.panel = panel;
      showNewest(chart);
      this.charts[index] = chart;
      panel.dataset.points = String(columns[0].length);
      panel.dataset.drawn = '1';
      if (panel.dataset.custom) panel.dataset.readAt = String(Date.now());
      let note = panel.querySelector('.panel-note');
      if (!note) {
        note = document.createElement('p');
        note.className = 'panel-note muted small';
        panel.appendChild(note);
      }
      note.textContent = (data.notes || []).join(' ');
    }

    thresholds(panel) {
      const metrics = (panel.dataset.alerts || '').split(',').filter(Boolean);
      return this.events
        .filter((e) => e.type === 'metric_alert' && e.metricData && metrics.includes(e.metricData.metric) && e.metricData.threshold != null)
        .map((e) => e.metricData.threshold)
        .filter((v, i, all) => all.indexOf(v) === i);
    }

    // The unit of the first chart an event with values concerns ('' when none does).
    unitOf(event) {
      if (!event.metricData) return '';
      const panel = this.panels.find((p) => p.dataset.unit && this.concerns(event, p));
      return panel ? panel.dataset.unit : '';
    }

    // Whether an event belongs on a panel: an alert on the panel of its rule's metric, an
    // anomaly on the panel of its series, power changes and notes on every panel.
    concerns(event, panel) {
      if (this.view === 'compare') return false;
      if (event.type === 'metric_alert') return (panel.dataset.alerts || '').split(',').includes(event.metricData && event.metricData.metric);
      if (event.type === 'anomaly') {
        const series = event.metricData && event.metricData.series;
        if (!series) return false;
        if (series === 'disk.usagePercent') return panel.dataset.list === 'filesystems';
        if (panel.dataset.custom) return panel.dataset.name === series;
        return (panel.dataset.metrics || '').split(',').includes(series);
      }
      return true;
    }

    // Event spans shaded on the panels they concern (the highlighted one stronger; spans wider
    // than half the range only as a bar along the top, so they do not hide the data); alert
    // thresholds as dashed lines.
    decorate(u, panel, thresholds) {
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      const dpr = devicePixelRatio || 1;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width, height);
      ctx.clip();
      for (const event of this.events) {
        if (!this.concerns(event, panel) && this.highlight !== event.id) continue;
        const at = Date.parse(event.timestamp) / 1000;
        const end = event.endTime ? Date.parse(event.endTime) / 1000 : at;
        const x0 = u.valToPos(at, 'x', true);
        const x1 = Math.max(x0 + 2 * dpr, u.valToPos(end, 'x', true));
        const color = EVENT_COLORS[event.type] || '#6B7280';
        const strong = this.highlight === event.id;
        if (!strong && x1 - x0 > width / 2) {
          ctx.fillStyle = color + '80';
          ctx.fillRect(x0, top, x1 - x0, 3 * dpr);
          continue;
        }
        ctx.fillStyle = color + (strong ? '40' : '1A');
        ctx.fillRect(x0, top, x1 - x0, height);
      }
      ctx.setLineDash([6, 4]);
      ctx.strokeStyle = '#DC2626';
      ctx.lineWidth = 1 * devicePixelRatio;
      for (const threshold of thresholds) {
        const y = u.valToPos(threshold, 'y', true);
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(left + width, y);
        ctx.stroke();
      }
      ctx.restore();
    }

    drawLane() {
      if (!this.lane) return;
      const first = this.charts.find(Boolean);
      this.lane.textContent = '';
      if (!first) return;
      const dpr = devicePixelRatio || 1;
      this.lane.style.marginLeft = first.bbox.left / dpr + 'px';
      this.lane.style.width = first.bbox.width / dpr + 'px';
      const span = this.to - this.from;
      for (const event of this.events) {
        // A span that began before the range shows at its left edge.
        const start = Date.parse(event.timestamp);
        const end = event.endTime ? Date.parse(event.endTime) : start;
        if (end < this.from || start > this.to) continue;
        const at = Math.max(start, this.from);
        const marker = document.createElement('button');
        marker.type = 'button';
        marker.className = 'event-marker event-' + event.type + (this.highlight === event.id ? ' highlighted' : '');
        marker.style.left = ((at - this.from) / span) * 100 + '%';
        marker.dataset.testid = 'event-marker';
        marker.dataset.type = event.type;
        marker.dataset.id = event.id;
        marker.setAttribute('aria-label', event.title);
        marker.addEventListener('mouseenter', () => this.showTooltip(marker, event));
        marker.addEventListener('mouseleave', () => this.hideTooltip());
        marker.addEventListener('click', () => this.openPopup(event));
        this.lane.appendChild(marker);
      }
      this.lane.dataset.count = String(this.lane.children.length);
      this.listEvents();
    }

    // The events listed under the charts follow the range too.
    listEvents() {
      const body = document.querySelector('[data-testid=events-table] tbody');
      if (!body) return;
      body.textContent = '';
      for (const event of this.events.slice(0, 200)) {
        const row = body.insertRow();
        row.dataset.testid = 'event-row';
        row.dataset.type = event.type;
        row.className = 'severity-' + (event.severity || '');
        const when = row.insertCell();
        const link = document.createElement('a');
        link.href = eventLink(event);
        link.textContent = new Date(event.timestamp).toISOString().replace('T', ' ').slice(0, 16);
        when.appendChild(link);
        const type = row.insertCell();
        const dot = document.createElement('span');
        dot.className = 'dot event-' + event.type;
        type.append(dot, event.type.replace('_', ' '));
        row.insertCell().textContent = event.title;
        row.insertCell().textContent = event.severity || '';
        const details = row.insertCell();
        details.className = 'muted small';
        details.textContent = event.description || '';
        const investigate = document.createElement('a');
        investigate.className = 'small';
        investigate.href = investigateLink(event);
        investigate.dataset.testid = 'event-investigate';
        investigate.title = 'what else changed on this host then';
        investigate.textContent = 'what changed';
        row.insertCell().appendChild(investigate);
      }
    }

    showTooltip(marker, event) {
      if (!this.tooltip) return;
      this.tooltip.textContent = describe(event, this.unitOf(event)).join('\n');
      this.tooltip.hidden = false;
      // Beside the marker, kept inside the charts' width.
      const room = this.root.clientWidth - this.tooltip.offsetWidth - 8;
      const x = this.lane.offsetLeft + marker.offsetLeft;
      this.tooltip.style.left = Math.max(0, Math.min(x, room)) + 'px';
    }

    hideTooltip() {
      if (this.tooltip) this.tooltip.hidden = true;
    }

    openHighlighted() {
      const event = this.events.find((e) => e.id === this.highlight);
      if (event) this.openPopup(event);
    }

    openPopup(event) {
      const popup = this.popup;
      if (!popup) return;
      popup.textContent = '';
      popup.dataset.id = event.id;
      popup.dataset.type = event.type;
      const title = document.createElement('h3');
      title.textContent = event.title;
      popup.appendChild(title);
      for (const line of describe(event, this.unitOf(event)).slice(1)) {
        const p = document.createElement('p');
        p.textContent = line;
        popup.appendChild(p);
      }
      const status = document.createElement('p');
      status.className = 'muted';
      status.dataset.testid = 'event-status';
      status.textContent = event.acknowledged ? 'acknowledged or resolved' : 'open';
      popup.appendChild(status);
      const actions = document.createElement('div');
      actions.className = 'actions';
      const button = (label, testid, run) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = label;
        b.dataset.testid = testid;
        b.addEventListener('click', async () => {
          b.disabled = true;
          try {
            await run();
            status.textContent = label === 'Acknowledge' ? 'acknowledged' : 'resolved';
            status.dataset.state = label === 'Acknowledge' ? 'acknowledged' : 'resolved';
            this.events = await this.fetchEvents();
            this.drawLane();
            this.charts.forEach((c) => c && c.redraw());
          } catch (error) {
            status.textContent = 'failed: ' + (error.message || error);
            b.disabled = false;
          }
        });
        actions.appendChild(b);
      };
      if (event.type === 'anomaly') {
        button('Acknowledge', 'event-acknowledge', () => postJson(`/api/v1/history/anomalies/${encodeURIComponent(event.id)}/acknowledge`));
        button('Resolve', 'event-resolve', () => postJson(`/api/v1/history/anomalies/${encodeURIComponent(event.id)}/resolve`, { resolution: 'resolved from the host view' }));
      } else if (event.type === 'metric_alert') {
        button('Resolve', 'event-resolve', () => postJson(`/api/v1/performance/alerts/${encodeURIComponent(event.id)}/resolve`, { resolution: 'resolved from the host view' }));
      }
      const around = document.createElement('a');
      around.href = eventLink(event);
      around.textContent = '±30 min around it';
      actions.appendChild(around);
      const close = document.createElement('button');
      close.type = 'button';
      close.textContent = 'Close';
      close.addEventListener('click', () => { popup.hidden = true; });
      actions.appendChild(close);
      popup.appendChild(actions);
      popup.hidden = false;
    }

    resize() {
      clearTimeout(this.resizeTimer);
      this.resizeTimer = setTimeout(() => {
        this.charts.forEach((chart) => chart && chart.setSize({ width: this.width(chart.panel), height: chart.height }));
        this.drawLane();
      }, 100);
    }

    onLive(event) {
      if (event.type === 'metric_update' && event.host === this.vm) {
        updateCards(event.metric, event.absent);
        if (!this.live || this.resolution !== 'raw') return;
        const t = Date.parse(event.metric.timestamp);
        if (t <= this.lastT()) return;
        const span = this.to - this.from;
        this.to = Math.max(this.to, t);
        this.from = this.to - span;
        this.charts.forEach((chart, index) => {
          if (chart && chart.panel.dataset.custom) this.followCustom(chart, index, t);
        });
        for (const chart of this.charts) {
          if (!chart || chart.panel.dataset.custom) continue;
          const data = chart.data.map((column, i) => {
            if (i === 0) return [...column, t / 1000];
            const name = chart.series[i].metric;
            return [...column, name ? liveValue(event.metric, name, event.absent) : null];
          });
          const keep = data[0].findIndex((x) => x >= this.from / 1000);
          const trimmed = keep > 0 ? data.map((column) => column.slice(keep)) : data;
          chart.setData(trimmed, false);
          chart.setScale('x', { min: this.from / 1000, max: this.to / 1000 });
        }
        this.root.dataset.lastT = String(this.lastT());
        this.root.dataset.from = String(this.from);
        this.root.dataset.to = String(this.to);
      } else if ((event.type === 'alert_triggered' || event.type === 'alert_resolved') && event.alert && event.alert.host === this.vm) {
        this.fetchEvents().then((events) => { this.events = events; this.drawLane(); this.charts.forEach((c) => c && c.redraw()); });
      } else if (event.type === 'anomaly_detected' && event.anomaly && event.anomaly.vmId === this.vm) {
        this.fetchEvents().then((events) => { this.events = events; this.drawLane(); this.charts.forEach((c) => c && c.redraw()); });
      }
    }

    // A custom metric's chart in a live view: samples carry none of its points, so it moves with
    // the range and re-reads its buckets at most once a minute.
    followCustom(chart, index, t) {
      chart.setScale('x', { min: this.from / 1000, max: this.to / 1000 });
      const panel = chart.panel;
      if (t - (+panel.dataset.readAt || 0) < 60000) return;
      panel.dataset.readAt = String(t);
      this.fetchPanel(panel).then((data) => { if (this.charts[index] === chart) this.draw(panel, index, data); }).catch(() => {});
    }

    refreshEvents() {
      return this.fetchEvents().then((events) => { this.events = events; this.drawLane(); this.charts.forEach((c) => c && c.redraw()); });
    }

    destroy() {
      this.unlisten();
      this.resizeObserver.disconnect();
      clearTimeout(this.refreshTimer);
      this.charts.forEach((c) => c && c.destroy());
    }
  }

  function showNewest(u) {
    const xs = u.data[0];
    for (let i = xs.length - 1; i >= 0; i--) {
      if (u.data.slice(1).some((column) => column[i] != null)) {
        u.setLegend({ idx: i }, false);
        return;
      }
    }
  }

  // The header cards of the host view follow the live stream.
  function updateCards(stats, absent) {
    for (const el of document.querySelectorAll('[data-stat]')) {
      const [name, unit] = el.dataset.stat.split('|');
      const v = liveValue(stats, name, absent);
      if (v != null) el.textContent = format(v, unit);
    }
    const updated = document.querySelector('[data-testid=updated-at]');
    if (updated) updated.textContent = new Date(stats.timestamp).toISOString().slice(11, 19) + ' UTC';
  }

  // ---- toasts: new alerts and anomalies on any host, with a link to them -----------------------

  function toasts() {
    const box = document.createElement('div');
    box.className = 'toasts';
    box.setAttribute('aria-live', 'polite');
    document.body.appendChild(box);
    socket.listen((event) => {
      let text;
      let link;
      if (event.type === 'alert_triggered' && event.alert) {
        const a = event.alert;
        text = `${a.level}: ${a.message}`;
        if (!a.host) return;
        const at = Date.parse(a.created_at);
        link = `/hosts/${encodeURIComponent(a.host)}?from=${at - 1800000}&to=${at + 1800000}&event=${encodeURIComponent(a.id)}`;
      } else if (event.type === 'anomaly_detected' && event.anomaly) {
        const a = event.anomaly;
        text = `${a.severity} ${a.type.replace('_', ' ')} on ${a.vmName || a.vmId}: ${a.metric}.${a.series}`;
        link = eventLink({ vmId: a.vmId, timestamp: a.timestamp, id: a.id });
      } else {
        return;
      }
      const toast = document.createElement('a');
      toast.className = 'toast';
      toast.href = link;
      toast.dataset.testid = 'toast';
      toast.textContent = text;
      box.prepend(toast);
      while (box.children.length > 4) box.lastChild.remove();
      setTimeout(() => toast.remove(), 15000);
    });
  }

  // ---- the top bar's count of firing alerts, kept current from the stream -------------------

  const LEVELS = ['critical', 'warning', 'info'];

  function firingBadge() {
    const link = document.querySelector('[data-testid="nav-alerts"]');
    if (!link) return;
    let pending = null;
    // The counts are asked for again (one request per level) rather than added up from events,
    // so the colour follows what is left after a resolve and a missed event cannot drift it.
    const refresh = async () => {
      pending = null;
      let counts;
      try {
        counts = await Promise.all(LEVELS.map((level) => getJson(`/api/v1/performance/alerts?level=${level}&limit=1`).then((d) => d.summary.active)));
      } catch (_) {
        return; // the next alert event asks again
      }
      const total = counts.reduce((a, b) => a + b, 0);
      let badge = link.querySelector('[data-testid="nav-firing"]');
      if (total === 0) {
        if (badge) badge.remove();
        return;
      }
      if (!badge) {
        badge = document.createElement('span');
        badge.dataset.testid = 'nav-firing';
        link.append(' ', badge);
      }
      const level = LEVELS[counts.findIndex((n) => n > 0)];
      badge.className = `badge firing level-${level}`;
      badge.textContent = String(total);
      badge.title = `${total} active alerts, the most severe ${level}`;
    };
    socket.listen((event) => {
      if (event.type !== 'alert_triggered' && event.type !== 'alert_resolved') return;
      // Alerts often come in bursts (one rule over many hosts): one refresh per second at most.
      if (!pending) pending = setTimeout(refresh, 1000);
    });
  }

  window.Lookout = {
    mountCharts(root, from, to, live, highlight, onRange, onSelect) {
      if (typeof uPlot === 'undefined') throw new Error('uPlot did not load');
      return new Explorer(root, { from, to, live, highlight, onRange, onSelect });
    },
    postJson,
    format,
  };

  // Only signed-in pages (they have the top bar) listen; the sign-in page has no stream to open.
  const start = () => {
    if (!document.querySelector('header.topbar')) return;
    toasts();
    firingBadge();
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
