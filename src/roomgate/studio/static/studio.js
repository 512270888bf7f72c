// roomgate studio: the page. Plain JavaScript, no build step, nothing loaded from the network.
// It draws the rig the server describes (/api/rig), sends changes as KEY=VALUE overrides
// (/api/settings), re-renders (/api/render) and plays the results with the Web Audio API.
'use strict';

(() => {
  const COLOURS = ['#8fb9e0', '#e2a446', '#e4685f', '#8cc47f', '#b996e6', '#5fc4c4', '#c9a46a', '#a0a0a0'];
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const WALL_MARGIN_M = 0.05;
  const TOKEN = new URLSearchParams(location.search).get('token') || '';
  const $ = (id) => document.getElementById(id);

  const S = {
    rig: null, take: null, render: null, report: null,
    buffers: { dry: null, rig: null }, which: 'rig',
    playing: false, voice: null, startCtx: 0, startOffset: 0, position: 0,
    loop: false, region: null, range: null,
    rendering: false, again: false, renderCount: 0, changedAt: null,
  };

  // -- helpers -------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const init = { method, headers: { 'X-Roomgate-Token': TOKEN } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const type = res.headers.get('content-type') || '';
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try { message = type.includes('json') ? (await res.json()).error || message : (await res.text()) || message; } catch (e) { /* keep */ }
      throw new ApiError(res.status, message);
    }
    return type.includes('json') ? res.json() : res;
  }

  function svg(tag, attrs, parent, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(tag, attrs, parent, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  const clear = (node) => { while (node.firstChild) node.removeChild(node.firstChild); };
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const minus = (text) => String(text).replace(/^-/, '\u2212').replace(/ -/g, ' \u2212');
  const fmt = (v, digits = 1) => minus(Number(v).toFixed(digits));
  const signed = (v, digits = 1) => (v > 0 ? '+' : '') + fmt(v, digits);
  const colourOf = (name) => {
    const i = S.rig ? S.rig.mics.findIndex((m) => m.name === name) : 0;
    return COLOURS[(i < 0 ? 0 : i) % COLOURS.length];
  };
  const reportMic = (name) => (S.report ? S.report.mics.find((m) => m.name === name) : null);

  function setMessage(text, isError = false) {
    const box = $('message');
    box.textContent = text || '';
    box.classList.toggle('error', !!isError);
  }

  function setStatus(text, kind = '') {
    const box = $('status');
    box.textContent = text || '';
    box.className = 'status' + (kind ? ' ' + kind : '');
  }

  function publish() { // for tests and curious users: the page's state at a glance
    const d = document.body.dataset;
    d.renderCount = String(S.renderCount);
    d.renderId = S.render ? S.render.id : '';
    d.busy = S.rendering ? '1' : '0';
    d.takeId = S.take ? S.take.id : '';
  }

  // -- audio ----------------------------------------------------------------------------------

  let ctx = null;
  function audio() {
    if (!ctx) ctx = new (window.AudioContext || window.webkitAudioContext)();
    return ctx;
  }

  async function decode(url) {
    const res = await api('GET', url);
    const bytes = await res.arrayBuffer();
    return audio().decodeAudioData(bytes);
  }

  function dryGain() { // the dry take at the level the render gave the voice: a fair A/B
    const db = S.report && S.report.output ? S.report.output.normalization_db || 0 : 0;
    return Math.pow(10, clamp(db, -40, 40) / 20);
  }

  function bufferFor(which) { return S.buffers[which] || S.buffers.rig || S.buffers.dry; }

  function position() {
    if (!S.playing || !ctx) return S.position;
    let p = S.startOffset + (ctx.currentTime - S.startCtx);
    const src = S.voice && S.voice.src;
    if (src && src.loop && p > src.loopEnd) p = src.loopStart + ((p - src.loopStart) % (src.loopEnd - src.loopStart));
    return p;
  }

  function loopBounds(buffer) {
    const [a, b] = S.region || [0, buffer.duration];
    return [clamp(a, 0, buffer.duration), clamp(b, 0, buffer.duration)];
  }

  function startVoice(offset, fadeS = 0.02) {
    const buffer = bufferFor(S.which);
    if (!buffer) return;
    const c = audio();
    if (c.state === 'suspended') c.resume();
    const gain = c.createGain();
    const src = c.createBufferSource();
    src.buffer = buffer;
    let at = offset;
    if (S.loop) {
      const [a, b] = loopBounds(buffer);
      if (b - a > 0.05) {
        src.loop = true; src.loopStart = a; src.loopEnd = b;
        if (at < a || at >= b) at = a;
      }
    }
    if (at >= buffer.duration || at < 0) at = 0;
    const level = S.which === 'dry' ? dryGain() : 1;
    gain.gain.setValueAtTime(0, c.currentTime);
    gain.gain.linearRampToValueAtTime(level, c.currentTime + fadeS);
    src.connect(gain).connect(c.destination);
    src.start(0, at);
    const voice = { src, gain };
    src.onended = () => {
      if (S.voice === voice) { S.voice = null; S.playing = false; S.position = 0; updateTransport(); }
    };
    fadeOut(S.voice, fadeS);
    S.voice = voice; S.startCtx = c.currentTime; S.startOffset = at; S.playing = true;
    updateTransport();
  }

  function fadeOut(voice, fadeS = 0.02) {
    if (!voice || !ctx) return;
    voice.src.onended = null;
    const g = voice.gain.gain;
    g.cancelScheduledValues(ctx.currentTime);
    g.setValueAtTime(g.value, ctx.currentTime);
    g.linearRampToValueAtTime(0, ctx.currentTime + fadeS);
    try { voice.src.stop(ctx.currentTime + fadeS + 0.01); } catch (e) { /* already stopped */ }
  }

  function play() {
    if (S.playing) { S.position = position(); fadeOut(S.voice); S.voice = null; S.playing = false; updateTransport(); return; }
    startVoice(S.position);
  }

  function stop() {
    fadeOut(S.voice); S.voice = null; S.playing = false;
    S.position = S.loop && S.region ? S.region[0] : 0;
    updateTransport();
  }

  function seek(t) {
    S.position = Math.max(0, t);
    if (S.playing) startVoice(S.position);
    updateTransport();
  }

  function choose(which) {
    if (S.which === which) return;
    S.which = which;
    if (S.playing) startVoice(position(), 0.03); // crossfade at the same place
    updateTransport();
  }

  function setLoop(on) {
    S.loop = on;
    if (S.playing) startVoice(position());
    updateTransport();
  }

  function updateTransport() {
    $('play').textContent = S.playing ? '❚❚ Pause' : '▶ Play';
    $('loop').setAttribute('aria-pressed', String(S.loop));
    $('ab-dry').setAttribute('aria-pressed', String(S.which === 'dry'));
    $('ab-rig').setAttribute('aria-pressed', String(S.which === 'rig'));
    const has = !!(S.buffers.dry || S.buffers.rig);
    for (const id of ['play', 'stop', 'loop', 'ab-dry', 'ab-rig']) $(id).disabled = !has;
    $('download-render').disabled = !S.render;
    $('loop-info').textContent = S.region ? `${fmt(S.region[0], 2)}–${fmt(S.region[1], 2)} s` : (S.loop ? 'whole take' : '');
  }

  function tick() {
    const p = position();
    const buffer = bufferFor(S.which);
    const total = buffer ? buffer.duration : (S.take ? S.take.duration_s : 0);
    $('clock').textContent = `${p.toFixed(2).padStart(6, '\u2007')} s / ${total.toFixed(2)} s`;
    const head = document.getElementById('playhead');
    if (head && T.tx) {
      const x = T.tx(p);
      head.setAttribute('x1', x); head.setAttribute('x2', x);
    }
    requestAnimationFrame(tick);
  }

  // -- talking to the server --------------------------------------------------------------------

  async function applyChanges(changes) {
    setMessage('');
    S.changedAt = performance.now();
    try {
      S.rig = await api('POST', '/api/settings', { set: changes });
    } catch (error) {
      setMessage(error.message, true);
      drawAll(); // put the dragged thing back where the rig has it
      return false;
    }
    drawAll();
    if ($('auto').checked) render();
    return true;
  }

  async function render() {
    if (!S.take) { setMessage('Load the demo voice or open an audio file first.', true); return; }
    if (S.rendering) { S.again = true; return; }
    S.rendering = true; publish();
    const firstTime = !S.render;
    setStatus(firstTime ? 'Rendering · simulating the room (first time only)…' : 'Rendering…', 'busy');
    const asked = S.changedAt || performance.now();
    S.changedAt = null; // a change made while this render runs starts its own clock
    try {
      const result = await api('POST', '/api/render');
      const buffer = await decode(result.audio_url);
      S.render = result; S.report = result.report;
      if (!S.again) S.rig = result.rig; // the rig as rendered, thresholds resolved on this take
      S.buffers.rig = buffer;
      S.renderCount += 1;
      if (S.playing && S.which === 'rig') startVoice(position(), 0.03);
      const wall = (performance.now() - asked) / 1000;
      const sim = result.simulated_mics.length ? ` · room simulated for ${result.simulated_mics.join(', ')}` : '';
      setStatus(firstTime
        ? `rendered in ${wall.toFixed(2)} s${sim}`
        : `change → sound ${wall.toFixed(2)} s (render ${result.elapsed_s.toFixed(2)} s${sim})`);
      drawAll();
    } catch (error) {
      setStatus('render failed', 'error');
      setMessage(error.message, true);
    } finally {
      S.rendering = false; publish();
    }
    if (S.again) { S.again = false; render(); }
  }

  async function takeLoaded(take) {
    S.take = take; S.render = null; S.report = null; S.range = null; S.region = null;
    S.buffers = { dry: null, rig: null };
    fadeOut(S.voice); S.voice = null; S.playing = false; S.position = 0;
    S.buffers.dry = await decode(take.audio_url);
    drawAll();
    setMessage(take.notes && take.notes.length ? take.notes.join('; ') : '');
    await render();
  }

  async function loadDemo() {
    setStatus('Singing the demo voice…', 'busy');
    try {
      const take = await api('POST', '/api/take/demo', { sample_rate: Number($('demo-rate').value) });
      await takeLoaded(take);
    } catch (error) { setStatus(''); setMessage(error.message, true); }
  }

  async function upload(file) {
    if (!file) return;
    setStatus(`Uploading ${file.name}…`, 'busy');
    const form = new FormData();
    form.append('file', file, file.name);
    try {
      const take = await api('POST', '/api/take', form);
      await takeLoaded(take);
    } catch (error) { setStatus(''); setMessage(error.message, true); }
    $('file-input').value = '';
  }

  async function download(path, fallbackName) {
    try {
      const res = await api('GET', path);
      const blob = await res.blob();
      const disposition = res.headers.get('content-disposition') || '';
      const match = /filename="?([^";]+)"?/.exec(disposition);
      const a = html('a', { href: URL.createObjectURL(blob), download: match ? match[1] : fallbackName });
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (error) { setMessage(error.message, true); }
  }

  // -- the floor plan -----------------------------------------------------------------------------

  const P = {}; // the plan's geometry, for dragging
  let planDrag = null;

  function lineReach(rig) { // how far the mic line runs inside the walls, metres
    const s = rig.singer.position_m, d = rig.line.direction, size = rig.room.size_m;
    let reach = Infinity;
    for (let i = 0; i < 3; i++) {
      if (Math.abs(d[i]) < 1e-9) continue;
      const bound = d[i] > 0 ? size[i] - WALL_MARGIN_M : WALL_MARGIN_M;
      reach = Math.min(reach, (bound - s[i]) / d[i]);
    }
    return Math.max(0, reach - 1e-6);
  }

  function drawPlan() {
    const root = $('plan');
    clear(root);
    const rig = S.rig;
    if (!rig) return;
    const [X, Y] = rig.room.size_m;
    const W = root.clientWidth || 560;
    const pad = { l: 30, r: 12, t: 12, b: 26 };
    const s = Math.min((W - pad.l - pad.r) / X, 420 / Y);
    const H = Math.round(Y * s + pad.t + pad.b);
    root.style.height = H + 'px';
    root.setAttribute('viewBox', `0 0 ${W} ${H}`);
    const ox = pad.l + (W - pad.l - pad.r - X * s) / 2, oy = pad.t;
    const px = (x) => ox + x * s, py = (y) => oy + (Y - y) * s;
    Object.assign(P, { s, X, Y, px, py, inv: (qx, qy) => [(qx - ox) / s, Y - (qy - oy) / s] });

    svg('rect', { class: 'room', x: px(0), y: py(Y), width: X * s, height: Y * s, rx: 2 }, root);
    const grid = svg('g', {}, root);
    for (let x = 1; x < X; x++) svg('line', { class: 'grid' + (x % 5 ? '' : ' major'), x1: px(x), x2: px(x), y1: py(0) - 1, y2: py(Y) + 1 }, grid);
    for (let y = 1; y < Y; y++) svg('line', { class: 'grid' + (y % 5 ? '' : ' major'), y1: py(y), y2: py(y), x1: px(0) + 1, x2: px(X) - 1 }, grid);
    for (let x = 0; x <= X + 1e-9; x += 5) svg('text', { class: 'axis-label', x: px(x), y: py(0) + 14, 'text-anchor': 'middle' }, root, `${x}`);
    for (let y = 0; y <= Y + 1e-9; y += 5) svg('text', { class: 'axis-label', x: px(0) - 6, y: py(y) + 3.5, 'text-anchor': 'end' }, root, `${y}`);
    svg('text', { class: 'dimension', x: px(X), y: py(0) + 14, 'text-anchor': 'end' }, root, `${fmt(X, X % 1 ? 1 : 0)} m`);

    const singer = rig.singer.position_m, dir = rig.line.direction;
    const reach = lineReach(rig);
    const end = [singer[0] + reach * dir[0], singer[1] + reach * dir[1]];
    svg('line', { class: 'mic-line', x1: px(singer[0]), y1: py(singer[1]), x2: px(end[0]), y2: py(end[1]) }, root);
    // a tape measure along the line: a tick every metre, a number every 5 m
    const dxy = Math.hypot(dir[0], dir[1]) || 1;
    const nx = -dir[1] / dxy, ny = dir[0] / dxy;
    for (let m = 1; m <= reach; m++) {
      const x = singer[0] + m * dir[0], y = singer[1] + m * dir[1];
      const len = m % 5 ? 3 : 6;
      svg('line', { class: 'tape', x1: px(x) - nx * len, y1: py(y) + ny * len, x2: px(x) + nx * len, y2: py(y) - ny * len }, root);
      if (m % 5 === 0) svg('text', { class: 'tape-label', x: px(x) - nx * 14, y: py(y) + ny * 14 + 4, 'text-anchor': 'middle' }, root, `${m} m`);
    }
    const cd = rig.room.critical_distance_m;
    if (cd && cd * s > 6) {
      svg('circle', { class: 'critical', cx: px(singer[0]), cy: py(singer[1]), r: cd * s }, root);
      svg('text', { class: 'critical-label', x: px(singer[0]), y: py(singer[1]) - cd * s - 4, 'text-anchor': 'middle' }, root, `critical distance ${fmt(cd, 1)} m`);
    }
    svg('circle', { class: 'singer', cx: px(singer[0]), cy: py(singer[1]), r: 7 }, root);
    svg('text', { class: 'singer-label', x: px(singer[0]) - 11, y: py(singer[1]) - 9, 'text-anchor': 'end' }, root, 'singer');

    const sorted = [...rig.mics].sort((a, b) => a.distance_m - b.distance_m);
    rig.mics.forEach((mic) => {
      const colour = colourOf(mic.name);
      const g = svg('g', { class: 'mic', 'data-mic': mic.name, tabindex: 0, role: 'button', 'aria-label': `${mic.name} mic, ${mic.distance_m} m from the singer; drag to move` }, root);
      const [x, y] = mic.position_m;
      if (mic.placed === 'position') svg('line', { class: 'offline', stroke: colour, x1: px(singer[0]), y1: py(singer[1]), x2: px(x), y2: py(y) }, g);
      svg('circle', { class: 'hit', cx: px(x), cy: py(y), r: 14 }, g);
      svg('circle', { class: 'dot', cx: px(x), cy: py(y), r: 6.5, fill: colour }, g);
      const near = sorted.indexOf(mic) === 0 && mic.distance_m < 1.0;
      const label = svg('text', {
        class: 'mic-label', fill: colour,
        x: px(x) + (near ? 10 : 0), y: near ? py(y) + 20 : py(y) - 13, 'text-anchor': near ? 'start' : 'middle',
      }, g);
      svg('tspan', {}, label, mic.name + ' ');
      svg('tspan', { class: 'dist' }, label, `${fmt(mic.distance_m, 2)} m`);
      g.addEventListener('pointerdown', (e) => startPlanDrag(e, mic, g));
      g.addEventListener('keydown', (e) => { // arrows: 0.1 m along the line (Shift: 1 m)
        const step = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 }[e.key];
        if (!step) return;
        e.preventDefault();
        const d = clamp(mic.distance_m + step * (e.shiftKey ? 1 : 0.1), 0.1, lineReach(rig));
        nudge(`mic:${mic.name}`, `mics.${mic.name}.distance_m=${d.toFixed(2)}`, () => {
          const sp = rig.singer.position_m, dir = rig.line.direction;
          mic.distance_m = d;
          mic.placed = 'distance';
          mic.position_m = [0, 1, 2].map((i) => sp[i] + d * dir[i]);
          drawPlan();
          focusAgain(`mic:${mic.name}`);
        });
      });
    });
  }

  let prefetchTimer = 0;
  function prefetchSoon(change) { // while the mic is held still, the server simulates its new IR
    clearTimeout(prefetchTimer);
    prefetchTimer = setTimeout(() => { api('POST', '/api/prefetch', { set: [change] }).catch(() => {}); }, 120);
  }

  function planPoint(e) {
    const r = $('plan').getBoundingClientRect();
    return P.inv(e.clientX - r.left, e.clientY - r.top);
  }

  function startPlanDrag(e, mic, g) {
    if (e.button !== 0) return;
    e.preventDefault();
    g.setPointerCapture(e.pointerId);
    g.classList.add('dragging');
    planDrag = { mic, g, change: null };
    const move = (ev) => dragMic(ev);
    const up = (ev) => {
      g.removeEventListener('pointermove', move);
      g.removeEventListener('pointerup', up);
      g.removeEventListener('pointercancel', up);
      g.classList.remove('dragging');
      const change = planDrag && planDrag.change;
      planDrag = null;
      clearTimeout(prefetchTimer);
      if (change) applyChanges([change]); else drawAll();
    };
    g.addEventListener('pointermove', move);
    g.addEventListener('pointerup', up);
    g.addEventListener('pointercancel', up);
  }

  function dragMic(e) {
    if (!planDrag) return;
    const rig = S.rig, { mic, g } = planDrag;
    const [qx, qy] = planPoint(e);
    const singer = rig.singer.position_m, dir = rig.line.direction, size = rig.room.size_m;
    let x, y, distance;
    if (e.shiftKey) { // anywhere in the room, at the mic's own height
      x = clamp(qx, WALL_MARGIN_M + 0.01, size[0] - WALL_MARGIN_M - 0.01);
      y = clamp(qy, WALL_MARGIN_M + 0.01, size[1] - WALL_MARGIN_M - 0.01);
      x = Math.round(x * 100) / 100; y = Math.round(y * 100) / 100;
      const z = mic.position_m[2];
      distance = Math.hypot(x - singer[0], y - singer[1], z - singer[2]);
      planDrag.change = `mics.${mic.name}.position_m=[${x.toFixed(2)}, ${y.toFixed(2)}, ${z.toFixed(2)}]`;
    } else { // along the line from the singer
      const dxy2 = dir[0] * dir[0] + dir[1] * dir[1] || 1;
      let t = ((qx - singer[0]) * dir[0] + (qy - singer[1]) * dir[1]) / dxy2;
      t = Math.round(clamp(t, 0.1, lineReach(rig)) * 100) / 100;
      x = singer[0] + t * dir[0]; y = singer[1] + t * dir[1];
      distance = t;
      planDrag.change = `mics.${mic.name}.distance_m=${t.toFixed(2)}`;
    }
    for (const c of g.querySelectorAll('circle')) { c.setAttribute('cx', P.px(x)); c.setAttribute('cy', P.py(y)); }
    const label = g.querySelector('text');
    const near = label.getAttribute('text-anchor') === 'start';
    label.setAttribute('x', P.px(x) + (near ? 10 : 0));
    label.setAttribute('y', near ? P.py(y) + 20 : P.py(y) - 13);
    label.lastChild.textContent = `${fmt(distance, 2)} m`;
    const off = g.querySelector('line.offline');
    if (off) { off.setAttribute('x2', P.px(x)); off.setAttribute('y2', P.py(y)); }
    if (S.take) prefetchSoon(planDrag.change);
  }

  // -- the mic table ----------------------------------------------------------------------------

  function drawTable() {
    const body = document.querySelector('#mic-table tbody');
    clear(body);
    const rig = S.rig;
    if (!rig) return;
    for (const mic of rig.mics) {
      const colour = colourOf(mic.name);
      const rep = reportMic(mic.name);
      const tr = html('tr', { 'data-mic': mic.name }, body);
      const name = html('td', {}, tr);
      html('span', { class: 'swatch' }, name).style.background = colour;
      html('span', { class: 'name' }, name, mic.name);

      const dist = html('td', {}, tr);
      const distInput = html('input', { value: mic.distance_m.toFixed(2), 'aria-label': `${mic.name} distance in metres`, title: 'metres from the singer (or 20ft, 9in)' }, dist);
      html('span', { class: 'unit' }, dist, 'm');
      onCommit(distInput, (v) => [`mics.${mic.name}.distance_m=${/^[-+.\d]+$/.test(v) ? v : JSON.stringify(v)}`]);

      const trim = html('td', {}, tr);
      const trimInput = html('input', { value: signed(mic.gain_db).replace('\u2212', '-'), 'aria-label': `${mic.name} trim in dB` }, trim);
      html('span', { class: 'unit' }, trim, 'dB');
      onCommit(trimInput, (v) => [`mics.${mic.name}.gain_db=${Number(v.replace('+', ''))}`]);

      const thr = html('td', {}, tr);
      if (!mic.gate) {
        thr.className = 'always';
        thr.textContent = 'always open';
      } else {
        const resolved = rep && rep.threshold_db != null ? rep.threshold_db : mic.gate.threshold_db;
        const shown = resolved != null ? resolved.toFixed(1) : String(mic.gate.threshold);
        const input = html('input', { class: 'wide', value: shown, 'aria-label': `${mic.name} gate threshold in dBFS`, title: 'dBFS of the key (or p65: a percentile of this take)' }, thr);
        const relative = typeof mic.gate.threshold === 'string';
        if (resolved != null) html('span', { class: 'unit' }, thr, 'dBFS');
        if (relative) html('span', { class: 'note', title: 'a relative threshold, resolved on each take' }, thr, resolved != null ? `(${mic.gate.threshold})` : 'of this take');
        else if (mic.gate.key !== 'close') html('span', { class: 'note' }, thr, `key: ${mic.gate.key}`);
        onCommit(input, (v) => [/^[-+]?\d+(\.\d*)?$/.test(v)
          ? `mics.${mic.name}.gate.threshold_db=${Number(v)}`
          : `mics.${mic.name}.gate.threshold=${JSON.stringify(v)}`]);
      }

      const open = html('td', { class: 'num' }, tr);
      if (rep) {
        const bar = html('span', { class: 'open-bar' }, open);
        const fill = html('span', {}, bar);
        fill.style.width = `${Math.round(100 * rep.open_fraction)}%`;
        fill.style.background = colour;
        open.appendChild(document.createTextNode(`${Math.round(100 * rep.open_fraction)}%`));
      } else open.textContent = '–';

      const first = html('td', {}, tr);
      if (!rep) first.textContent = '–';
      else if (rep.threshold_db == null) first.textContent = 'whole take';
      else if (!rep.intervals.length) first.textContent = 'never';
      else { first.textContent = `${rep.intervals[0][0].toFixed(2)} s`; first.title = `opens ${rep.intervals.length} time(s)`; }
    }
  }

  function drawGates() {
    const body = document.querySelector('#gate-table tbody');
    clear(body);
    const rig = S.rig;
    if (!rig) return;
    const names = rig.mics.map((m) => m.name);
    for (const mic of rig.mics) {
      if (!mic.gate) continue;
      const gate = mic.gate;
      const tr = html('tr', { 'data-mic': mic.name }, body);
      const name = html('td', {}, tr);
      html('span', { class: 'swatch' }, name).style.background = colourOf(mic.name);
      html('span', { class: 'name' }, name, mic.name);
      const keyCell = html('td', {}, tr);
      const select = html('select', { 'aria-label': `${mic.name} gate key` }, keyCell);
      const keys = [...names.filter((n) => n !== mic.name), 'dry', 'self'];
      for (const k of keys) {
        const label = k === 'dry' ? 'dry take' : k === 'self' ? 'own signal' : `${k} mic`;
        html('option', { value: k }, select, label).selected = k === gate.key;
      }
      select.addEventListener('change', () => applyChanges([`mics.${mic.name}.gate.key=${select.value}`]));
      const number = (key, value, unit, label) => {
        const td = html('td', {}, tr);
        const input = html('input', { class: 'short', value: value == null ? '' : String(value), placeholder: value == null ? 'full' : '', 'aria-label': `${mic.name} gate ${label} in ${unit}` }, td);
        html('span', { class: 'unit' }, td, unit);
        onCommit(input, (v) => [`mics.${mic.name}.gate.${key}=${Number(v)}`]);
      };
      number('hysteresis_db', gate.hysteresis_db, 'dB', 'hysteresis');
      number('attack_ms', gate.attack_ms, 'ms', 'attack');
      number('hold_ms', gate.hold_ms, 'ms', 'hold');
      number('release_ms', gate.release_ms, 'ms', 'release');
      number('range_db', gate.range_db, 'dB', 'range');
    }
  }

  function onCommit(input, toChanges) {
    const original = input.value;
    const commit = () => {
      const value = input.value.trim();
      if (!value || value === original) return;
      applyChanges(toChanges(value.replace('\u2212', '-')));
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); input.blur(); }
      if (e.key === 'Escape') { input.value = original; input.blur(); }
    });
    input.addEventListener('change', commit);
  }

  function drawChanges() {
    const box = $('changes');
    clear(box);
    const rig = S.rig;
    $('preset-name').textContent = rig ? rig.preset : 'the preset';
    if (!rig || !rig.overrides.length) { html('span', { class: 'chip none' }, box, 'none'); return; }
    for (const text of rig.overrides) html('span', { class: 'chip', title: text }, box, text.length > 44 ? text.slice(0, 43) + '…' : text);
    $('undo').disabled = !rig.overrides.length;
  }

  function drawHeader() {
    const rig = S.rig, take = S.take;
    const info = $('take-info');
    clear(info);
    if (take) {
      html('b', {}, info, take.name);
      info.appendChild(document.createTextNode(` · ${take.duration_s.toFixed(1)} s · ${(take.sample_rate / 1000).toFixed(take.sample_rate % 1000 ? 1 : 0)} kHz · mono`));
    } else info.textContent = 'No take loaded';
    if (rig) {
      const [X, Y, Z] = rig.room.size_m;
      const rt = rig.room.rt60_s != null ? ` · RT60 ${fmt(rig.room.rt60_s, 2)} s` : ' · RT60 from materials';
      $('room-info').textContent = `${fmt(X, X % 1 ? 1 : 0)} × ${fmt(Y, Y % 1 ? 1 : 0)} × ${fmt(Z, Z % 1 ? 1 : 0)} m${rt} · ${rig.name}`;
    }
    const r = S.render;
    $('render-info').textContent = r
      ? `report of the last render · ${S.report.duration_s.toFixed(1)} s with the room's tail · normalised ${signed(S.report.output.normalization_db)} dB`
      : 'not rendered yet';
  }

  // -- the timeline ---------------------------------------------------------------------------

  const T = {}; // the timeline's geometry
  let thresholdDrag = null;

  function levelRange(report) { // a steady 70 dB window under 0 dBFS, lower only when a threshold is
    let lo = -70;
    for (const mic of report.mics) if (mic.threshold_db != null) lo = Math.min(lo, Math.floor((mic.threshold_db - 15) / 10) * 10);
    return [Math.max(lo, -120), 0];
  }

  function drawTimeline() {
    const root = $('timeline');
    clear(root);
    const W = root.clientWidth || 1000;
    const rig = S.rig, report = S.report;
    const mics = rig ? rig.mics : [];
    const m = { l: 62, r: 14, t: 10 };
    const levelH = 150, laneH = 20, laneGap = 6;
    const lanesTop = m.t + levelH + 14;
    const axisY = lanesTop + mics.length * (laneH + laneGap);
    const H = axisY + 24;
    root.style.height = H + 'px';
    root.setAttribute('viewBox', `0 0 ${W} ${H}`);
    T.tx = null;
    if (!report) {
      svg('rect', { class: 'frame', x: m.l, y: m.t, width: W - m.l - m.r, height: levelH }, root);
      svg('text', { class: 'empty', x: (W + m.l) / 2, y: m.t + levelH / 2, 'text-anchor': 'middle' }, root,
        S.take ? 'Rendering…' : 'Load the demo voice or open a dry vocal to see the gates');
      return;
    }
    const duration = report.duration_s;
    const range = levelRange(report);
    S.range = range;
    const [lo, hi] = S.range;
    const x0 = m.l, x1 = W - m.r, plotW = x1 - x0;
    const tx = (t) => x0 + (clamp(t, 0, duration) / duration) * plotW;
    const ty = (db) => m.t + ((hi - clamp(db, lo, hi)) / (hi - lo)) * levelH;
    Object.assign(T, { tx, ty, lo, hi, duration, x0, x1, top: m.t, levelH, bottom: axisY });

    svg('rect', { class: 'frame', x: x0, y: m.t, width: plotW, height: levelH }, root);
    for (let db = Math.ceil(lo / 10) * 10; db <= hi; db += 10) {
      svg('line', { class: 'grid', x1: x0, x2: x1, y1: ty(db), y2: ty(db) }, root);
      svg('text', { class: 'tick-label', x: x0 - 6, y: ty(db) + 3.5, 'text-anchor': 'end' }, root, minus(String(db)));
    }
    svg('text', { class: 'unit-label', x: 8, y: m.t + 10 }, root, 'dBFS');

    // the gates' open spans, faint behind the level
    for (const mic of report.mics) {
      if (mic.threshold_db == null) continue;
      for (const [a, b] of mic.intervals) {
        svg('rect', { x: tx(a), y: m.t, width: Math.max(1, tx(b) - tx(a)), height: levelH, fill: colourOf(mic.name), 'fill-opacity': 0.05 }, root);
      }
    }

    // the key level: the highest value in each pixel column
    const key = report.timeline.key_db, hop = report.timeline.hop_s;
    const columns = Math.max(1, Math.round(plotW));
    const peaks = new Array(columns).fill(-Infinity);
    for (let i = 0; i < key.length; i++) {
      if (key[i] == null) continue;
      const c = Math.min(columns - 1, Math.floor(((i + 1) * hop / duration) * columns));
      if (key[i] > peaks[c]) peaks[c] = key[i];
    }
    let line = '';
    let area = `M${x0},${ty(lo)}`;
    for (let c = 0; c < columns; c++) {
      const v = peaks[c] === -Infinity ? lo : peaks[c];
      const x = (x0 + c + 0.5).toFixed(1), y = ty(v).toFixed(1);
      line += (c ? 'L' : 'M') + x + ',' + y;
      area += 'L' + x + ',' + y;
    }
    area += `L${x1},${ty(lo)}Z`;
    svg('path', { class: 'key-area', d: area }, root);
    svg('path', { class: 'key-line', d: line }, root);
    const keyName = (mics.find((r) => r.gate) || {}).gate;
    svg('text', { class: 'legend', x: x0 + 8, y: m.t + 14 }, root,
      `key level: ${keyName ? (keyName.key === 'dry' ? 'the dry take' : keyName.key === 'self' ? 'each mic itself' : `the ${keyName.key} mic`) : 'the first mic'} · shaded: a gate is open`);

    // lanes: when each mic was open, and its gate's gain
    mics.forEach((mic, i) => {
      const rep = reportMic(mic.name);
      const colour = colourOf(mic.name);
      const y = lanesTop + i * (laneH + laneGap);
      svg('rect', { class: 'lane-bg', x: x0, y, width: plotW, height: laneH, rx: 3 }, root);
      svg('text', { class: 'lane-label', x: x0 - 8, y: y + laneH / 2 + 4, 'text-anchor': 'end', fill: colour }, root, mic.name);
      if (!rep) return;
      for (const [a, b] of rep.intervals) {
        svg('rect', { x: tx(a), y: y + 2, width: Math.max(1, tx(b) - tx(a)), height: laneH - 4, fill: colour, 'fill-opacity': 0.28, rx: 2 }, root);
      }
      const gain = report.timeline.gain[mic.name];
      if (gain && rep.threshold_db != null) {
        const cols = new Array(columns).fill(0);
        for (let k = 0; k < gain.length; k++) {
          const c = Math.min(columns - 1, Math.floor(((k + 1) * hop / duration) * columns));
          if (gain[k] > cols[c]) cols[c] = gain[k];
        }
        let d = '';
        for (let c = 0; c < columns; c++) d += (c ? 'L' : 'M') + (x0 + c + 0.5).toFixed(1) + ',' + (y + laneH - 2 - cols[c] * (laneH - 4)).toFixed(1);
        svg('path', { d, fill: 'none', stroke: colour, 'stroke-width': 1.2 }, root);
      }
    });

    // time axis
    const step = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300].find((s) => plotW / (duration / s) >= 48) || 600;
    for (let t = 0; t <= duration + 1e-9; t += step) {
      svg('line', { class: 'grid', x1: tx(t), x2: tx(t), y1: axisY - 2, y2: axisY + 3 }, root);
      svg('text', { class: 'tick-label', x: tx(t), y: axisY + 15, 'text-anchor': 'middle' }, root, `${+t.toFixed(1)}`);
    }
    svg('text', { class: 'unit-label', x: x0 - 8, y: axisY + 15, 'text-anchor': 'end' }, root, 's');
    if (S.take && S.take.duration_s < duration - 0.05) {
      svg('line', { class: 'take-end', x1: tx(S.take.duration_s), x2: tx(S.take.duration_s), y1: m.t, y2: axisY }, root);
    }

    // the loop region, the scrub surface, the playhead
    if (S.region) svg('rect', { class: 'region', x: tx(S.region[0]), y: m.t, width: Math.max(1, tx(S.region[1]) - tx(S.region[0])), height: axisY - m.t }, root);
    const surface = svg('rect', { x: x0, y: m.t, width: plotW, height: axisY - m.t + 18, fill: 'transparent', cursor: 'text' }, root);
    surface.addEventListener('pointerdown', startScrub);
    svg('line', { id: 'playhead', class: 'playhead', x1: tx(position()), x2: tx(position()), y1: m.t, y2: axisY, 'pointer-events': 'none' }, root);

    // thresholds last, on top, draggable
    const placed = [];
    for (const mic of report.mics) {
      if (mic.threshold_db == null) continue;
      const rigMic = mics.find((r) => r.name === mic.name);
      const hyst = rigMic && rigMic.gate ? rigMic.gate.hysteresis_db || 0 : 0;
      drawThreshold(root, mic, mic.threshold_db, hyst, placed);
    }
  }

  function drawThreshold(root, mic, db, hyst, placed) {
    const colour = colourOf(mic.name);
    const g = svg('g', { class: 'threshold', 'data-mic': mic.name, tabindex: 0, role: 'slider', 'aria-label': `${mic.name} gate threshold`, 'aria-valuenow': db.toFixed(1) }, root);
    const y = T.ty(db);
    if (hyst > 0) svg('line', { class: 'closes', stroke: colour, x1: T.x0, x2: T.x1, y1: T.ty(db - hyst), y2: T.ty(db - hyst) }, g);
    svg('line', { class: 'hit', x1: T.x0, x2: T.x1, y1: y, y2: y }, g);
    svg('line', { class: 'line', stroke: colour, x1: T.x0, x2: T.x1, y1: y, y2: y }, g);
    const label = `${mic.name} opens  ${fmt(db, 1)} dBFS`;
    const width = label.length * 6.4 + 14;
    let ly = y - 11;
    for (const other of placed) if (Math.abs(other - ly) < 17) ly = y + 11; // keep labels apart
    placed.push(ly);
    const pill = svg('rect', { class: 'pill', stroke: colour, x: T.x1 - width - 6, y: ly - 8.5, width, height: 17, rx: 8.5 }, g);
    const text = svg('text', { x: T.x1 - width / 2 - 6, y: ly + 4, 'text-anchor': 'middle', fill: colour }, g, label);
    g.addEventListener('pointerdown', (e) => startThresholdDrag(e, g, mic, db, hyst, { pill, text, width, offset: ly - y }));
    g.addEventListener('keydown', (e) => { // arrows: 0.5 dB (Shift: 3 dB)
      const step = { ArrowUp: 1, ArrowRight: 1, ArrowDown: -1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      e.preventDefault();
      const value = clamp(Math.round((mic.threshold_db + step * (e.shiftKey ? 3 : 0.5)) * 10) / 10, T.lo, T.hi);
      nudge(`thr:${mic.name}`, `mics.${mic.name}.gate.threshold_db=${value.toFixed(1)}`, () => {
        mic.threshold_db = value; // shown now; the render will confirm it
        drawTimeline();
        focusAgain(`thr:${mic.name}`);
      });
    });
  }

  const nudges = {};
  function nudge(id, change, apply) { // keyboard steps: shown at once, sent when the keys rest
    apply();
    clearTimeout(nudges[id]);
    nudges[id] = setTimeout(() => { delete nudges[id]; applyChanges([change]).then(() => focusAgain(id)); }, 350);
  }

  function focusAgain(id) {
    const [kind, name] = id.split(':');
    const sel = kind === 'mic' ? `#plan .mic[data-mic="${name}"]` : `#timeline .threshold[data-mic="${name}"]`;
    const node = document.querySelector(sel);
    if (node) node.focus();
  }

  function timelinePoint(e) {
    const r = $('timeline').getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  function startThresholdDrag(e, g, mic, db, hyst, parts) {
    if (e.button !== 0) return;
    e.preventDefault(); e.stopPropagation();
    g.setPointerCapture(e.pointerId);
    g.classList.add('dragging');
    thresholdDrag = { value: db };
    const move = (ev) => {
      const [, qy] = timelinePoint(ev);
      const value = Math.round((T.hi - ((qy - T.top) / T.levelH) * (T.hi - T.lo)) * 10) / 10;
      thresholdDrag.value = clamp(value, T.lo, T.hi);
      const y = T.ty(thresholdDrag.value);
      for (const l of g.querySelectorAll('line.line, line.hit')) { l.setAttribute('y1', y); l.setAttribute('y2', y); }
      const closes = g.querySelector('line.closes');
      if (closes) { const yc = T.ty(thresholdDrag.value - hyst); closes.setAttribute('y1', yc); closes.setAttribute('y2', yc); }
      parts.pill.setAttribute('y', y + parts.offset - 8.5);
      parts.text.setAttribute('y', y + parts.offset + 4);
      parts.text.textContent = `${mic.name} opens  ${fmt(thresholdDrag.value, 1)} dBFS`;
    };
    const up = () => {
      g.removeEventListener('pointermove', move);
      g.removeEventListener('pointerup', up);
      g.removeEventListener('pointercancel', up);
      g.classList.remove('dragging');
      const value = thresholdDrag.value;
      thresholdDrag = null;
      if (Math.abs(value - db) >= 0.05) applyChanges([`mics.${mic.name}.gate.threshold_db=${value.toFixed(1)}`]);
      else if (S.redraw) drawAll();
    };
    g.addEventListener('pointermove', move);
    g.addEventListener('pointerup', up);
    g.addEventListener('pointercancel', up);
  }

  function startScrub(e) {
    if (e.button !== 0 || !T.tx) return;
    e.preventDefault();
    const surface = e.currentTarget;
    surface.setPointerCapture(e.pointerId);
    const toTime = (ev) => clamp(((timelinePoint(ev)[0] - T.x0) / (T.x1 - T.x0)) * T.duration, 0, T.duration);
    const t0 = toTime(e), x0 = e.clientX;
    let rect = null;
    const move = (ev) => {
      if (Math.abs(ev.clientX - x0) < 4) return;
      const t1 = toTime(ev);
      const [a, b] = [Math.min(t0, t1), Math.max(t0, t1)];
      if (!rect) rect = svg('rect', { class: 'region', y: T.top, height: T.bottom - T.top, 'pointer-events': 'none' }, $('timeline'));
      rect.setAttribute('x', T.tx(a));
      rect.setAttribute('width', Math.max(1, T.tx(b) - T.tx(a)));
    };
    const up = (ev) => {
      surface.removeEventListener('pointermove', move);
      surface.removeEventListener('pointerup', up);
      if (Math.abs(ev.clientX - x0) < 4) { seek(t0); return; }
      const t1 = toTime(ev);
      S.region = [Math.min(t0, t1), Math.max(t0, t1)];
      S.position = S.region[0];
      setLoop(true);
      drawTimeline();
    };
    surface.addEventListener('pointermove', move);
    surface.addEventListener('pointerup', up);
  }

  function drawAll() {
    if (planDrag || thresholdDrag) { S.redraw = true; return; } // not under the user's hands
    S.redraw = false;
    const active = document.activeElement;
    const drawn = active && active.closest ? active.closest('#plan .mic, #timeline .threshold') : null;
    const keep = drawn ? `${drawn.closest('#plan') ? 'mic' : 'thr'}:${drawn.dataset.mic}` : null;
    drawHeader();
    drawPlan();
    const editing = document.activeElement && document.activeElement.closest && document.activeElement.closest('tbody');
    if (!editing || editing.closest('#mic-table') === null) drawGates();
    if (!editing || editing.closest('#gate-table') === null) drawTable();
    drawChanges();
    drawTimeline();
    updateTransport();
    publish();
    if (keep) focusAgain(keep); // the keyboard stays on the mic or threshold it was on
  }

  // -- wiring -----------------------------------------------------------------------------------

  function wire() {
    $('load-demo').addEventListener('click', loadDemo);
    $('file-input').addEventListener('change', (e) => upload(e.target.files[0]));
    $('save-preset').addEventListener('click', () => download('/api/preset.toml', 'rig.toml'));
    $('download-render').addEventListener('click', () => download('/api/audio/render?download=1', 'render.wav'));
    $('play').addEventListener('click', play);
    $('stop').addEventListener('click', stop);
    $('loop').addEventListener('click', () => setLoop(!S.loop));
    $('ab-dry').addEventListener('click', () => choose('dry'));
    $('ab-rig').addEventListener('click', () => choose('rig'));
    $('render').addEventListener('click', () => { S.changedAt = performance.now(); render(); });
    $('undo').addEventListener('click', async () => {
      try { S.rig = await api('POST', '/api/settings/undo'); S.changedAt = performance.now(); drawAll(); if ($('auto').checked) render(); } catch (error) { setMessage(error.message, true); }
    });
    $('reset').addEventListener('click', async () => {
      try { S.rig = await api('POST', '/api/settings/reset', {}); S.changedAt = performance.now(); drawAll(); if ($('auto').checked) render(); } catch (error) { setMessage(error.message, true); }
    });
    $('set-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = $('set-input').value.trim();
      if (!text) return;
      const changes = text.split(/\s*[;\n]\s*|\s+(?=[A-Za-z_][\w.-]*=)/).filter(Boolean);
      if (await applyChanges(changes)) $('set-input').value = '';
    });
    document.addEventListener('keydown', (e) => {
      if (e.target.closest('input, select, textarea')) return;
      if (e.key === ' ') { e.preventDefault(); play(); }
      else if (e.key === 'a' || e.key === 'A') choose('dry');
      else if (e.key === 'b' || e.key === 'B') choose('rig');
      else if (e.key === 'l' || e.key === 'L') setLoop(!S.loop);
    });
    let width = 0;
    new ResizeObserver(() => {
      const w = document.querySelector('main').clientWidth;
      if (w !== width) { width = w; drawAll(); }
    }).observe(document.querySelector('main'));
  }

  async function start() {
    wire();
    if (!TOKEN) { setMessage('This page needs the URL printed by roomgate studio (it ends in ?token=…).', true); return; }
    try {
      const state = await api('GET', '/api/state');
      S.rig = state.rig; S.take = state.take;
      if (state.render && state.take && state.render.take_id === state.take.id) {
        S.render = state.render; S.report = state.render.report;
      }
      drawAll();
      if (S.take) S.buffers.dry = await decode(S.take.audio_url);
      if (S.render) S.buffers.rig = await decode(S.render.audio_url);
      updateTransport();
    } catch (error) { setMessage(error.message, true); }
    publish();
    requestAnimationFrame(tick);
  }

  window.roomgateStudio = { state: S, render, applyChanges }; // for the console and the tests
  start();
})();
