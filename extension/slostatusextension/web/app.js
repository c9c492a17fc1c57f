// SLO status page of the slo_status extension. Plain JavaScript, no dependencies: everything it
// needs is served by the extension itself (GET /observability/slo/status?history=true).
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const MAX_GROUPS = 12; // groups drawn per SLO; the JSON API has them all
const STATUS_URL = "/observability/slo/status?history=true&history_groups=" + MAX_GROUPS;

// h builds an HTML element: h("td", {class: "num"}, "text", child...).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// s builds an SVG element.
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? "" : String(v));
  }
}

function badge(kind, text) {
  return h("span", { class: "badge badge-" + kind }, text || kind.replace("_", " "));
}

function pct(v) {
  return v === null || v === undefined ? "no data" : v.toFixed(2) + "%";
}

function ratioPct(v, digits) {
  return (v * 100).toFixed(digits === undefined ? 3 : digits) + "%";
}

function burn(v) {
  return v === null || v === undefined ? "–" : v.toFixed(v >= 10 ? 1 : 2) + "×";
}

function ago(iso, now) {
  if (!iso) return "–";
  const sec = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (sec < 90) return Math.round(sec) + "s ago";
  if (sec < 5400) return Math.round(sec / 60) + "m ago";
  if (sec < 172800) return (sec / 3600).toFixed(1) + "h ago";
  return (sec / 86400).toFixed(1) + "d ago";
}

function clock(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, "0");
  return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
}

function labelText(labels) {
  const keys = Object.keys(labels || {}).sort();
  return keys.length ? keys.map((k) => k + "=" + labels[k]).join(", ") : "";
}

// budgetOrder sorts SLOs by budget remaining, worst first; SLOs without data go last.
function budgetOrder(a, b) {
  const av = a.budget_remaining_percent, bv = b.budget_remaining_percent;
  if (av === null && bv === null) return a.name.localeCompare(b.name);
  if (av === null) return 1;
  if (bv === null) return -1;
  return av - bv || a.name.localeCompare(b.name);
}

function renderSummary(slos) {
  const body = document.querySelector("#summary tbody");
  body.replaceChildren(...slos.map((slo) =>
    h("tr", { "data-slo": slo.name, "data-processor": slo.processor },
      h("td", {}, h("a", { href: "#slo-" + slo.processor + "-" + slo.name }, slo.name)),
      h("td", {}, ratioPct(slo.objective, slo.objective >= 0.99 ? 1 : 0)),
      h("td", {}, slo.window),
      h("td", {}, slo.budgeting),
      h("td", { class: "num budget", "data-budget": slo.budget_remaining_percent === null ? "null" : String(slo.budget_remaining_percent) },
        pct(slo.budget_remaining_percent)),
      h("td", {}, badge(slo.budget_status)),
      h("td", {}, slo.compliant === null ? "–" : slo.compliant ? "yes" : "no"),
      h("td", { class: "num" }, String(slo.firing_alerts)))));
}

