// tunesmith studio: the page. Plain JavaScript, no build step. The server does all the
// music (drafting, rendering, files); this draws piano rolls from its JSON, plays its
// audio with a playhead, and turns clicks into its API calls.
"use strict";

const $ = (id) => document.getElementById(id);
const COLOURS = ["#2f6fd6", "#e8772e", "#2ca05a", "#d23c3c", "#8a5cc7", "#8c5a3c",
                 "#d65db1", "#17a2b8", "#a8a52a", "#6c757d"];
const FINAL = ["done", "failed", "cancelled", "interrupted"];
const state = { fields: [], piece: null, job: null, shown: new Set(), polling: null };

// --- talking to the server -------------------------------------------------------------
async function api(path, options = {}) {
  const res = await fetch(path, options);
  let body;
  try { body = await res.json(); } catch (e) { body = { error: `${res.status} ${res.statusText}` }; }
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}
const postJSON = (path, data) => api(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });

function say(text, isError = false) {
  const m = $("message");
  m.textContent = text || "";
  m.className = isError ? "error" : "";
}
const failed = (err) => say(err.message, true);

// --- the form, drawn from the server's declared fields ----------------------------------
function buildForm(fields) {
  const form = $("form");
  form.innerHTML = "";
  const groups = { music: form };
  for (const f of fields) {
    if (!groups[f.group]) {
      const d = document.createElement("details");
      d.innerHTML = `<summary>${f.group === "sampling" ? "Sampling and drafts" : "More"}</summary>`;
      form.appendChild(d);
      groups[f.group] = d;
    }
    const row = document.createElement("div");
    row.className = `field ${f.kind}`;
    const label = document.createElement("label");
    label.textContent = f.label;
    label.htmlFor = `f-${f.name}`;
    label.title = f.help;
    let input;
    if (f.kind === "textarea") {
      input = document.createElement("textarea");
    } else if (f.kind === "choice" || f.kind === "yesno") {
      input = document.createElement("select");
      for (const o of f.options) input.appendChild(new Option(o, o));
    } else {
      input = document.createElement("input");
      input.type = f.kind === "bool" ? "checkbox" : "text";
    }
    input.id = `f-${f.name}`;
    input.name = f.name;
    input.title = f.help;
    input.placeholder = f.placeholder || "";
    if (f.kind === "bool") input.checked = !!f.default;
    else input.value = f.default === null || f.default === undefined ? "" : String(f.default);
    if (f.options && f.options.length && input.tagName === "INPUT") {
      const list = document.createElement("datalist");
      list.id = `opts-${f.name}`;
      for (const o of f.options) list.appendChild(new Option(o));
      row.appendChild(list);
      input.setAttribute("list", list.id);
    }
    row.append(label, input);
    groups[f.group].appendChild(row);
  }
}

function formValues() {
  const out = {};
  for (const f of state.fields) {
    const el = $(`f-${f.name}`);
    out[f.name] = f.kind === "bool" ? el.checked : el.value;
  }
  return out;
}

