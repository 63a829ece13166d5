// Tachyon dashboard: draws the snapshots the gateway pushes once a second on
// the WebSocket /api/v1/live (see README, "Operating"). Plain JS, no build
// step; charts by Chart.js, served by the gateway from Debian's package.
//
// window.tachyonDashboard exposes what the page received (snapshot count,
// the last snapshot, the charts) so that a browser test can check it.
'use strict';

(function () {
  const kPoints = 120;  // seconds of history kept per chart
  const kPalette = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bf8700',
                    '#1b7c83', '#e16f24', '#6e7781'];

  const state = { snapshots: 0, last: null, charts: {}, errors: 0 };
  window.tachyonDashboard = state;

  function lineChart(id, yTitle) {
    const canvas = document.getElementById(id);
    return new Chart(canvas, {
      type: 'line',
      data: { labels: [], datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        normalized: true,
        elements: { point: { radius: 0 }, line: { borderWidth: 1.5 } },
        scales: {
          x: { ticks: { maxTicksLimit: 6 } },
          y: { beginAtZero: true, title: { display: true, text: yTitle } },
        },
        plugins: { legend: { labels: { boxWidth: 12 } } },
      },
    });
  }

  // The dataset named `label` of `chart`, created on first use. Colours
  // come from a per-chart count, so a removed series frees no colour twice.
  function series(chart, label) {
    let ds = chart.data.datasets.find((d) => d.label === label);
    if (!ds) {
      chart.$created = (chart.$created || 0) + 1;
      const color = kPalette[(chart.$created - 1) % kPalette.length];
      ds = { label, data: new Array(chart.data.labels.length).fill(null),
             borderColor: color, backgroundColor: color };
      chart.data.datasets.push(ds);
    }
    return ds;
  }

  // Appends one point per series: `values` maps a series label to its value
  // (a series missing from `values` gets a gap).
  function push(chart, label, values) {
    chart.data.labels.push(label);
    for (const name of Object.keys(values)) series(chart, name);
    for (const ds of chart.data.datasets) {
      ds.data.push(Object.prototype.hasOwnProperty.call(values, ds.label)
                       ? values[ds.label] : null);
    }
    if (chart.data.labels.length > kPoints) {
      chart.data.labels.shift();
      for (const ds of chart.data.datasets) ds.data.shift();
    }
    chart.update('none');
  }

  // Removes the datasets of `chart` whose label is not in `keep` (a stream
  // retired or deleted: its series goes with it).
  function prune(chart, keep) {
    chart.data.datasets = chart.data.datasets.filter((d) => keep.has(d.label));
  }

  function text(id, value) {
    document.getElementById(id).textContent = value;
  }

  function formatDuration(seconds) {
    const s = Math.floor(seconds);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + (s % 60) + 's';
  }

  function formatBytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
  }

  function fillTable(id, rows, cells) {
    const body = document.querySelector('#' + id + ' tbody');
    body.replaceChildren(...rows.map((row) => {
      const tr = document.createElement('tr');
      for (const [key, value] of cells(row)) {
        const td = document.createElement('td');
        td.textContent = value;
        if (key) td.dataset.key = key;
        tr.appendChild(td);
      }
      tr.dataset.name = row.name !== undefined ? row.name
                                                : row.service + '@' + row.endpoint;
      return tr;
    }));
  }

  // The latency histogram the delivery chart shows (first one present).
  function deliveryLatency(windowed) {
    if (!windowed) return null;
    for (const name of Object.keys(windowed)) {
      if (name.indexOf('delivery') >= 0) return windowed[name];
    }
    return null;
  }

  function render(snap) {
    state.snapshots += 1;
    state.last = snap;
    const label = new Date(snap.time_ms).toLocaleTimeString();
    const streams = snap.streams || [];
    const backends = snap.backends || [];

    text('uptime', formatDuration(snap.uptime_s || 0));
    text('sessions', snap.sessions_open);
    text('accepted', snap.connections_accepted_total);
    text('slow', snap.slow_consumers_total);
    text('drops', snap.drops_total);

    const rates = {};
    for (const s of streams) rates[s.name] = s.msgs_per_sec;
    prune(state.charts.rates, new Set(Object.keys(rates)));
    push(state.charts.rates, label, rates);

    const lat = deliveryLatency(snap.latency_window);
    const latency = {};
    if (lat && lat.count > 0) {
      latency.p50 = lat.p50_ns / 1000;
      latency.p99 = lat.p99_ns / 1000;
      latency['p99.9'] = lat.p999_ns / 1000;
    }
    push(state.charts.latency, label, latency);

    push(state.charts.sessions, label, { sessions: snap.sessions_open });
    push(state.charts.losses, label, {
      'slow consumers': snap.slow_consumers_total,
      drops: snap.drops_total,
    });

    const pools = {};
    for (const b of backends) {
      pools[b.service + '@' + b.endpoint + ' ready'] = b.ready;
      pools[b.service + '@' + b.endpoint + ' predicted'] = b.predicted;
    }
    prune(state.charts.backends, new Set(Object.keys(pools)));
    push(state.charts.backends, label, pools);

    fillTable('streams', streams, (s) => [
      ['name', s.name],
      ['retained', s.first_sequence + ' .. ' + s.next_sequence],
      ['appends_total', s.appends_total],
      ['msgs_per_sec', Math.round(s.msgs_per_sec)],
      ['publishers', s.publishers],
      ['subscribers', s.subscribers],
      ['slow_consumers_total', s.slow_consumers_total],
      ['committed_bytes', formatBytes(s.committed_bytes)],
    ]);
    fillTable('backends', backends, (b) => [
      ['service', b.service], ['endpoint', b.endpoint], ['ready', b.ready],
      ['busy', b.busy], ['predicted', b.predicted],
    ]);
  }

  function setStatus(cls, message) {
    const el = document.getElementById('status');
    el.className = 'status ' + cls;
    el.textContent = message;
  }

  function connect(delayMs) {
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    const ws = new WebSocket(scheme + location.host + '/api/v1/live');
    ws.onopen = () => { setStatus('live', 'live'); delayMs = 500; };
    ws.onmessage = (event) => {
      try {
        render(JSON.parse(event.data));
      } catch (e) {
        state.errors += 1;
        console.error('bad snapshot', e);
      }
    };
    ws.onclose = () => {
      // The gateway restarted or went away: retry, backing off to 10 s.
      setStatus('down', 'disconnected; retrying');
      setTimeout(() => connect(Math.min(delayMs * 2, 10000)), delayMs);
    };
  }

  state.charts.rates = lineChart('chart-rates', 'msgs/s');
  state.charts.latency = lineChart('chart-latency', 'µs');
  state.charts.sessions = lineChart('chart-sessions', 'sessions');
  state.charts.losses = lineChart('chart-losses', 'events');
  state.charts.backends = lineChart('chart-backends', 'connections');
  connect(500);
})();