// burnDown draws a group's error budget remaining over the history the extension kept.
function burnDown(slo, group, nowMs) {
  const W = 560, H = 150, L = 40, R = 10, T = 8, B = 22;
  const pts = (group.budget_history || []).map((p) => [p[0] * 1000, p[1]]);
  if (pts.length === 0) pts.push([nowMs, group.budget_remaining_percent]);
  const windowStart = nowMs - slo.window_seconds * 1000;
  const t0 = Math.max(windowStart, Math.min(pts[0][0], nowMs - 60000));
  const t1 = Math.max(nowMs, pts[pts.length - 1][0]);
  const vmin = Math.min(0, ...pts.map((p) => p[1]));
  const vmax = Math.max(100, ...pts.map((p) => p[1]));
  const x = (t) => L + ((t - t0) / (t1 - t0 || 1)) * (W - L - R);
  const y = (v) => T + ((vmax - v) / (vmax - vmin || 1)) * (H - T - B);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": `Error budget remaining of ${slo.name}` });
  for (const v of [0, 25, 50, 75, 100]) {
    svg.append(s("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    svg.append(s("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end" }, v + "%"));
  }
  const th = slo.budget_thresholds_percent || {};
  for (const k of ["warning", "high", "critical"]) {
    if (th[k] > 0) {
      svg.append(s("line", { class: "th-" + k, x1: L, x2: W - R, y1: y(th[k]), y2: y(th[k]) },
        s("title", {}, `${k} below ${th[k]}%`)));
    }
  }
  if (vmin < 0) svg.append(s("line", { class: "zero", x1: L, x2: W - R, y1: y(0), y2: y(0) }));
  svg.append(s("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
  svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  const line = pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
  const last = pts[pts.length - 1];
  svg.append(s("polygon", { class: "area",
    points: `${x(pts[0][0]).toFixed(1)},${y(vmin)} ${line} ${x(last[0]).toFixed(1)},${y(vmin)}` }));
  svg.append(s("polyline", { class: "line", points: line }));
  svg.append(s("circle", { class: "dot", cx: x(last[0]), cy: y(last[1]), r: 3 },
    s("title", {}, `${pct(last[1])} at ${clock(last[0])}`)));
  svg.append(s("text", { x: L, y: H - 6 }, clock(t0)));
  svg.append(s("text", { x: W - R, y: H - 6, "text-anchor": "end" }, "now"));
  return svg;
}

// burnRates draws each rule's long and short window burn rates against its threshold.
function burnRates(group) {
  const rows = (group.burn_rates || []).map((r) => {
    const W = 260, H = 24;
    const top = Math.max(r.threshold * 1.25, r.long_burn_rate, r.short_burn_rate, 1);
    const bx = (v) => (Math.min(v, top) / top) * W;
    const over = (v) => v >= r.threshold;
    const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
      "aria-label": `burn rate ${r.long_window} and ${r.short_window} against ${r.threshold}` },
      s("rect", { class: over(r.long_burn_rate) ? "bar-over" : "bar-long", x: 0, y: 2, height: 9, width: bx(r.long_burn_rate) },
        s("title", {}, `${r.long_window}: ${burn(r.long_burn_rate)}`)),
      s("rect", { class: over(r.short_burn_rate) ? "bar-over" : "bar-short", x: 0, y: 13, height: 9, width: bx(r.short_burn_rate) },
        s("title", {}, `${r.short_window}: ${burn(r.short_burn_rate)}`)),
      s("line", { class: "threshold", x1: bx(r.threshold), x2: bx(r.threshold), y1: 0, y2: H },
        s("title", {}, `threshold ${burn(r.threshold)}`)));
    return h("tr", { class: r.exceeded ? "exceeded" : "" },
      h("td", {}, badge(r.severity === "critical" ? "critical" : "warning", r.severity === "critical" ? "page" : "ticket")),
      h("td", {}, `${r.long_window} ∧ ${r.short_window}`),
      h("td", { class: "num" }, burn(r.threshold)),
      h("td", { class: "num" }, burn(r.long_burn_rate)),
      h("td", { class: "num" }, burn(r.short_burn_rate)),
      h("td", { class: "bars" }, svg));
  });
  if (rows.length === 0) return h("div", { class: "empty" }, "no burn-rate rules");
  return h("table", { class: "burn" },
    h("thead", {}, h("tr", {}, h("th", {}, "rule"), h("th", {}, "windows"), h("th", { class: "num" }, "threshold"),
      h("th", { class: "num" }, "long"), h("th", { class: "num" }, "short"), h("th", {}, "burn rate vs threshold"))),
    h("tbody", {}, rows));
}

function alertList(group, nowMs) {
  const active = (group.alerts || []).filter((a) => a.state !== "resolved");
  if (active.length === 0) return h("div", { class: "empty" }, "no alerts");
  return h("ul", { class: "alerts" }, active.map((a) =>
    h("li", { "data-alert": a.name },
      badge(a.state), " ", badge(a.severity), " ", a.name,
      a.long_window ? ` (${a.long_window} ∧ ${a.short_window})` : "", " · since ", ago(a.active_since, nowMs))));
}

function renderCards(slos, nowMs) {
  const cards = slos.map((slo) => {
    const groups = [...slo.groups].sort((a, b) => a.budget_remaining_percent - b.budget_remaining_percent);
    const shown = groups.slice(0, MAX_GROUPS);
    return h("article", { class: "card", id: "slo-" + slo.processor + "-" + slo.name, "data-slo": slo.name },
      h("header", {},
        h("div", {}, h("h3", {}, slo.name), h("div", { class: "desc" }, slo.description || "")),
        h("div", {}, h("span", { class: "big budget", "data-budget": slo.budget_remaining_percent === null ? "null" : String(slo.budget_remaining_percent) },
          pct(slo.budget_remaining_percent)), " ", badge(slo.budget_status))),
      h("div", { class: "facts" },
        h("span", {}, "objective " + ratioPct(slo.objective, slo.objective >= 0.99 ? 1 : 0)),
        h("span", {}, "window " + slo.window),
        h("span", {}, "error budget " + slo.error_budget_percent.toFixed(2) + "%"),
        h("span", {}, slo.budgeting),
        slo.processor !== "slo" ? h("span", {}, "processor " + slo.processor) : null),
      shown.length === 0 ? h("div", { class: "empty" }, "no data yet: no events matched this SLO") : null,
      shown.map((g) => h("div", { class: "group" },
        labelText(g.labels) ? h("div", { class: "labels" }, labelText(g.labels)) : null,
        h("div", { class: "facts" },
          h("span", {}, `SLI ${ratioPct(g.sli)} over ${slo.window}`),
          h("span", {}, `${g.bad_events} bad of ${g.events} ${slo.budgeting === "timeslices" ? "slices" : "events"}`),
          h("span", {}, g.compliant ? "compliant" : "not compliant")),
        h("div", { class: "chart-title" }, `error budget remaining (${(g.budget_history || []).length} samples)`),
        burnDown(slo, g, nowMs),
        burnRates(g),
        alertList(g, nowMs))),
      groups.length > shown.length ? h("div", { class: "empty" }, `${groups.length - shown.length} more groups in the JSON API`) : null);
  });
  document.getElementById("slos").replaceChildren(h("h2", {}, "SLOs", h("small", {}, "burn-down, burn rates and alerts")), h("div", { class: "cards" }, cards));
}

function unitText(unit, v) {
  if (v === null || v === undefined) return "–";
  switch (unit) {
    case "seconds": return (v * 1000).toFixed(0) + " ms";
    case "ratio": return (v * 100).toFixed(2) + "%";
    case "usd_per_request": return "$" + v.toFixed(4);
  }
  return String(v);
}

function renderRegressions(regs, nowMs) {
  const box = document.getElementById("regressions");
  if (regs.length === 0) {
    box.replaceChildren(h("div", { class: "empty", id: "no-regressions" }, "no active regressions"));
    return;
  }
  box.replaceChildren(h("table", { class: "summary" },
    h("thead", {}, h("tr", {}, ["operation", "type", "state", "severity", "since", "baseline → current", "ratio", "traces"].map((t) => h("th", {}, t)))),
    h("tbody", {}, regs.map((r) => h("tr", { "data-operation": r.operation, "data-type": r.type },
      h("td", {}, r.operation),
      h("td", {}, r.type.replace("_regression", "").replace("_", " ")),
      h("td", {}, badge(r.state)),
      h("td", {}, badge(r.severity)),
      h("td", {}, ago(r.active_since, nowMs)),
      h("td", {}, r.figures.map((f) => (f.quantile ? "p" + (Number(f.quantile) * 100) + " " : "") +
        unitText(r.unit, f.baseline) + " → " + unitText(r.unit, f.current)).join("; ") || "–"),
      h("td", { class: "num" }, burn(r.ratio)),
      h("td", {}, r.jaeger_url ? h("a", { href: r.jaeger_url, target: "_blank", rel: "noopener" }, "Jaeger") : "–"))))));
}

// renderClassification lists, per service, the share of its spans that an instrumentation
// profile classified; the least classified first, since a service at 0% gets no agent metrics.
function renderClassification(conns) {
  const box = document.getElementById("classification");
  const rows = [];
  for (const c of conns || []) {
    for (const s of c.services) rows.push({ component: c.component, ...s });
  }
  if (rows.length === 0) {
    box.replaceChildren(h("div", { class: "empty", id: "no-classification" }, "no spans received by an amas_spanmetrics connector"));
    return;
  }
  const share = (r) => (r.classified_share === null ? 2 : r.classified_share);
  rows.sort((a, b) => share(a) - share(b) || a.service.localeCompare(b.service));
  box.replaceChildren(h("table", { class: "summary" },
    h("thead", {}, h("tr", {}, ["service", "connector", "classified spans", "unclassified spans", "classified share"].map((t, i) => h("th", i >= 2 ? { class: "num" } : {}, t)))),
    h("tbody", {}, rows.map((r) => h("tr", { "data-service": r.service },
      h("td", {}, r.service),
      h("td", {}, r.component),
      h("td", { class: "num" }, r.classified),
      h("td", { class: "num" }, r.unclassified),
      h("td", { class: "num" }, r.classified_share === null ? "–" : (r.classified_share * 100).toFixed(1) + "%"))))));
}

let timer = null;

async function refresh() {
  let refreshSeconds = 10;
  try {
    const resp = await fetch(STATUS_URL, { cache: "no-store" });
    if (!resp.ok) throw new Error("status API answered " + resp.status);
    const doc = await resp.json();
    const nowMs = Date.parse(doc.generated_at);
    refreshSeconds = (doc.page && doc.page.refresh_seconds) || refreshSeconds;
    const slos = [...doc.slos].sort(budgetOrder);
    renderSummary(slos);
    renderCards(slos, nowMs);
    renderRegressions(doc.regressions, nowMs);
    renderClassification(doc.span_classification);
    const hb = document.getElementById("health");
    hb.className = "badge badge-" + doc.health;
    hb.textContent = "evaluation " + doc.health;
    document.getElementById("updated").textContent = "updated " + clock(nowMs);
    document.getElementById("footer").textContent =
      `otelcol-amas · slo_status extension · schema v${doc.schema_version} · ` +
      doc.processors.map((p) => p.id).join(", ");
    document.getElementById("error").hidden = true;
    document.body.dataset.loaded = "true";
  } catch (err) {
    const banner = document.getElementById("error");
    banner.textContent = "Cannot load the SLO status: " + err.message;
    banner.hidden = false;
  }
  clearTimeout(timer);
  timer = setTimeout(refresh, refreshSeconds * 1000);
}

refresh();