// --- piano roll -------------------------------------------------------------------------
class Roll {
  // Draws a score's notes once on an offscreen canvas; selection and playhead on top.
  constructor(canvas, data, { selectable = false, onselect = null } = {}) {
    this.canvas = canvas; this.data = data; this.sel = null; this.onselect = onselect;
    this.audio = null; this.frame = null;
    this.render();
    if (selectable) this.listen();
    new ResizeObserver(() => this.render()).observe(canvas);
  }
  layout() {
    const d = this.data, dpr = window.devicePixelRatio || 1;
    this.w = Math.max(this.canvas.clientWidth, 50); this.h = Math.max(this.canvas.clientHeight, 50);
    this.canvas.width = Math.round(this.w * dpr); this.canvas.height = Math.round(this.h * dpr);
    this.dpr = dpr;
    this.left = 34; this.right = 6; this.top = 16 + (d.chords.length ? 14 : 0);
    this.bottom = d.lyrics.length ? 16 : 4;
    let lo = 127, hi = 0;
    for (const t of d.tracks) for (let i = 2; i < t.notes.length; i += 4) {
      lo = Math.min(lo, t.notes[i]); hi = Math.max(hi, t.notes[i]);
    }
    if (lo > hi) { lo = 60; hi = 72; }
    this.lo = lo - 2; this.hi = hi + 2;
  }
  x(tick) { return this.left + (tick / this.data.end) * (this.w - this.left - this.right); }
  y(pitch) { return this.top + (this.hi - pitch) / (this.hi - this.lo + 1) * (this.h - this.top - this.bottom); }
  barAt(px) {
    const tick = (px - this.left) / (this.w - this.left - this.right) * this.data.end;
    const bars = this.data.bars;
    let i = 0;
    while (i + 2 < bars.length && bars[i + 1] <= tick) i++;
    return i;
  }
  render() {
    this.layout();
    const base = document.createElement("canvas");
    base.width = this.canvas.width; base.height = this.canvas.height;
    const g = base.getContext("2d"), d = this.data;
    g.scale(this.dpr, this.dpr);
    g.font = "10px system-ui, sans-serif";
    const rowH = (this.h - this.top - this.bottom) / (this.hi - this.lo + 1);
    for (let p = this.lo; p <= this.hi; p++) {  // black-key rows shaded, every C labelled
      if ([1, 3, 6, 8, 10].includes(((p % 12) + 12) % 12)) {
        g.fillStyle = "#f0f2f6"; g.fillRect(this.left, this.y(p) - rowH / 2, this.w, rowH);
      }
      if (p % 12 === 0) { g.fillStyle = "#6b7285"; g.fillText(`C${p / 12 - 1}`, 4, this.y(p) + 3); }
    }
    d.bars.slice(0, -1).forEach((tick, i) => {
      const x = this.x(tick);
      g.strokeStyle = "#c3c7d1"; g.beginPath(); g.moveTo(x, 12); g.lineTo(x, this.h - this.bottom); g.stroke();
      g.fillStyle = "#1d2230"; g.fillText(String(i + 1), x + 2, 10);
    });
    g.fillStyle = "#7a4fb0";
    for (const [tick, text] of d.chords) g.fillText(text, this.x(tick) + 2, 24);
    d.tracks.forEach((t, k) => {
      g.fillStyle = COLOURS[k % COLOURS.length];
      for (let i = 0; i < t.notes.length; i += 4) {
        const x0 = this.x(t.notes[i]), x1 = this.x(t.notes[i] + t.notes[i + 1]);
        g.globalAlpha = 0.45 + 0.55 * (t.notes[i + 3] / 127);
        g.fillRect(x0, this.y(t.notes[i + 2]) - rowH * 0.45, Math.max(x1 - x0 - 0.5, 1), Math.max(rowH * 0.9, 2));
      }
      g.globalAlpha = 1;
    });
    g.fillStyle = "#1d2230";
    for (const [tick, text] of d.lyrics) g.fillText(text, this.x(tick), this.h - 4);
    // legend: part names in their colours, on a white box over the bar numbers
    const names = d.tracks.map((t, k) => t.name || `part ${k + 1}`);
    const widths = names.map((n) => g.measureText(n).width + 10);
    let lx = this.w - this.right - widths.reduce((a, b) => a + b, 0);
    g.fillStyle = "rgba(255,255,255,0.92)"; g.fillRect(lx - 4, 0, this.w - lx + 4, 13);
    names.forEach((name, k) => {
      g.fillStyle = COLOURS[k % COLOURS.length]; g.fillText(name, lx, 10); lx += widths[k];
    });
    this.base = base;
    this.draw();
  }
  draw() {
    const g = this.canvas.getContext("2d");
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, this.canvas.width, this.canvas.height);
    g.drawImage(this.base, 0, 0);
    g.scale(this.dpr, this.dpr);
    if (this.sel) {
      const bars = this.data.bars;
      const x0 = this.x(bars[this.sel[0]]), x1 = this.x(bars[this.sel[1] + 1]);
      g.fillStyle = "rgba(47,111,214,0.18)"; g.fillRect(x0, 12, x1 - x0, this.h - 12);
    }
    if (this.audio && (this.audio.currentTime > 0 || !this.audio.paused)) {
      const x = this.x(this.secondsToTick(this.audio.currentTime));
      g.strokeStyle = "#d23c3c"; g.lineWidth = 2;
      g.beginPath(); g.moveTo(x, 0); g.lineTo(x, this.h); g.stroke();
    }
  }
  secondsToTick(seconds) {  // through the tempo map: [tick, quarters per minute]
    const { tempos, tpq } = this.data;
    let elapsed = 0;
    for (let i = 0; i < tempos.length; i++) {
      const [tick, qpm] = tempos[i], perTick = 60 / (qpm * tpq);
      const next = i + 1 < tempos.length ? tempos[i + 1][0] : Infinity;
      if (seconds <= elapsed + (next - tick) * perTick) return tick + (seconds - elapsed) / perTick;
      elapsed += (next - tick) * perTick;
    }
    return this.data.end;
  }
  follow(audio) {  // the playhead follows the audio element's currentTime
    this.audio = audio;
    const loop = () => { this.draw(); if (!audio.paused) this.frame = requestAnimationFrame(loop); };
    audio.addEventListener("play", () => { cancelAnimationFrame(this.frame); loop(); });
    for (const ev of ["pause", "seeked", "timeupdate", "ended"]) audio.addEventListener(ev, () => this.draw());
  }
  listen() {  // drag across bars to select them
    let from = null;
    const bar = (e) => this.barAt(e.clientX - this.canvas.getBoundingClientRect().left);
    this.canvas.addEventListener("mousedown", (e) => { from = bar(e); this.select(from, from); });
    this.canvas.addEventListener("mousemove", (e) => { if (from !== null) this.select(from, bar(e)); });
    window.addEventListener("mouseup", () => { if (from !== null && this.onselect) this.onselect(this.sel); from = null; });
  }
  select(a, b) { this.sel = [Math.min(a, b), Math.max(a, b)]; this.draw(); if (this.onselect) this.onselect(this.sel); }
}

