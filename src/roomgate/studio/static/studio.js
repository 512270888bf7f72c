// roomgate studio: the page. Plain JavaScript, no build step, nothing loaded from the network.
// It draws the rig the server describes (/api/rig), sends changes as KEY=VALUE overrides
// (/api/settings), re-renders (/api/render), and plays three level-matched versions with the Web
// Audio API: A the dry take, B the rig as the monitor hears it (solo / mute), C the rig with every
// gate open. Their meters and matching gains come from /api/levels; the hall panel from /api/hall.
'use strict';

(() => {
  const COLOURS = ['#8fb9e0', '#e2a446', '#e4685f', '#8cc47f', '#b996e6', '#5fc4c4', '#c9a46a', '#a0a0a0'];
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const WALL_MARGIN_M = 0.05;
  const TOKEN = new URLSearchParams(location.search).get('token') || '';
  const VERSIONS = ['dry', 'rig', 'open'];
  const BUTTON_OF = { dry: 'ab-dry', rig: 'ab-rig', open: 'ab-open' };
  const HALL_BANDS = ['broadband', '125', '250', '500', '1000', '2000', '4000', '8000'];
  const HALL_ROWS = [['t30_s', 'T30', 's', 2], ['edt_s', 'EDT', 's', 2], ['c80_db', 'C80', 'dB', 1], ['drr_db', 'DRR', 'dB', 1]];
  const METER_FLOOR_DB = -70;
  const $ = (id) => document.getElementById(id);

  const S = {
    rig: null, take: null, render: null, report: null, presets: [],
    monitor: { solo: [], mute: [] },
    buffers: { dry: null, rig: null, open: null }, // decoded AudioBuffers (takes kept in memory)
    ids: { dry: null, rig: null, open: null }, // the audio each buffer holds
    gains: { dry: null, rig: 0, open: null }, // level-matching gains, dB (from /api/levels)
    levels: { dry: null, rig: null, open: null }, // meters of each version
    media: {}, // <audio> elements for takes too long to decode (streamed)
    which: 'rig',
    playing: false, voice: null, startCtx: 0, startOffset: 0, position: 0,
    loop: false, region: null, range: null,
    rendering: false, again: false, renderCount: 0, changedAt: null, levelsId: '', hallCount: 0,
    hall: {}, hallMic: null, lastArea: 'set',
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
  const audioUrl = (url) => `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(TOKEN)}`;

  function setMessage(text) { $('message').textContent = text || ''; }

  // Errors appear next to the control that caused them (role="alert": announced) and mark it.
  const errorControls = {};
  function showError(area, message, control) {
    const box = $(`${area}-error`) || $('set-error');
    box.textContent = message;
    if (errorControls[area]) errorControls[area].removeAttribute('aria-invalid');
    errorControls[area] = control || null;
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', box.id);
    }
  }
  function clearError(area) {
    const box = $(`${area}-error`);
    if (box) box.textContent = '';
    if (errorControls[area]) { errorControls[area].removeAttribute('aria-invalid'); errorControls[area] = null; }
  }

  function redrawn(control) { // a control, or the one drawn in its place (same label or id)
    if (!control || document.contains(control)) return control;
    const label = control.getAttribute('aria-label');
    if (label) return document.querySelector(`[aria-label="${CSS.escape(label)}"]`);
    return control.id ? $(control.id) : null;
  }

  function setStatus(text, kind = '') {
    const box = $('status');
    box.textContent = text || '';
    box.title = text || '';
    box.className = 'status' + (kind ? ' ' + kind : '');
  }

  function publish() { // for tests and curious users: the page's state at a glance
    const d = document.body.dataset;
    d.renderCount = String(S.renderCount);
    d.renderId = S.render ? S.render.id : '';
    d.busy = S.rendering ? '1' : '0';
    d.takeId = S.take ? S.take.id : '';
    d.levelsId = S.levelsId;
    d.hallCount = String(S.hallCount);
    d.which = S.which;
  }

  // -- audio ----------------------------------------------------------------------------------

  let ctx = null;
  function audio() { // at the take's sample rate: the decoded buffers hold the server's samples
    const rate = S.take ? S.take.sample_rate : undefined;
    if (ctx && rate && ctx.sampleRate !== rate) { ctx.close(); ctx = null; }
    if (!ctx) {
      const Context = window.AudioContext || window.webkitAudioContext;
      try { ctx = new Context(rate ? { sampleRate: rate } : {}); } catch (e) { ctx = new Context(); }
    }
    return ctx;
  }

  async function decode(url) {
    const res = await api('GET', url);
    const bytes = await res.arrayBuffer();
    return audio().decodeAudioData(bytes);
  }

  function gainDb(which) { // the level-matching gain of a version, as heard: B is the reference
    if (which === 'rig') return 0;
    if (S.gains[which] != null) return S.gains[which];
    if (which === 'dry' && S.report && S.report.output) return S.report.output.normalization_db || 0; // until measured
    return 0;
  }

  function playLevel(which) { // the player's gain: B's buffer is the mix before its normalisation
    if (which === 'rig') return S.heldRaw && S.render ? S.render.play_gain : 1;
    return Math.pow(10, clamp(gainDb(which), -40, 40) / 20);
  }

  const streaming = () => !!(S.take && S.take.streaming);
  const available = (which) => (streaming() ? (which === 'dry' ? !!S.take : which === 'rig' ? !!S.render : false) : !!S.buffers[which]);
  function bufferFor(which) { return S.buffers[which] || S.buffers.rig || S.buffers.dry; }
  function duration() {
    if (streaming()) return S.report ? S.report.duration_s : (S.take ? S.take.duration_s : 0);
    const buffer = bufferFor(S.which);
    return buffer ? buffer.duration : (S.take ? S.take.duration_s : 0);
  }

  function position() {
    if (!S.playing || !ctx) return S.position;
    if (S.voice && S.voice.element) return S.voice.element.currentTime;
    let p = S.startOffset + (ctx.currentTime - S.startCtx);
    const src = S.voice && S.voice.src;
    if (src && src.loop && p > src.loopEnd) p = src.loopStart + ((p - src.loopStart) % (src.loopEnd - src.loopStart));
    return p;
  }

  function loopBounds(total) {
    const [a, b] = S.region || [0, total];
    return [clamp(a, 0, total), clamp(b, 0, total)];
  }

  function mediaFor(which) { // a long take's version, streamed by an <audio> element
    const url = which === 'dry' ? S.take.audio_url : S.render && S.render.audio_url;
    if (!url) return null;
    let entry = S.media[which];
    if (!entry || entry.url !== url) {
      if (entry) entry.element.pause();
      const element = new Audio();
      element.preload = 'auto';
      element.src = audioUrl(url);
      const c = audio();
      const gain = c.createGain();
      c.createMediaElementSource(element).connect(gain).connect(c.destination);
      entry = S.media[which] = { url, element, gain };
    }
    return entry;
  }

  function startVoice(offset, fadeS = 0.02) {
    const c = audio();
    if (c.state === 'suspended') c.resume();
    const level = playLevel(S.which);
    let at = offset;
    const total = duration();
    if (S.loop) {
      const [a, b] = loopBounds(total);
      if (b - a > 0.05 && (at < a || at >= b)) at = a;
    }
    if (at >= total || at < 0) at = 0;
    let voice;
    if (streaming()) {
      const media = mediaFor(S.which);
      if (!media) return;
      media.gain.gain.setValueAtTime(level, c.currentTime);
      media.element.currentTime = at;
      media.element.play().catch(() => {});
      voice = { element: media.element, gain: media.gain };
      media.element.onended = () => { if (S.voice === voice) { S.voice = null; S.playing = false; S.position = 0; updateTransport(); } };
    } else {
      const buffer = bufferFor(S.which);
      if (!buffer) return;
      const gain = c.createGain();
      const src = c.createBufferSource();
      src.buffer = buffer;
      if (S.loop) {
        const [a, b] = loopBounds(buffer.duration);
        if (b - a > 0.05) { src.loop = true; src.loopStart = a; src.loopEnd = b; }
      }
      gain.gain.setValueAtTime(0, c.currentTime);
      gain.gain.linearRampToValueAtTime(level, c.currentTime + fadeS);
      src.connect(gain).connect(c.destination);
      src.start(0, at);
      voice = { src, gain };
      src.onended = () => { if (S.voice === voice) { S.voice = null; S.playing = false; S.position = 0; updateTransport(); } };
    }
    fadeOut(S.voice, fadeS);
    S.voice = voice; S.startCtx = c.currentTime; S.startOffset = at; S.playing = true;
    updateTransport();
  }

  function fadeOut(voice, fadeS = 0.02) {
    if (!voice || !ctx) return;
    if (voice.element) { voice.element.onended = null; voice.element.pause(); return; }
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
    if (S.which === which || !available(which)) return;
    S.which = which;
    if (S.playing) startVoice(position(), 0.03); // crossfade at the same place
    updateTransport();
    publish();
  }

  function setLoop(on) {
    S.loop = on;
    if (S.playing) startVoice(position());
    updateTransport();
  }

  function updateTransport() {
    $('play').textContent = S.playing ? '❚❚ Pause' : '▶ Play';
    $('loop').setAttribute('aria-pressed', String(S.loop));
    for (const which of VERSIONS) {
      const button = $(BUTTON_OF[which]);
      button.setAttribute('aria-pressed', String(S.which === which));
      button.disabled = !available(which);
    }
    const has = available('dry') || available('rig');
    for (const id of ['play', 'stop', 'loop']) $(id).disabled = !has;
    $('download-render').disabled = !S.render;
    $('loop-info').textContent = S.region ? `${fmt(S.region[0], 2)}–${fmt(S.region[1], 2)} s` : (S.loop ? 'whole take' : '');
  }

  function tick() {
    let p = position();
    const total = duration();
    if (S.playing && S.voice && S.voice.element && S.loop) { // a streamed version loops by hand
      const [a, b] = loopBounds(total);
      if (b - a > 0.05 && p >= b) { S.voice.element.currentTime = a; p = a; }
    }
    $('clock').textContent = `${p.toFixed(2).padStart(6, '\u2007')} s / ${total.toFixed(2)} s`;
    const head = document.getElementById('playhead');
    if (head && T.tx) {
      const x = T.tx(p);
      head.setAttribute('x1', x); head.setAttribute('x2', x);
    }
    updateMeters(p);
    requestAnimationFrame(tick);
  }

  // -- meters: the key, each gate's gain, the output, at the playhead ---------------------------

  const M = {}; // the meters' elements by name

  function buildMeters() {
    const box = $('meters');
    clear(box);
    for (const key of Object.keys(M)) delete M[key];
    if (!S.rig) return;
    const make = (name, label, kind, title) => {
      const meter = html('div', { class: `meter ${kind}`, 'data-meter': name, role: 'meter', 'aria-label': title,
        'aria-valuemin': kind === 'gain' ? -80 : METER_FLOOR_DB, 'aria-valuemax': 0, 'aria-valuenow': kind === 'gain' ? 0 : METER_FLOOR_DB }, box);
      html('span', { class: 'value' }, meter, '–');
      const track = html('div', { class: 'track' }, meter);
      const fill = html('div', { class: 'fill' }, track);
      const peak = kind === 'out' ? html('div', { class: 'peak' }, track) : null;
      html('span', { class: 'name' }, meter, label).style.color = kind === 'gain' ? colourOf(name) : '';
      const lufs = kind === 'out' ? html('span', { class: 'lufs', title: 'short-term loudness (the last 3 s), LUFS' }, meter, '–') : null;
      if (kind === 'out') html('span', { class: 'unit' }, meter, 'LUFS');
      M[name] = { meter, fill, peak, value: meter.querySelector('.value'), lufs, kind, hold: METER_FLOOR_DB, holdAt: 0 };
    };
    make('key', 'key', 'key', 'Key level, dBFS');
    for (const mic of S.rig.mics) if (mic.gate) make(mic.name, mic.name, 'gain', `${mic.name} gate gain, dB`);
    make('out', 'out', 'out', 'Output peak, dBFS, and short-term loudness');
  }

  function setMeter(m, db, text) {
    const lo = m.kind === 'gain' ? -80 : METER_FLOOR_DB;
    const v = clamp(db, lo, 0);
    const share = m.kind === 'gain' ? (v / lo) : (v - lo) / -lo; // gain: the reduction grows down from the top
    m.fill.style.height = `${(100 * share).toFixed(1)}%`;
    m.value.textContent = text;
    m.meter.setAttribute('aria-valuenow', v.toFixed(1));
  }

  function seriesAt(values, hop, t) {
    if (!values || !values.length) return null;
    return values[clamp(Math.floor(t / hop), 0, values.length - 1)];
  }

  function updateMeters(t) {
    if (!M.key || !S.report) return;
    const timeline = S.report.timeline;
    const key = seriesAt(timeline.key_db, timeline.hop_s, t);
    if (key != null) setMeter(M.key, key, fmt(Math.max(key, -99), 0));
    for (const mic of S.rig.mics) {
      const m = M[mic.name];
      if (!m) continue;
      const gain = seriesAt(timeline.gain[mic.name], timeline.hop_s, t);
      if (gain == null) continue;
      const db = 20 * Math.log10(Math.max(gain, 1e-4));
      setMeter(m, db, db > -0.05 ? '0' : fmt(Math.max(db, -80), 0));
    }
    const levels = S.levels[S.which];
    if (levels) {
      const shift = gainDb(S.which);
      const hop = levels.peak_hop_s;
      const i = Math.floor(t / hop);
      let peak = -120;
      for (let k = Math.max(0, i - 4); k <= Math.min(levels.peak_db.length - 1, i); k++) peak = Math.max(peak, levels.peak_db[k]);
      peak += shift;
      const out = M.out;
      const now = performance.now();
      if (peak >= out.hold || now - out.holdAt > 1500) { out.hold = peak; out.holdAt = now; }
      setMeter(out, peak, fmt(Math.max(peak, -99), 1));
      out.peak.style.bottom = `${(100 * (clamp(out.hold, METER_FLOOR_DB, 0) - METER_FLOOR_DB) / -METER_FLOOR_DB).toFixed(1)}%`;
      const st = seriesAt(levels.short_term_lufs, levels.loudness_hop_s, t);
      out.lufs.textContent = st == null || st <= -119 ? '–' : fmt(st + shift, 1);
      out.meter.dataset.lufs = st == null ? '' : (st + shift).toFixed(2);
    }
  }

  // -- talking to the server --------------------------------------------------------------------

  async function applyChanges(changes, area = 'set', control = null) {
    S.changedAt = performance.now();
    S.lastArea = area;
    try {
      S.rig = await api('POST', '/api/settings', { set: changes });
    } catch (error) {
      drawAll(); // put the dragged thing back where the rig has it
      const target = redrawn(control);
      showError(area, error.message, target);
      if (target) target.focus();
      return false;
    }
    clearError(area);
    setMessage('');
    drawAll();
    if ($('auto').checked) render();
    return true;
  }

  function mergeUnchanged(result, previous) { // rows the server left out are the ones the page holds
    if (!result.unchanged || !previous) return;
    const timeline = result.report.timeline;
    for (const row of result.unchanged) {
      if (row === 'key_db') timeline.key_db = previous.timeline.key_db;
      else if (row.startsWith('gain.')) timeline.gain[row.slice(5)] = previous.timeline.gain[row.slice(5)];
    }
  }

  async function render() {
    if (!S.take) { showError('file', 'Load the demo voice or open an audio file first.', $('open-file')); return; }
    if (S.rendering) { S.again = true; return; }
    S.rendering = true; publish();
    const firstTime = !S.render;
    setStatus(firstTime ? 'Rendering · simulating the room (first time only)…' : 'Rendering…', 'busy');
    const asked = S.changedAt || performance.now();
    S.changedAt = null; // a change made while this render runs starts its own clock
    try {
      const since = S.render && S.report && S.render.take_id === S.take.id ? S.render.id : undefined;
      const result = await api('POST', '/api/render', since ? { since } : {});
      mergeUnchanged(result, S.report);
      if (!streaming()) {
        S.buffers.rig = await fetchRender(result);
        S.ids.rig = result.id;
        S.heldRaw = S.rawRig;
      }
      S.render = result; S.report = result.report;
      if (!S.again) S.rig = result.rig; // the rig as rendered, thresholds resolved on this take
      S.monitor = result.monitor;
      S.renderCount += 1;
      S.levels.rig = null; // until measured
      if (S.playing && (S.which === 'rig' || streaming())) startVoice(position(), 0.03);
      const wall = (performance.now() - asked) / 1000;
      const sim = result.convolved_mics.length ? ` · convolved ${result.convolved_mics.join(', ')}` : '';
      setStatus(firstTime
        ? `rendered in ${wall.toFixed(2)} s${sim}`
        : `change → sound ${wall.toFixed(2)} s (render ${result.elapsed_s.toFixed(2)} s${sim})`);
      clearError('timeline');
      drawAll();
      fetchLevels(result);
      fetchHall();
    } catch (error) {
      setStatus('render failed', 'error');
      showError(S.lastArea || 'timeline', error.message);
    } finally {
      S.rendering = false; publish();
    }
    if (S.again) { S.again = false; render(); }
  }

  // A render is fetched as the samples that changed since the one the page holds (a patch), or whole.
  async function fetchRender(result) {
    S.rawRig = !!result.raw_audio_url;
    if (!S.rawRig) return decode(result.audio_url);
    const held = S.buffers.rig && S.ids.rig && S.heldRaw ? S.ids.rig : null;
    if (!held) return decode(result.raw_audio_url);
    const res = await api('GET', `${result.raw_audio_url}&since=${encodeURIComponent(held)}`);
    const bytes = await res.arrayBuffer();
    if (!(res.headers.get('content-type') || '').includes('roomgate-patch')) return audio().decodeAudioData(bytes);
    return applyPatch(S.buffers.rig, bytes);
  }

  function applyPatch(buffer, bytes) { // see roomgate.studio.wire.audio_patch for the format
    const view = new DataView(bytes);
    const headerLength = view.getUint32(8, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(bytes, 12, headerLength)));
    const out = audio().createBuffer(header.channels, header.frames, header.sample_rate);
    for (let c = 0; c < header.channels; c++) out.copyToChannel(buffer.getChannelData(c), c);
    let offset = 12 + headerLength;
    for (const [start, length] of header.runs) {
      for (let c = 0; c < header.channels; c++) {
        out.copyToChannel(new Float32Array(bytes, offset, length), c, start);
        offset += 4 * length;
      }
    }
    return out;
  }

  async function fetchLevels(result) {
    try {
      const data = await api('GET', result.levels_url);
      if (!S.render || S.render.id !== data.render_id) return; // a later render is coming
      for (const which of VERSIONS) {
        const version = data.versions[which];
        S.levels[which] = version ? version.levels : null;
        S.gains[which] = version ? version.gain_db : null;
        if (!version) { S.buffers[which] = which === 'open' ? null : S.buffers[which]; S.ids[which] = which === 'open' ? null : S.ids[which]; continue; }
        if (!streaming() && S.ids[which] !== version.id) {
          S.buffers[which] = await decode(version.audio_url);
          S.ids[which] = version.id;
        }
      }
      if (!S.render || S.render.id !== data.render_id) return;
      S.levelsId = data.render_id;
      if (S.playing && S.which !== 'rig') startVoice(position(), 0.03); // its matching gain moved
      if (streaming()) drawTimeline(); // the output waveform of a streamed take comes from its meters
      updateTransport();
      publish();
    } catch (error) {
      if (error.status !== 404) setStatus(error.message, 'error');
    }
  }

  async function takeLoaded(take) {
    for (const entry of Object.values(S.media)) entry.element.pause();
    S.media = {};
    S.take = take; S.render = null; S.report = null; S.range = null; S.region = null;
    S.buffers = { dry: null, rig: null, open: null };
    S.ids = { dry: null, rig: null, open: null };
    S.levels = { dry: null, rig: null, open: null };
    S.gains = { dry: null, rig: 0, open: null };
    S.which = 'rig'; S.heldRaw = false;
    fadeOut(S.voice); S.voice = null; S.playing = false; S.position = 0;
    if (!take.streaming) { S.buffers.dry = await decode(take.audio_url); S.ids.dry = take.id; }
    clearError('file');
    drawAll();
    setMessage(take.notes && take.notes.length ? take.notes.join('; ') : '');
    await render();
  }

  async function loadDemo() {
    setStatus('Singing the demo voice…', 'busy');
    try {
      const take = await api('POST', '/api/take/demo', { sample_rate: Number($('demo-rate').value) });
      await takeLoaded(take);
    } catch (error) { setStatus(''); showError('file', error.message, $('load-demo')); }
  }

  async function upload(file) {
    if (!file) return;
    setStatus(`Uploading ${file.name}…`, 'busy');
    const form = new FormData();
    form.append('file', file, file.name);
    try {
      const take = await api('POST', '/api/take', form);
      await takeLoaded(take);
    } catch (error) { setStatus(''); showError('file', error.message, $('open-file')); }
    $('file-input').value = '';
  }

  async function openPreset(file) {
    if (!file) return;
    try {
      const text = await file.text();
      S.rig = await api('POST', '/api/preset', { name: file.name, text });
      clearError('preset');
      presetLoaded();
    } catch (error) { showError('preset', error.message, $('open-preset')); }
    $('preset-input').value = '';
  }

  function presetLoaded() {
    S.changedAt = performance.now();
    S.hallMic = null;
    $('preset-name').value = S.rig.name;
    buildMeters();
    drawAll();
    if ($('auto').checked && S.take) render();
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
      clearError('preset');
    } catch (error) { showError('preset', error.message, $('save-preset')); }
  }

  async function setMonitor(solo, mute) {
    try {
      S.monitor = await api('POST', '/api/monitor', { solo, mute });
      clearError('mics');
    } catch (error) { showError('mics', error.message); return; }
    drawTable(); drawPlan();
    if (S.take) { S.changedAt = performance.now(); S.lastArea = 'mics'; render(); }
  }

  function toggle(list, name) { return list.includes(name) ? list.filter((n) => n !== name) : [...list, name]; }

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

  const heard = (name) => (S.monitor.solo.length ? S.monitor.solo.includes(name) : !S.monitor.mute.includes(name));

  function micLabelPlace(mic, x, y, sorted, singer) {
    // The nearest mic's label sits below-right of it; the singer's label sits left, above: they never meet.
    const near = sorted.indexOf(mic) === 0 && mic.distance_m < 1.5;
    return near ? { x: x + 10, y: y + 20, anchor: 'start' } : { x, y: y - 13, anchor: 'middle' };
  }

  function drawPlan() {
    const root = $('plan');
    clear(root);
    const rig = S.rig;
    if (!rig) return;
    const [X, Y] = rig.room.size_m;
    const W = root.clientWidth || 480;
    const pad = { l: 28, r: 10, t: 10, b: 22 };
    const s = Math.min((W - pad.l - pad.r) / X, 300 / Y);
    const H = Math.round(Y * s + pad.t + pad.b);
    root.style.height = H + 'px';
    root.setAttribute('viewBox', `0 0 ${W} ${H}`);
    const ox = pad.l + (W - pad.l - pad.r - X * s) / 2, oy = pad.t;
    const px = (x) => ox + x * s, py = (y) => oy + (Y - y) * s;
    Object.assign(P, { s, X, Y, px, py, inv: (qx, qy) => [(qx - ox) / s, Y - (qy - oy) / s] });

    svg('rect', { class: 'room', x: px(0), y: py(Y), width: X * s, height: Y * s, rx: 2 }, root);
    const grid = svg('g', { 'aria-hidden': 'true' }, root);
    for (let x = 1; x < X; x++) svg('line', { class: 'grid' + (x % 5 ? '' : ' major'), x1: px(x), x2: px(x), y1: py(0) - 1, y2: py(Y) + 1 }, grid);
    for (let y = 1; y < Y; y++) svg('line', { class: 'grid' + (y % 5 ? '' : ' major'), y1: py(y), y2: py(y), x1: px(0) + 1, x2: px(X) - 1 }, grid);
    for (let x = 0; x <= X + 1e-9; x += 5) svg('text', { class: 'axis-label', x: px(x), y: py(0) + 14, 'text-anchor': 'middle' }, grid, `${x}`);
    for (let y = 0; y <= Y + 1e-9; y += 5) svg('text', { class: 'axis-label', x: px(0) - 6, y: py(y) + 3.5, 'text-anchor': 'end' }, grid, `${y}`);
    svg('text', { class: 'dimension', x: px(X), y: py(0) + 14, 'text-anchor': 'end' }, grid, `${fmt(X, X % 1 ? 1 : 0)} m`);

    const singer = rig.singer.position_m, dir = rig.line.direction;
    const reach = lineReach(rig);
    const end = [singer[0] + reach * dir[0], singer[1] + reach * dir[1]];
    const tape = svg('g', { 'aria-hidden': 'true' }, root);
    svg('line', { class: 'mic-line', x1: px(singer[0]), y1: py(singer[1]), x2: px(end[0]), y2: py(end[1]) }, tape);
    const dxy = Math.hypot(dir[0], dir[1]) || 1;
    const nx = -dir[1] / dxy, ny = dir[0] / dxy;
    for (let m = 1; m <= reach; m++) { // a tape measure along the line: a tick every metre, a number every 5 m
      const x = singer[0] + m * dir[0], y = singer[1] + m * dir[1];
      const len = m % 5 ? 3 : 6;
      svg('line', { class: 'tape', x1: px(x) - nx * len, y1: py(y) + ny * len, x2: px(x) + nx * len, y2: py(y) - ny * len }, tape);
      if (m % 5 === 0) svg('text', { class: 'tape-label', x: px(x) - nx * 14, y: py(y) + ny * 14 + 4, 'text-anchor': 'middle' }, tape, `${m} m`);
    }
    const cd = rig.room.critical_distance_m;
    if (cd && cd * s > 6) {
      svg('circle', { class: 'critical', cx: px(singer[0]), cy: py(singer[1]), r: cd * s }, tape);
      svg('text', { class: 'critical-label', x: px(singer[0]), y: py(singer[1]) - cd * s - 4, 'text-anchor': 'middle' }, tape, `critical distance ${fmt(cd, 1)} m`);
    }
    svg('circle', { class: 'singer', cx: px(singer[0]), cy: py(singer[1]), r: 7 }, tape);
    svg('text', { class: 'singer-label', x: px(singer[0]) - 11, y: py(singer[1]) - 9, 'text-anchor': 'end' }, tape, 'singer');

    const sorted = [...rig.mics].sort((a, b) => a.distance_m - b.distance_m);
    for (const mic of sorted) { // nearest first: the Tab order walks away from the singer
      const colour = colourOf(mic.name);
      const g = svg('g', {
        class: 'mic' + (heard(mic.name) ? '' : ' muted') + (S.hallMic === mic.name ? ' selected' : ''),
        'data-mic': mic.name, tabindex: 0, role: 'slider',
        'aria-label': `${mic.name} mic distance from the singer`,
        'aria-valuemin': '0.1', 'aria-valuemax': reach.toFixed(2), 'aria-valuenow': mic.distance_m.toFixed(2),
        'aria-valuetext': `${fmt(mic.distance_m, 2)} m${mic.placed === 'position' ? ' (placed off the line)' : ''}`,
      }, root);
      const [x, y] = mic.position_m;
      if (mic.placed === 'position') svg('line', { class: 'offline', stroke: colour, x1: px(singer[0]), y1: py(singer[1]), x2: px(x), y2: py(y) }, g);
      svg('circle', { class: 'hit', cx: px(x), cy: py(y), r: 14 }, g);
      svg('circle', { class: 'ring', cx: px(x), cy: py(y), r: 11 }, g);
      svg('circle', { class: 'dot', cx: px(x), cy: py(y), r: 6.5, fill: colour }, g);
      const place = micLabelPlace(mic, px(x), py(y), sorted, singer);
      const label = svg('text', { class: 'mic-label', fill: colour, x: place.x, y: place.y, 'text-anchor': place.anchor }, g);
      svg('tspan', {}, label, mic.name + ' ');
      svg('tspan', { class: 'dist' }, label, `${fmt(mic.distance_m, 2)} m`);
      g.addEventListener('pointerdown', (e) => startPlanDrag(e, mic, g));
      g.addEventListener('focus', () => selectHallMic(mic.name, false));
      g.addEventListener('keydown', (e) => { // arrows: 0.1 m along the line (Shift: 1 m)
        const step = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 }[e.key];
        if (!step) return;
        e.preventDefault();
        const d = clamp(mic.distance_m + step * (e.shiftKey ? 1 : 0.1), 0.1, lineReach(rig));
        nudge(`mic:${mic.name}`, `mics.${mic.name}.distance_m=${d.toFixed(2)}`, 'plan', () => {
          const sp = rig.singer.position_m, dr = rig.line.direction;
          mic.distance_m = d;
          mic.placed = 'distance';
          mic.position_m = [0, 1, 2].map((i) => sp[i] + d * dr[i]);
          drawPlan();
          focusAgain(`mic:${mic.name}`);
        });
      });
    }
  }

  let prefetchTimer = 0;
  function prefetchSoon(change) { // while the mic is held still, the server prepares what it will hear
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
    g.focus();
    g.setPointerCapture(e.pointerId);
    g.classList.add('dragging');
    planDrag = { mic, g, change: null };
    const move = (ev) => dragMic(ev);
    const up = () => {
      g.removeEventListener('pointermove', move);
      g.removeEventListener('pointerup', up);
      g.removeEventListener('pointercancel', up);
      g.classList.remove('dragging');
      const change = planDrag && planDrag.change;
      planDrag = null;
      clearTimeout(prefetchTimer);
      if (change) applyChanges([change], 'plan', g).then(() => focusAgain(`mic:${mic.name}`)); else drawAll();
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
    g.setAttribute('aria-valuenow', distance.toFixed(2));
    const off = g.querySelector('line.offline');
    if (off) { off.setAttribute('x2', P.px(x)); off.setAttribute('y2', P.py(y)); }
    if (S.take) prefetchSoon(planDrag.change);
  }

  // -- the mic and gate tables --------------------------------------------------------------------

  function drawTable() {
    const body = document.querySelector('#mic-table tbody');
    clear(body);
    const rig = S.rig;
    if (!rig) return;
    for (const mic of rig.mics) {
      const colour = colourOf(mic.name);
      const rep = reportMic(mic.name);
      const tr = html('tr', { 'data-mic': mic.name }, body);
      const name = html('th', { scope: 'row' }, tr);
      html('span', { class: 'swatch' }, name).style.background = colour;
      html('span', { class: 'name' }, name, mic.name);

      const dist = html('td', {}, tr);
      const distInput = html('input', { value: mic.distance_m.toFixed(2), 'aria-label': `${mic.name} distance in metres`, title: 'metres from the singer (or 20ft, 9in)' }, dist);
      html('span', { class: 'unit' }, dist, 'm');
      onCommit(distInput, 'mics', (v) => [`mics.${mic.name}.distance_m=${/^[-+.\d]+$/.test(v) ? v : JSON.stringify(v)}`]);

      const trim = html('td', {}, tr);
      const trimInput = html('input', { value: signed(mic.gain_db).replace('\u2212', '-'), 'aria-label': `${mic.name} trim in dB` }, trim);
      html('span', { class: 'unit' }, trim, 'dB');
      onCommit(trimInput, 'mics', (v) => [`mics.${mic.name}.gain_db=${/^[-+]?[\d.]+$/.test(v) ? Number(v.replace('+', '')) : JSON.stringify(v)}`]);

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
        onCommit(input, 'mics', (v) => [/^[-+]?\d+(\.\d*)?$/.test(v)
          ? `mics.${mic.name}.gate.threshold_db=${Number(v)}`
          : `mics.${mic.name}.gate.threshold=${JSON.stringify(v)}`]);
      }

      const open = html('td', { class: 'num' }, tr);
      if (rep) {
        const bar = html('span', { class: 'open-bar', 'aria-hidden': 'true' }, open);
        const fill = html('span', {}, bar);
        fill.style.width = `${Math.round(100 * rep.open_fraction)}%`;
        fill.style.background = colour;
        open.appendChild(document.createTextNode(`${Math.round(100 * rep.open_fraction)}%`));
        open.title = rep.threshold_db == null ? 'open the whole take'
          : rep.intervals.length ? `first opens at ${rep.intervals[0][0].toFixed(2)} s; opens ${rep.intervals.length} time(s)` : 'never opens';
      } else open.textContent = '–';

      const listen = html('td', {}, tr);
      const group = html('span', { class: 'listen', role: 'group', 'aria-label': `${mic.name}: listen` }, listen);
      const solo = html('button', { type: 'button', class: 'solo', 'data-mic': mic.name, 'aria-pressed': String(S.monitor.solo.includes(mic.name)),
        'aria-label': `Solo ${mic.name}`, title: `Hear the ${mic.name} mic alone, through its gate and trim` }, group, 'S');
      const mute = html('button', { type: 'button', class: 'mute', 'data-mic': mic.name, 'aria-pressed': String(S.monitor.mute.includes(mic.name)),
        'aria-label': `Mute ${mic.name}`, title: `Leave the ${mic.name} mic out of the mix (its gate still keys the others)` }, group, 'M');
      solo.addEventListener('click', () => setMonitor(toggle(S.monitor.solo, mic.name), S.monitor.mute).then(() => focusSelector(`#mic-table button.solo[data-mic="${mic.name}"]`)));
      mute.addEventListener('click', () => setMonitor(S.monitor.solo, toggle(S.monitor.mute, mic.name)).then(() => focusSelector(`#mic-table button.mute[data-mic="${mic.name}"]`)));
    }
    const isStreaming = streaming();
    for (const button of document.querySelectorAll('#mic-table .listen button')) {
      button.disabled = isStreaming;
      if (isStreaming) button.title = 'Solo and mute need a take kept in memory (at most a few minutes)';
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
      const name = html('th', { scope: 'row' }, tr);
      html('span', { class: 'swatch' }, name).style.background = colourOf(mic.name);
      html('span', { class: 'name' }, name, mic.name);
      const keyCell = html('td', {}, tr);
      const select = html('select', { 'aria-label': `${mic.name} gate key` }, keyCell);
      const keys = [...names.filter((n) => n !== mic.name), 'dry', 'self'];
      for (const k of keys) {
        const label = k === 'dry' ? 'dry take' : k === 'self' ? 'own signal' : `${k} mic`;
        html('option', { value: k }, select, label).selected = k === gate.key;
      }
      select.addEventListener('change', () => applyChanges([`mics.${mic.name}.gate.key=${select.value}`], 'gates', select));
      const number = (key, value, unit, label) => { // (the unit is in the column's heading)
        const td = html('td', {}, tr);
        const input = html('input', { class: 'short', value: value == null ? '' : String(Math.round(value * 10) / 10), placeholder: value == null ? 'full' : '', 'aria-label': `${mic.name} gate ${label} in ${unit}` }, td);
        onCommit(input, 'gates', (v) => [`mics.${mic.name}.gate.${key}=${/^[-+]?[\d.]+$/.test(v) ? Number(v) : JSON.stringify(v)}`]);
      };
      number('hysteresis_db', gate.hysteresis_db, 'dB', 'hysteresis');
      number('attack_ms', gate.attack_ms, 'ms', 'attack');
      number('hold_ms', gate.hold_ms, 'ms', 'hold');
      number('release_ms', gate.release_ms, 'ms', 'release');
      number('range_db', gate.range_db, 'dB', 'range');
    }
  }

  function onCommit(input, area, toChanges) {
    const original = input.value;
    const commit = () => {
      const value = input.value.trim();
      if (!value || value === original) return;
      applyChanges(toChanges(value.replace('\u2212', '-')), area, input);
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); input.blur(); } // (commits by the change event)
      if (e.key === 'Escape') { input.value = original; input.blur(); }
    });
    input.addEventListener('change', commit);
  }

  function focusSelector(selector) {
    const node = document.querySelector(selector);
    if (node) node.focus();
  }

  function drawChanges() {
    const box = $('changes');
    clear(box);
    const rig = S.rig;
    $('preset-name-shown').textContent = rig ? rig.preset : 'the preset';
    if (!rig || !rig.overrides.length) { html('span', { class: 'chip none' }, box, 'none'); $('undo').disabled = true; return; }
    for (const text of rig.overrides) html('span', { class: 'chip', title: text }, box, text);
    $('undo').disabled = false;
  }

  function drawPresets() {
    const select = $('preset-select');
    clear(select);
    const current = S.rig ? S.rig.preset : '';
    if (current && !S.presets.includes(current)) html('option', { value: '' }, select, `${current} (opened)`).selected = true;
    for (const name of S.presets) html('option', { value: name }, select, name).selected = name === current;
  }

  function drawHeader() {
    const rig = S.rig, take = S.take;
    const info = $('take-info');
    clear(info);
    if (take) {
      html('b', {}, info, take.name);
      const kind = take.streaming ? 'mono · streamed' : 'mono';
      info.appendChild(document.createTextNode(` · ${take.duration_s.toFixed(1)} s · ${(take.sample_rate / 1000).toFixed(take.sample_rate % 1000 ? 1 : 0)} kHz · ${kind}`));
      info.title = info.textContent;
    } else { info.textContent = 'No take loaded'; info.title = 'No take loaded'; }
    if (rig) {
      const [X, Y, Z] = rig.room.size_m;
      const rt = rig.room.rt60_s != null ? ` · RT60 ${fmt(rig.room.rt60_s, 2)} s` : ' · RT60 from materials';
      $('room-info').textContent = `${fmt(X, X % 1 ? 1 : 0)} × ${fmt(Y, Y % 1 ? 1 : 0)} × ${fmt(Z, Z % 1 ? 1 : 0)} m${rt} · ${rig.name}`;
      if (!$('preset-name').value) $('preset-name').value = rig.name;
    }
    const r = S.render;
    const monitor = S.monitor.solo.length ? ` · solo ${S.monitor.solo.join(', ')}` : S.monitor.mute.length ? ` · muted ${S.monitor.mute.join(', ')}` : '';
    $('render-info').textContent = r
      ? `${S.report.duration_s.toFixed(1)} s with the tail · normalised ${signed(S.report.output.normalization_db)} dB${monitor}`
      : 'not rendered yet';
    $('render-info').parentElement.title = $('render-info').textContent;
  }

  // -- the hall ---------------------------------------------------------------------------------

  let hallAsked = 0;
  async function fetchHall() {
    if (!S.take) return;
    const asked = ++hallAsked;
    const have = Object.values(S.hall).map((h) => h.digest).join(',');
    try {
      const data = await api('GET', `/api/hall?have=${encodeURIComponent(have)}`);
      if (asked !== hallAsked) return;
      const next = {};
      const held = Object.values(S.hall);
      for (const entry of data.mics) {
        next[entry.name] = entry.same ? { ...held.find((h) => h.digest === entry.digest), name: entry.name, distance_m: entry.distance_m } : entry;
      }
      S.hall = next;
      S.hallRate = data.sample_rate;
      S.hallCount += 1;
      drawHall();
      publish();
    } catch (error) { if (asked === hallAsked) $('hall-info').textContent = error.message; }
  }

  function selectHallMic(name, focus = true) {
    if (S.hallMic === name) return;
    S.hallMic = name;
    drawHall();
    for (const g of document.querySelectorAll('#plan .mic')) g.classList.toggle('selected', g.dataset.mic === name);
    if (focus) focusSelector(`.hall-mics button[data-mic="${name}"]`);
  }

  function drawHall() {
    const rig = S.rig;
    const box = document.querySelector('.hall-mics');
    if (!rig) { clear(box); return; }
    if (!S.hallMic || !rig.mics.some((m) => m.name === S.hallMic)) {
      const gated = rig.mics.filter((m) => m.gate);
      S.hallMic = (gated.length ? gated[gated.length - 1] : rig.mics[0]).name;
    }
    const names = rig.mics.map((m) => m.name).join(' ');
    if (box.dataset.mics !== names) { // the buttons stay (and keep the focus) while the mics do
      clear(box);
      box.dataset.mics = names;
      for (const mic of rig.mics) {
        const button = html('button', { type: 'button', 'data-mic': mic.name }, box);
        html('span', { class: 'swatch', 'aria-hidden': 'true' }, button).style.background = colourOf(mic.name);
        button.appendChild(document.createTextNode(mic.name));
        button.addEventListener('click', () => selectHallMic(mic.name));
      }
    }
    for (const button of box.querySelectorAll('button')) button.setAttribute('aria-pressed', String(button.dataset.mic === S.hallMic));
    const entry = S.hall[S.hallMic];
    drawHallPlot(entry);
    drawHallTable(entry);
    $('hall-info').textContent = entry
      ? `${S.hallMic} at ${fmt(entry.distance_m, 2)} m · ${S.hallRate / 1000} kHz`
      : (S.take ? 'measuring…' : 'load a take: the hall is measured at its sample rate');
  }

  function drawHallPlot(entry) {
    const root = $('hall-plot');
    clear(root);
    const W = root.clientWidth || 420, H = 170;
    root.setAttribute('viewBox', `0 0 ${W} ${H}`);
    const m = { l: 34, r: 8, t: 8, b: 20 };
    const x0 = m.l, x1 = W - m.r, y0 = m.t, y1 = H - m.b;
    svg('rect', { class: 'frame', x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, root);
    if (!entry) { svg('text', { class: 'empty', x: (x0 + x1) / 2, y: (y0 + y1) / 2, 'text-anchor': 'middle' }, root, 'no impulse response yet'); return; }
    const span = entry.span_s, lo = -80;
    const tx = (t) => x0 + (t / span) * (x1 - x0), ty = (db) => y0 + (clamp(db, lo, 0) / lo) * (y1 - y0);
    for (let db = 0; db >= lo; db -= 20) {
      svg('line', { class: 'grid', x1: x0, x2: x1, y1: ty(db), y2: ty(db) }, root);
      svg('text', { class: 'tick-label', x: x0 - 4, y: ty(db) + 3.5, 'text-anchor': 'end' }, root, minus(String(db)));
    }
    const step = [0.1, 0.2, 0.25, 0.5, 1, 2].find((s) => (x1 - x0) / (span / s) >= 50) || 5;
    for (let t = 0; t <= span + 1e-9; t += step) svg('text', { class: 'tick-label', x: tx(t), y: y1 + 13, 'text-anchor': t ? 'middle' : 'start' }, root, `${+t.toFixed(2)} s`);
    const env = entry.envelope_db, dt = entry.envelope_hop_s;
    let d = `M${x0},${ty(lo)}`;
    for (let i = 0; i < env.length; i++) d += `L${tx(i * dt).toFixed(1)},${ty(env[i]).toFixed(1)}`;
    d += `L${tx((env.length - 1) * dt).toFixed(1)},${ty(lo)}Z`;
    svg('path', { class: 'ir', d }, root);
    const decay = entry.decay_db, dd = entry.decay_hop_s;
    let line = '';
    for (let i = 0; i < decay.length; i++) line += (i ? 'L' : 'M') + tx(entry.direct_s + i * dd).toFixed(1) + ',' + ty(decay[i]).toFixed(1);
    svg('path', { class: 'decay', d: line, stroke: colourOf(S.hallMic) }, root);
    svg('text', { class: 'legend', x: x1 - 6, y: y0 + 12, 'text-anchor': 'end' }, root, 'grey: |IR| · line: decay (Schroeder), dB');
  }

  function drawHallTable(entry) {
    const table = $('hall-table');
    const head = table.querySelector('thead tr');
    clear(head);
    html('th', { scope: 'col' }, head, 'band');
    const bands = entry ? HALL_BANDS.filter((b) => b === 'broadband' || entry.measures.t30_s[b] !== undefined) : HALL_BANDS.slice(0, 7);
    for (const b of bands) html('th', { scope: 'col' }, head, b === 'broadband' ? 'all' : (Number(b) >= 1000 ? `${Number(b) / 1000}k` : b));
    const body = table.querySelector('tbody');
    clear(body);
    for (const [key, label, unit, digits] of HALL_ROWS) {
      const tr = html('tr', { 'data-measure': key }, body);
      html('th', { scope: 'row' }, tr, `${label} ${unit}`);
      for (const b of bands) {
        const value = entry ? entry.measures[key][b] : null;
        const td = html('td', { 'data-band': b, class: value == null ? 'na' : '' }, tr, value == null ? '–' : fmt(value, digits));
        if (value != null) td.dataset.value = String(value);
      }
    }
  }

  // -- the timeline ---------------------------------------------------------------------------

  const T = {}; // the timeline's geometry
  let thresholdDrag = null;

  function levelRange(report) { // a steady 70 dB window under 0 dBFS, lower only when a threshold is
    let lo = -70;
    for (const mic of report.mics) if (mic.threshold_db != null) lo = Math.min(lo, Math.floor((mic.threshold_db - 15) / 10) * 10);
    return [Math.max(lo, -120), 0];
  }

  const waveCache = { buffer: null, columns: 0, lows: null, highs: null };
  function waveColumns(columns) { // the output's lowest and highest sample in each pixel column
    const buffer = S.buffers.rig;
    if (buffer) {
      if (waveCache.buffer === buffer && waveCache.columns === columns) return waveCache;
      const data = buffer.getChannelData(0);
      const lows = new Float32Array(columns), highs = new Float32Array(columns);
      const per = data.length / columns;
      for (let c = 0; c < columns; c++) {
        let lo = 0, hi = 0;
        const end = Math.min(data.length, Math.floor((c + 1) * per));
        for (let i = Math.floor(c * per); i < end; i++) { const v = data[i]; if (v < lo) lo = v; else if (v > hi) hi = v; }
        lows[c] = lo; highs[c] = hi;
      }
      Object.assign(waveCache, { buffer, columns, lows, highs });
      return waveCache;
    }
    const levels = S.levels.rig; // a streamed take: the envelope of its 10 ms peaks
    if (!levels) return null;
    const lows = new Float32Array(columns), highs = new Float32Array(columns);
    const per = levels.peak_db.length / columns;
    for (let c = 0; c < columns; c++) {
      let hi = 0;
      for (let i = Math.floor(c * per); i < Math.min(levels.peak_db.length, Math.floor((c + 1) * per) + 1); i++) hi = Math.max(hi, Math.pow(10, levels.peak_db[i] / 20));
      lows[c] = -hi; highs[c] = hi;
    }
    return { lows, highs };
  }

  function drawTimeline() {
    const root = $('timeline');
    clear(root);
    const W = root.clientWidth || 1000;
    const rig = S.rig, report = S.report;
    const mics = rig ? rig.mics : [];
    const m = { l: 58, r: 12, t: 8 };
    const levelH = 118, waveH = 34, laneH = 17, laneGap = 5;
    const waveTop = m.t + levelH + 8;
    const lanesTop = waveTop + waveH + 8;
    const axisY = lanesTop + mics.length * (laneH + laneGap);
    const H = axisY + 22;
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
    Object.assign(T, { tx, ty, lo, hi, duration, x0, x1, top: m.t, levelH, bottom: axisY, lanesTop, laneH, laneGap });

    const back = svg('g', { 'aria-hidden': 'true' }, root);
    svg('rect', { class: 'frame', x: x0, y: m.t, width: plotW, height: levelH }, back);
    for (let db = Math.ceil(lo / 10) * 10; db <= hi; db += 10) {
      svg('line', { class: 'grid', x1: x0, x2: x1, y1: ty(db), y2: ty(db) }, back);
      svg('text', { class: 'tick-label', x: x0 - 6, y: ty(db) + 3.5, 'text-anchor': 'end' }, back, minus(String(db)));
    }
    svg('text', { class: 'unit-label', x: 6, y: m.t + 10 }, back, 'dBFS');

    for (const mic of report.mics) { // the gates' open spans, faint behind the level
      if (mic.threshold_db == null) continue;
      for (const [a, b] of mic.intervals) {
        svg('rect', { x: tx(a), y: m.t, width: Math.max(1, tx(b) - tx(a)), height: levelH, fill: colourOf(mic.name), 'fill-opacity': 0.05 }, back);
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
    svg('path', { class: 'key-area', d: area }, back);
    svg('path', { class: 'key-line', d: line }, back);
    const keyGate = (mics.find((r) => r.gate) || {}).gate;
    svg('text', { class: 'legend', x: x0 + 8, y: m.t + 13 }, back,
      `key level: ${keyGate ? (keyGate.key === 'dry' ? 'the dry take' : keyGate.key === 'self' ? 'each mic itself' : `the ${keyGate.key} mic`) : 'the first mic'} · shaded: a gate is open`);

    // the output waveform, under the key lane
    svg('rect', { class: 'lane-bg', x: x0, y: waveTop, width: plotW, height: waveH, rx: 3 }, back);
    svg('text', { class: 'lane-label', x: x0 - 8, y: waveTop + waveH / 2 + 4, 'text-anchor': 'end' }, back, 'out');
    const wave = waveColumns(columns);
    if (wave) {
      const mid = waveTop + waveH / 2, half = (waveH / 2 - 1) * (S.buffers.rig ? playLevel('rig') : 1);
      let top = '', bottom = '';
      for (let c = 0; c < columns; c++) {
        const x = (x0 + c + 0.5).toFixed(1);
        top += (c ? 'L' : 'M') + x + ',' + (mid - clamp(wave.highs[c], 0, 1) * half).toFixed(1);
        bottom = 'L' + x + ',' + (mid - clamp(wave.lows[c], -1, 0) * half).toFixed(1) + bottom;
      }
      svg('path', { class: 'wave', d: top + bottom + 'Z' }, back);
    }

    // lanes: when each mic was open, and its gate's gain
    mics.forEach((mic, i) => {
      const rep = reportMic(mic.name);
      const colour = colourOf(mic.name);
      const y = lanesTop + i * (laneH + laneGap);
      svg('rect', { class: 'lane-bg', x: x0, y, width: plotW, height: laneH, rx: 3, 'data-lane': mic.name }, back);
      svg('text', { class: 'lane-label', x: x0 - 8, y: y + laneH / 2 + 4, 'text-anchor': 'end', fill: colour, 'fill-opacity': heard(mic.name) ? 1 : 0.45 }, back, mic.name);
      if (!rep) return;
      for (const [a, b] of rep.intervals) {
        svg('rect', { x: tx(a), y: y + 2, width: Math.max(1, tx(b) - tx(a)), height: laneH - 4, fill: colour, 'fill-opacity': 0.28, rx: 2 }, back);
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
        svg('path', { d, fill: 'none', stroke: colour, 'stroke-width': 1.2 }, back);
      }
    });

    // time axis
    const step = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600].find((s) => plotW / (duration / s) >= 48) || 1200;
    for (let t = 0; t <= duration + 1e-9; t += step) {
      svg('line', { class: 'grid', x1: tx(t), x2: tx(t), y1: axisY - 2, y2: axisY + 3 }, back);
      svg('text', { class: 'tick-label', x: tx(t), y: axisY + 15, 'text-anchor': 'middle' }, back, `${+t.toFixed(1)}`);
    }
    svg('text', { class: 'unit-label', x: x0 - 8, y: axisY + 15, 'text-anchor': 'end' }, back, 's');
    if (S.take && S.take.duration_s < duration - 0.05) {
      svg('line', { class: 'take-end', x1: tx(S.take.duration_s), x2: tx(S.take.duration_s), y1: m.t, y2: axisY }, back);
    }

    // the loop region, the scrub surface, the playhead
    if (S.region) svg('rect', { class: 'region', x: tx(S.region[0]), y: m.t, width: Math.max(1, tx(S.region[1]) - tx(S.region[0])), height: axisY - m.t }, back);
    const surface = svg('rect', { x: x0, y: m.t, width: plotW, height: axisY - m.t + 18, fill: 'transparent', cursor: 'text', 'aria-hidden': 'true' }, root);
    surface.addEventListener('pointerdown', startScrub);
    svg('line', { id: 'playhead', class: 'playhead', x1: tx(position()), x2: tx(position()), y1: m.t, y2: axisY, 'pointer-events': 'none', 'aria-hidden': 'true' }, root);

    // thresholds last, on top, draggable; their labels kept apart
    const placed = [];
    for (const mic of report.mics) {
      if (mic.threshold_db == null) continue;
      const rigMic = mics.find((r) => r.name === mic.name);
      const hyst = rigMic && rigMic.gate ? rigMic.gate.hysteresis_db || 0 : 0;
      drawThreshold(root, mic, mic.threshold_db, hyst, placed);
    }
  }

  function labelY(y, height, placed) { // the nearest free spot above or below the line
    for (const offset of [-11, 11, -29, 29, -47, 47]) {
      const candidate = clamp(y + offset, T.top + height / 2, T.top + T.levelH - height / 2);
      if (placed.every((other) => Math.abs(other - candidate) >= height + 1)) return candidate;
    }
    return y - 11;
  }

  function drawThreshold(root, mic, db, hyst, placed) {
    const colour = colourOf(mic.name);
    const g = svg('g', {
      class: 'threshold', 'data-mic': mic.name, tabindex: 0, role: 'slider', 'aria-label': `${mic.name} gate threshold`,
      'aria-valuemin': String(T.lo), 'aria-valuemax': String(T.hi), 'aria-valuenow': db.toFixed(1),
      'aria-valuetext': `${mic.name} gate opens above ${fmt(db, 1)} dBFS`,
    }, root);
    const y = T.ty(db);
    if (hyst > 0) svg('line', { class: 'closes', stroke: colour, x1: T.x0, x2: T.x1, y1: T.ty(db - hyst), y2: T.ty(db - hyst) }, g);
    svg('line', { class: 'hit', x1: T.x0, x2: T.x1, y1: y, y2: y }, g);
    svg('line', { class: 'line', stroke: colour, x1: T.x0, x2: T.x1, y1: y, y2: y }, g);
    const label = `${mic.name} opens  ${fmt(db, 1)} dBFS`;
    const width = label.length * 6.4 + 14;
    const ly = labelY(y, 17, placed);
    placed.push(ly);
    const pill = svg('rect', { class: 'pill', stroke: colour, x: T.x1 - width - 6, y: ly - 8.5, width, height: 17, rx: 8.5 }, g);
    const text = svg('text', { x: T.x1 - width / 2 - 6, y: ly + 4, 'text-anchor': 'middle', fill: colour }, g, label);
    g.addEventListener('pointerdown', (e) => startThresholdDrag(e, g, mic, db, hyst, { pill, text, width, offset: ly - y }));
    g.addEventListener('keydown', (e) => { // arrows: 0.5 dB (Shift: 3 dB)
      const step = { ArrowUp: 1, ArrowRight: 1, ArrowDown: -1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      e.preventDefault();
      const value = clamp(Math.round((mic.threshold_db + step * (e.shiftKey ? 3 : 0.5)) * 10) / 10, T.lo, T.hi);
      nudge(`thr:${mic.name}`, `mics.${mic.name}.gate.threshold_db=${value.toFixed(1)}`, 'timeline', () => {
        mic.threshold_db = value; // shown now; the render will confirm it
        drawTimeline();
        focusAgain(`thr:${mic.name}`);
      });
    });
  }

  const nudges = {};
  function nudge(id, change, area, apply) { // keyboard steps: shown at once, sent when the keys rest
    apply();
    clearTimeout(nudges[id]);
    nudges[id] = setTimeout(() => {
      delete nudges[id];
      applyChanges([change], area, focusTarget(id)).then(() => focusAgain(id));
    }, 350);
  }

  function focusTarget(id) {
    const [kind, name] = id.split(':');
    return document.querySelector(kind === 'mic' ? `#plan .mic[data-mic="${name}"]` : `#timeline .threshold[data-mic="${name}"]`);
  }

  function focusAgain(id) {
    const node = focusTarget(id);
    if (node) node.focus();
  }

  function timelinePoint(e) {
    const r = $('timeline').getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  function startThresholdDrag(e, g, mic, db, hyst, parts) {
    if (e.button !== 0) return;
    e.preventDefault(); e.stopPropagation();
    g.focus();
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
      g.setAttribute('aria-valuenow', thresholdDrag.value.toFixed(1));
    };
    const up = () => {
      g.removeEventListener('pointermove', move);
      g.removeEventListener('pointerup', up);
      g.removeEventListener('pointercancel', up);
      g.classList.remove('dragging');
      const value = thresholdDrag.value;
      thresholdDrag = null;
      if (Math.abs(value - db) >= 0.05) applyChanges([`mics.${mic.name}.gate.threshold_db=${value.toFixed(1)}`], 'timeline', g);
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
    drawPresets();
    drawPlan();
    const editing = document.activeElement && document.activeElement.closest && document.activeElement.closest('tbody');
    if (!editing || !editing.closest('#gate-table')) drawGates(); // not under the user's fingers
    if (!editing || !editing.closest('#mic-table')) drawTable();
    drawChanges();
    drawHall();
    drawTimeline();
    if (M.key === undefined || Object.keys(M).length !== 2 + S.rig.mics.filter((m) => m.gate).length) buildMeters();
    updateTransport();
    publish();
    if (keep) focusAgain(keep); // the keyboard stays on the mic or threshold it was on
  }

  // -- wiring -----------------------------------------------------------------------------------

  function isPreset(file) { return /\.toml$/i.test(file.name); }

  function wire() {
    $('load-demo').addEventListener('click', loadDemo);
    $('open-file').addEventListener('click', () => $('file-input').click());
    $('file-input').addEventListener('change', (e) => upload(e.target.files[0]));
    $('open-preset').addEventListener('click', () => $('preset-input').click());
    $('preset-input').addEventListener('change', (e) => openPreset(e.target.files[0]));
    $('preset-select').addEventListener('change', async (e) => {
      if (!e.target.value) return;
      try { S.rig = await api('POST', '/api/settings/reset', { preset: e.target.value }); clearError('preset'); $('preset-name').value = ''; presetLoaded(); }
      catch (error) { showError('preset', error.message, e.target); }
    });
    $('save-preset').addEventListener('click', () => {
      const name = $('preset-name').value.trim();
      download(`/api/preset.toml${name ? `?name=${encodeURIComponent(name)}` : ''}`, 'rig.toml');
    });
    $('download-render').addEventListener('click', () => download('/api/audio/render?download=1', 'render.wav'));
    $('play').addEventListener('click', play);
    $('stop').addEventListener('click', stop);
    $('loop').addEventListener('click', () => setLoop(!S.loop));
    for (const which of VERSIONS) $(BUTTON_OF[which]).addEventListener('click', () => choose(which));
    $('render').addEventListener('click', () => { S.changedAt = performance.now(); render(); });
    $('undo').addEventListener('click', async () => {
      try { S.rig = await api('POST', '/api/settings/undo'); S.changedAt = performance.now(); clearError('set'); drawAll(); if ($('auto').checked) render(); } catch (error) { showError('set', error.message, $('undo')); }
    });
    $('reset').addEventListener('click', async () => {
      try { S.rig = await api('POST', '/api/settings/reset', {}); S.changedAt = performance.now(); clearError('set'); presetLoaded(); } catch (error) { showError('set', error.message, $('reset')); }
    });
    $('set-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = $('set-input').value.trim();
      if (!text) return;
      const changes = text.split(/\s*[;\n]\s*|\s+(?=[A-Za-z_][\w.-]*=)/).filter(Boolean);
      if (await applyChanges(changes, 'set', $('set-input'))) $('set-input').value = '';
    });
    document.addEventListener('keydown', (e) => {
      if (e.target.closest('input, select, textarea') || e.ctrlKey || e.metaKey || e.altKey) return;
      const key = e.key.toLowerCase();
      if (e.key === ' ' && !e.target.closest('button')) { e.preventDefault(); play(); }
      else if (key === 'a') choose('dry');
      else if (key === 'b') choose('rig');
      else if (key === 'c') choose('open');
      else if (key === 'l') setLoop(!S.loop);
    });
    // Drop an audio file (a new take) or a preset anywhere on the page.
    let depth = 0;
    const zone = $('drop-zone');
    const carriesFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
    document.addEventListener('dragenter', (e) => { if (carriesFiles(e)) { depth += 1; zone.hidden = false; } });
    document.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) zone.hidden = true; });
    document.addEventListener('dragover', (e) => { if (carriesFiles(e)) e.preventDefault(); });
    document.addEventListener('drop', (e) => {
      depth = 0; zone.hidden = true;
      const file = e.dataTransfer && e.dataTransfer.files[0];
      if (!file) return;
      e.preventDefault();
      if (isPreset(file)) openPreset(file); else upload(file);
    });
    let width = 0;
    new ResizeObserver(() => {
      const w = document.querySelector('main').clientWidth;
      if (w !== width) { width = w; waveCache.buffer = null; drawAll(); }
    }).observe(document.querySelector('main'));
  }

  async function start() {
    wire();
    if (!TOKEN) { showError('file', 'This page needs the URL printed by roomgate studio (it ends in ?token=…).'); return; }
    try {
      const state = await api('GET', '/api/state');
      S.rig = state.rig; S.take = state.take; S.presets = state.presets; S.monitor = state.monitor;
      if (state.render && state.take && state.render.take_id === state.take.id) {
        S.render = state.render; S.report = state.render.report;
      }
      $('preset-name').value = S.rig.name;
      buildMeters();
      drawAll();
      if (S.take && !S.take.streaming) { S.buffers.dry = await decode(S.take.audio_url); S.ids.dry = S.take.id; }
      if (S.render && !streaming()) { S.buffers.rig = await fetchRender(S.render); S.ids.rig = S.render.id; S.heldRaw = S.rawRig; }
      if (S.render) { fetchLevels(S.render); fetchHall(); }
      drawAll();
    } catch (error) { showError('file', error.message); }
    publish();
    requestAnimationFrame(tick);
  }

  window.roomgateStudio = { state: S, render, applyChanges, meters: M, playLevel }; // for the console and the tests
  start();
})();
