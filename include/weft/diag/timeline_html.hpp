// weft/diag/timeline_html.hpp — the HTML timeline a trace exports: one self-contained page (the
// trace JSON and a small script inside it, no network) drawing a lane per thread, each task
// slice at its depth, placement decisions as ticks and flow arrows from a completion to the
// continuation it caused. I/O threads (named weft-io-*) are drawn blue, the timer thread
// orange, every other thread (pool workers, loops, dedicated threads) green.
// Guide: docs/guide/diagnostics.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <string>

namespace weft::diag::detail {

/// The page for a Chrome trace-event JSON text.
inline std::string timeline_html(const std::string& trace_json) {
    std::string safe; // "</" would end the script element early
    safe.reserve(trace_json.size());
    for (std::size_t i = 0; i < trace_json.size(); ++i) {
        if (trace_json[i] == '<' && i + 1 < trace_json.size() && trace_json[i + 1] == '/') {
            safe += "<\\/";
            ++i;
        } else {
            safe += trace_json[i];
        }
    }
    static const char* const head = R"html(<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>weft timeline</title>
<style>
body { font: 12px sans-serif; margin: 8px; background: #fafafa; }
#summary { margin-bottom: 6px; }
.lane-label { font: 11px monospace; fill: #222; }
.slice { stroke: #333; stroke-width: 0.3; }
.io .slice { fill: #7fa7e0; } .timer .slice { fill: #f0b060; } .worker .slice { fill: #8fcf8f; }
.lane-bg.io { fill: #eaf1fb; } .lane-bg.timer { fill: #fdf3e6; } .lane-bg.worker { fill: #eef8ee; }
.flow { stroke: #c03030; stroke-width: 0.8; fill: none; marker-end: url(#arrow); }
.instant { stroke: #555; stroke-width: 0.6; }
#legend span { display: inline-block; padding: 1px 6px; margin-right: 6px; }
</style></head><body>
<div id="summary"></div>
<div id="legend"><span style="background:#7fa7e0">I/O threads</span><span style="background:#8fcf8f">workers, loops, other threads</span><span style="background:#f0b060">timer thread</span><span style="color:#c03030">&rarr; completion to continuation</span></div>
<div style="overflow-x:auto"><svg id="timeline" xmlns="http://www.w3.org/2000/svg"></svg></div>
<script type="application/json" id="trace">)html";
    static const char* const tail = R"html(</script>
<script>
(function () {
  var trace = JSON.parse(document.getElementById('trace').textContent);
  var events = trace.traceEvents || [];
  var threads = {}, order = [];
  function thread(tid) {
    if (!threads[tid]) { threads[tid] = { tid: tid, name: 'thread ' + tid, slices: [], instants: [], stack: [], depth: 0 }; order.push(tid); }
    return threads[tid];
  }
  var end = 0, flows = {};
  events.forEach(function (e) {
    if (e.ph === 'M') { if (e.name === 'thread_name') thread(e.tid).name = e.args.name; return; }
    var t = thread(e.tid), ts = e.ts;
    end = Math.max(end, ts);
    if (e.ph === 'B') { t.stack.push({ name: e.name, start: ts, depth: t.stack.length }); t.depth = Math.max(t.depth, t.stack.length); }
    else if (e.ph === 'E') { var s = t.stack.pop(); if (s) { s.end = ts; t.slices.push(s); } }
    else if (e.ph === 'i') { t.instants.push({ name: e.name, ts: ts }); }
    else if (e.ph === 's') { (flows[e.id] = flows[e.id] || {}).from = { tid: e.tid, ts: ts }; }
    else if (e.ph === 'f') { (flows[e.id] = flows[e.id] || {}).to = { tid: e.tid, ts: ts }; }
  });
  function kind(name) { return /^weft-io/.test(name) ? 'io' : (/^weft-timer/.test(name) ? 'timer' : 'worker'); }
  var width = Math.max(1200, Math.min(20000, order.length ? 1200 + end / 50 : 1200));
  var left = 170, row = 12, scale = end > 0 ? (width - left - 10) / end : 1;
  var svg = document.getElementById('timeline'), ns = 'http://www.w3.org/2000/svg';
  function el(name, attrs, parent) { var x = document.createElementNS(ns, name); for (var k in attrs) x.setAttribute(k, attrs[k]); (parent || svg).appendChild(x); return x; }
  var defs = el('defs', {}), marker = el('marker', { id: 'arrow', viewBox: '0 0 6 6', refX: 6, refY: 3, markerWidth: 6, markerHeight: 6, orient: 'auto' }, defs);
  el('path', { d: 'M0,0 L6,3 L0,6 z', fill: '#c03030' }, marker);
  order.sort(function (a, b) { var ka = kind(threads[a].name), kb = kind(threads[b].name); return ka === kb ? threads[a].name.localeCompare(threads[b].name) : (ka === 'io' ? -1 : kb === 'io' ? 1 : ka.localeCompare(kb)); });
  var y = 0, laneY = {}, slices = 0;
  order.forEach(function (tid) {
    var t = threads[tid], h = Math.max(1, t.depth) * row + 6, k = kind(t.name);
    var g = el('g', { 'class': 'lane ' + k, 'data-thread': t.name, 'data-tid': tid });
    el('rect', { 'class': 'lane-bg ' + k, x: 0, y: y, width: width, height: h }, g);
    var label = el('text', { 'class': 'lane-label', x: 4, y: y + 11 }, g); label.textContent = t.name + ' (' + tid + ')';
    t.slices.forEach(function (s) {
      var r = el('rect', { 'class': 'slice', x: left + s.start * scale, y: y + 3 + s.depth * row, width: Math.max(0.5, (s.end - s.start) * scale), height: row - 2 }, g);
      var title = el('title', {}, r); title.textContent = s.name + ' ' + (s.end - s.start).toFixed(3) + ' us'; slices++;
    });
    t.instants.forEach(function (i) {
      var x = left + i.ts * scale, l = el('line', { 'class': 'instant', x1: x, x2: x, y1: y + h - 5, y2: y + h }, g);
      el('title', {}, l).textContent = i.name;
    });
    laneY[tid] = y; y += h + 2;
  });
  var arrows = 0;
  Object.keys(flows).forEach(function (id) {
    var f = flows[id]; if (!f.from || !f.to || laneY[f.from.tid] === undefined || laneY[f.to.tid] === undefined) return;
    el('path', { 'class': 'flow', d: 'M' + (left + f.from.ts * scale) + ',' + (laneY[f.from.tid] + 8) + ' L' + (left + f.to.ts * scale) + ',' + (laneY[f.to.tid] + 8) });
    arrows++;
  });
  svg.setAttribute('width', width); svg.setAttribute('height', y + 4);
  var dropped = (trace.otherData || {}).weft_dropped || 0;
  document.getElementById('summary').textContent = order.length + ' threads, ' + slices + ' slices, ' + arrows + ' flows, ' + end.toFixed(3) + ' us' + (dropped ? ', ' + dropped + ' events dropped (buffers full)' : '');
  document.body.setAttribute('data-rendered', order.length + ' ' + slices + ' ' + arrows);
})();
</script></body></html>
)html";
    return std::string(head) + safe + tail;
}

} // namespace weft::diag::detail