// --- drafting jobs ----------------------------------------------------------------------
function busy(on) {
  for (const id of ["draft", "regen", "continue", "part", "song"]) $(id).disabled = on;
  $("cancel").disabled = !on;
}

async function startJob(body, title, path = "/api/jobs") {
  say("");
  try {
    const job = await postJSON(path, { form: formValues(), ...body });
    state.job = job; state.shown = new Set();
    $("drafts").innerHTML = "";
    $("drafts-title").textContent = title;
    $("drafts-title").hidden = false; $("empty").hidden = true;
    busy(true);
    poll();
  } catch (err) { failed(err); }
}

async function poll() {
  clearTimeout(state.polling);
  const id = state.job.id;
  let job;
  try { job = await api(`/api/jobs/${id}?since=${state.shown.size}`); } catch (err) { failed(err); busy(false); return; }
  if (state.job.id !== id) return;
  $("progress").max = job.total; $("progress").value = job.done;
  $("status").textContent = `${job.status}: ${job.drafts_count} of ${job.total} drafts`;
  for (const d of job.drafts) if (!state.shown.has(d.seed)) { state.shown.add(d.seed); addDraft(job, d); }
  if (FINAL.includes(job.status)) {
    busy(false);
    if (job.status === "failed" || job.status === "interrupted") say(job.error, true);
    else if (job.status === "cancelled") say("drafting cancelled");
    else say(`${job.drafts_count} drafts in ${job.seconds} s`);
    return;
  }
  state.polling = setTimeout(poll, 120);
}

