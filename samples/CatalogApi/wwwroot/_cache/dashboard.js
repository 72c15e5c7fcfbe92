// Live dashboard for TieredResponseCaching: polls the stats endpoint (MapTieredResponseCacheStats) and charts it.
// Plain JS, no build step. Query string: ?stats=<url of the stats endpoint>&interval=<milliseconds>.
// The sample's ops key comes in the fragment, #key=<key> (a fragment is never sent to a server, so the key stays out of
// access logs), is kept for this tab in sessionStorage and sent as X-Ops-Key.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const fragmentKey = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fragmentKey) {
    sessionStorage.setItem("opsKey", fragmentKey);
  }
  const opsKey = fragmentKey || sessionStorage.getItem("opsKey");
  const statsUrl = params.get("stats") || "stats";
  const interval = Math.max(250, Number(params.get("interval")) || 1000);
  const historyLength = 120;
  const palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

  const history = []; // { at, requests, hitRate, cost: Map<endpoint, ms> }
  let previous = null;

  const $ = id => document.getElementById(id);
  const int = n => Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–";
  const num = (n, digits = 1) => Number.isFinite(n) ? n.toFixed(digits) : "–";
  const pct = n => Number.isFinite(n) ? (n * 100).toFixed(1) + " %" : "–";
  const bytes = n => !Number.isFinite(n) ? "–"
    : n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + " GiB"
    : n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + " MiB"
    : n >= 1 << 10 ? (n / (1 << 10)).toFixed(1) + " KiB"
    : n + " B";

  $("source").textContent = statsUrl;
  $("interval").textContent = String(interval / 1000);

  function setStatus(text, state) {
    const status = $("status");
    status.textContent = text;
    status.dataset.state = state;
  }

  function totals(stats) {
    const sum = field => stats.endpoints.reduce((total, e) => total + (e[field] || 0), 0);
    const requests = sum("requests");
    // Window rates weighted by each endpoint's requests: the whole app's hit rate and miss cost.
    const weighted = field => requests === 0 ? NaN
      : stats.endpoints.reduce((total, e) => total + (e[field] || 0) * (e.requests || 0), 0) / requests;
    return { requests, hitRate: weighted("hitRate"), staleRate: weighted("staleRate"), cost: weighted("weightedMissCostMs") };
  }

  function render(all) {
    // Endpoints nobody has called yet stay out of the table and the charts.
    const stats = { ...all, endpoints: all.endpoints.filter(e => (e.requests || 0) > 0) };
    const t = totals(stats);
    // The browser's clock: generatedAt has whole seconds only, too coarse for a rate between two polls.
    const at = Date.now();
    const rate = previous && at > previous.at ? (t.requests - previous.requests) * 1000 / (at - previous.at) : NaN;
    previous = { at, requests: t.requests };

    $("total-requests").textContent = int(t.requests);
    $("total-rate").textContent = num(rate) + " req/s";
    $("hit-rate").textContent = pct(t.hitRate);
    $("stale-rate").textContent = "stale " + pct(t.staleRate);
    $("miss-cost").textContent = num(t.cost, 2);
    $("window").textContent = String(stats.windowSeconds ?? "–");

    const l1 = stats.tiers?.l1 ?? {};
    $("l1-entries").textContent = int(l1.entries) + " entries";
    $("l1-bytes").textContent = bytes(l1.bytes) + (l1.sizeLimit ? " of " + bytes(l1.sizeLimit) : "");
    const ev = l1.evictions ?? {};
    $("l1-evictions").textContent = `evicted: ${int(ev.size ?? 0)} size, ${int(ev.expired ?? 0)} expired, ${int(ev.invalidated ?? 0)} invalidated`;

    const l2 = stats.tiers?.l2 ?? { configured: false };
    if (!l2.configured) {
      $("l2-state").textContent = "off";
      $("l2-detail").textContent = "not configured (L1 only)";
    } else {
      $("l2-state").textContent = !l2.connected ? "down" : l2.breaker === "open" ? "breaker open" : "up";
      $("l2-detail").textContent = `${int(l2.hits)} hits, ${int(l2.errors)} errors, p99 ${num(l2.callP99Ms, 2)} ms`;
    }

    renderTable(stats.endpoints);

    const cost = new Map(stats.endpoints.map(e => [e.endpoint, e.weightedMissCostMs ?? 0]));
    history.push({ at, rate, hitRate: t.hitRate, cost });
    if (history.length > historyLength) history.shift();
    drawChart($("chart-rate"), [{ color: palette[0], values: history.map(h => h.rate) }], null);
    drawChart($("chart-hit"), [{ color: palette[2], values: history.map(h => h.hitRate) }], 1);
    const names = [...new Set(history.flatMap(h => [...h.cost.keys()]))].sort();
    const series = names.map((name, i) => ({ name, color: palette[i % palette.length], values: history.map(h => h.cost.get(name) ?? NaN) }));
    drawChart($("chart-cost"), series, null);
    $("legend-cost").replaceChildren(...series.map(s => {
      const item = document.createElement("li");
      const swatch = document.createElement("i");
      swatch.style.background = s.color;
      item.append(swatch, s.name);
      return item;
    }));
  }

  function renderTable(endpoints) {
    const fields = [
      ["requests", int], ["hits", int], ["stale", int], ["misses", int], ["collapsed", int], ["bypass", int],
      ["hitRate", pct], ["staleRate", pct], ["missLatencyP50Ms", n => num(n, 1)], ["missLatencyP99Ms", n => num(n, 1)],
      ["weightedMissCostMs", n => num(n, 2)], ["entries", int], ["bytes", bytes],
    ];
    const rows = [...endpoints].sort((a, b) => (b.weightedMissCostMs ?? 0) - (a.weightedMissCostMs ?? 0) || a.endpoint.localeCompare(b.endpoint))
      .map(e => {
        const row = document.createElement("tr");
        row.dataset.endpoint = e.endpoint;
        const name = document.createElement("td");
        name.textContent = e.endpoint;
        row.append(name);
        for (const [field, format] of fields) {
          const cell = document.createElement("td");
          cell.dataset.field = field;
          cell.dataset.value = String(e[field] ?? "");
          cell.textContent = format(e[field]);
          row.append(cell);
        }
        return row;
      });
    document.querySelector("#endpoints tbody").replaceChildren(...rows);
  }

  function drawChart(canvas, series, fixedMax) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || canvas.width;
    const height = canvas.clientHeight || canvas.height;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    const g = canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    const pad = { left: 44, right: 8, top: 8, bottom: 18 };
    const finite = series.flatMap(s => s.values.filter(Number.isFinite));
    const max = fixedMax ?? Math.max(1e-9, ...finite) * 1.1;
    const x = i => pad.left + (width - pad.left - pad.right) * i / Math.max(1, historyLength - 1);
    const y = v => height - pad.bottom - (height - pad.top - pad.bottom) * Math.min(v, max) / max;

    g.strokeStyle = "#dde1e8";
    g.fillStyle = "#5d6678";
    g.font = "11px system-ui, sans-serif";
    g.lineWidth = 1;
    for (const fraction of [0, 0.5, 1]) {
      const v = max * fraction;
      g.beginPath();
      g.moveTo(pad.left, y(v));
      g.lineTo(width - pad.right, y(v));
      g.stroke();
      g.fillText(fixedMax === 1 ? (v * 100).toFixed(0) + "%" : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2), 4, y(v) + 4);
    }

    for (const s of series) {
      const offset = historyLength - s.values.length;
      g.strokeStyle = s.color;
      g.lineWidth = 2;
      g.beginPath();
      let drawing = false;
      s.values.forEach((v, i) => {
        if (!Number.isFinite(v)) { drawing = false; return; }
        if (drawing) g.lineTo(x(offset + i), y(v)); else g.moveTo(x(offset + i), y(v));
        drawing = true;
      });
      g.stroke();
    }
  }

  async function poll() {
    try {
      const headers = { Accept: "application/json" };
      if (opsKey) {
        headers["X-Ops-Key"] = opsKey;
      }
      const response = await fetch(statsUrl, { headers, cache: "no-store", credentials: "same-origin" });
      if (response.status === 401 || response.status === 403) {
        setStatus(`not authorized (${response.status}): open the dashboard as /_cache/#key=<ops key> (the app logs the URL at startup)`, "error");
      } else if (!response.ok) {
        setStatus(`stats endpoint answered ${response.status}`, "error");
      } else {
        render(await response.json());
        setStatus("updated " + new Date().toLocaleTimeString("en-GB"), "ok");
      }
    } catch (error) {
      setStatus("cannot reach the stats endpoint: " + error.message, "error");
    } finally {
      setTimeout(poll, interval);
    }
  }

  poll();
})();