function originalityText(d) {
  const o = d.originality;
  if (!o) return ["not checked", ""];
  if (!o.longest_bars) return ["original: shares no passage with the training music", ""];
  const source = o.title || o.piece;
  if (d.copies) return [`copies ${o.longest_bars.toFixed(1)} bars of ${source}`, "copied"];
  return [`original: at most ${o.longest_bars.toFixed(1)} bars in common (with ${source})`, ""];
}

function addDraft(job, d) {
  const base = `/api/jobs/${job.id}/drafts/${d.seed}`;
  const card = document.createElement("div");
  card.className = "draft"; card.dataset.seed = d.seed;
  const [orig, cls] = originalityText(d);
  card.innerHTML = `<div class="head"><strong>seed ${d.seed}</strong>
      <span title="the model's mean log-likelihood per token (higher: more typical)">${d.mean_log_likelihood === null ? "" : "log-likelihood " + d.mean_log_likelihood.toFixed(3)}</span></div>
    <div class="orig ${cls}" title="longest passage shared with a training piece">${orig.replace(/</g, "&lt;")}</div>
    <canvas class="roll"></canvas>
    <audio controls preload="none" src="${base}/wav"></audio>
    <div class="row"><button class="use" type="button">Use this</button>
      <a href="${base}/mid" download>MIDI</a><a href="${base}/musicxml" download>MusicXML</a></div>`;
  $("drafts").appendChild(card);
  const roll = new Roll(card.querySelector("canvas"), d.roll);
  const span = job.request && job.request.infill_bars;
  if (span) {  // shade the bars this draft rewrote
    const [a, b] = span.split("-").map((x) => parseInt(x, 10) - 1);
    roll.sel = [a, b]; roll.draw();
  }
  roll.follow(card.querySelector("audio"));
  card.querySelector(".use").addEventListener("click", () =>
    postJSON("/api/choose", { job: job.id, seed: d.seed }).then((p) => { showPiece(p); loadHistory(); }).catch(failed));
}

// --- the current piece ------------------------------------------------------------------
function showPiece(p) {
  state.piece = p;
  $("piece").hidden = false; $("empty").hidden = true;
  $("piece-title").textContent = p.title;
  const v = p.versions.find((x) => x.n === p.current);
  $("piece-version").textContent = `version ${p.current} of ${p.versions.length}` +
    (v && v.action ? ` (${v.action}${v.seed !== undefined ? ", seed " + v.seed : ""})` : "") +
    (p.vocals ? ` · vocals: ${p.vocals.name}` : "");
  const versions = $("versions");
  versions.innerHTML = "";
  for (const x of p.versions) {
    const label = `v${x.n}: ${x.action}${x.seed !== undefined ? " s" + x.seed : ""}`;
    versions.appendChild(new Option(label, x.n, false, x.n === p.current));
  }
  const base = `/api/pieces/${p.id}/versions/${p.current}`;
  const canvas = $("piece-roll"), fresh = canvas.cloneNode(false);
  canvas.replaceWith(fresh);  // drop the old roll's listeners, on the roll and the player
  const audio = $("piece-audio").cloneNode(false);
  $("piece-audio").replaceWith(audio);
  audio.src = `${base}/wav${p.vocals ? "?vocals=" + p.vocals.upload : ""}`;
  state.roll = new Roll(fresh, p.roll, { selectable: true, onselect: (s) => {
    $("sel-bars").value = s[0] === s[1] ? `${s[0] + 1}` : `${s[0] + 1}-${s[1] + 1}`; } });
  state.roll.follow(audio);
  $("sel-bars").value = "";
  $("piece-downloads").innerHTML = "Download: " + [["mid", "MIDI"], ["musicxml", "MusicXML"], ["wav", "WAV"],
    ["stems", "stems (zip)"], ["zip", "everything (zip)"]].map(([f, n]) =>
    `<a href="${base}/${f}" download data-format="${f}">${n}</a>`).join("");
  for (const li of $("pieces").children) li.classList.toggle("current", li.dataset.id === p.id);
}

async function loadHistory() {
  try {
    const { pieces } = await api("/api/pieces");
    const ul = $("pieces");
    ul.innerHTML = "";
    for (const p of pieces) {
      const li = document.createElement("li");
      li.dataset.id = p.id;
      li.textContent = `${p.title} · v${p.current}/${p.versions} · ${p.created.slice(0, 16).replace("T", " ")}`;
      li.addEventListener("click", () => api(`/api/pieces/${p.id}`).then(showPiece).catch(failed));
      if (state.piece && state.piece.id === p.id) li.classList.add("current");
      ul.appendChild(li);
    }
  } catch (err) { failed(err); }
}

function needPiece() {
  if (!state.piece) { say("choose a draft (Use this) or upload a prompt first", true); return false; }
  return true;
}

// --- uploads ----------------------------------------------------------------------------
async function upload(kind, input) {
  const file = input.files[0];
  if (!file) return;
  if (kind === "vocals" && !needPiece()) { input.value = ""; return; }
  const data = new FormData();
  data.append("kind", kind);
  if (kind === "vocals") {
    data.append("piece", state.piece.id);
    data.append("offset", $("vocal-offset").value);
    data.append("gain", $("vocal-gain").value);
  }
  if (kind === "hum" && $("f-tempo").value) data.append("tempo", $("f-tempo").value);
  data.append("file", file);
  say(kind === "hum" ? `listening to ${file.name}…` : `reading ${file.name}…`);
  try {
    const result = await api("/api/uploads", { method: "POST", body: data });
    if (kind === "lyrics") { $("f-lyrics").value = result.upload.text; say("lyrics loaded into the form"); }
    else { showPiece(result.piece); loadHistory(); say(`${file.name} read`); }
  } catch (err) { failed(err); }
  input.value = "";
}

// --- wiring -----------------------------------------------------------------------------
async function init() {
  const info = await api("/api/info");
  state.fields = info.fields;
  buildForm(info.fields);
  $("model").textContent = `model: ${info.model || "loading…"}`;
  if (!info.model) setTimeout(() => api("/api/info").then((i) =>
    { $("model").textContent = `model: ${i.model || i.load_error || "loading…"}`; }), 2000);
  $("draft").addEventListener("click", () => startJob({ action: "new" }, "Drafts: a new piece"));
  $("song").addEventListener("click", () => startJob({ song: {
    voice: $("song-voice").value, accompaniment: $("song-accompaniment").value, lang: $("song-lang").value } },
    "Drafts: songs for these words", "/api/songs"));
  $("cancel").addEventListener("click", () => state.job && postJSON(`/api/jobs/${state.job.id}/cancel`, {}).catch(failed));
  $("regen").addEventListener("click", () => needPiece() && startJob(
    { action: "bars", piece: state.piece.id, bars: $("sel-bars").value },
    `Drafts: bars ${$("sel-bars").value} of ${state.piece.title} (pick one with Use this)`));
  $("continue").addEventListener("click", () => needPiece() && startJob(
    { action: "continue", piece: state.piece.id, count: parseInt($("cont-bars").value, 10) },
    `Drafts: ${state.piece.title} continued`));
  $("part").addEventListener("click", () => needPiece() && startJob(
    { action: "part", piece: state.piece.id, program: $("part-program").value },
    `Drafts: ${state.piece.title} with a ${$("part-program").value} part`));
  $("undo").addEventListener("click", () => needPiece() &&
    postJSON(`/api/pieces/${state.piece.id}/undo`, {}).then((p) => { showPiece(p); loadHistory(); }).catch(failed));
  $("versions").addEventListener("change", (e) => needPiece() &&
    postJSON(`/api/pieces/${state.piece.id}/current`, { version: parseInt(e.target.value, 10) })
      .then((p) => { showPiece(p); loadHistory(); }).catch(failed));
  for (const kind of ["prompt", "hum", "lyrics", "vocals"]) {
    $(`up-${kind}`).addEventListener("change", (e) => upload(kind, e.target));
  }
  busy(false);
  loadHistory();
}

init().catch(failed);
