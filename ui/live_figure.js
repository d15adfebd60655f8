// gradscape's live figure (ui/live_figure.py): draws a plotly figure that a rerun sends in parts, and
// keeps the parts, so that the next rerun sends only what changed. The payload names each part by a
// digest: data (one per trace), layout, frames (names and columns), and carries the text of new parts.
// A part this browser lacks (a page it left and came back to) is asked for with the "missing" trigger;
// a click on the plot area becomes the "click" trigger, in data coordinates.
const STORES = (window.__gradscapeLive = window.__gradscapeLive || new Map());
const TYPED = { i1: Int8Array, u1: Uint8Array, i2: Int16Array, u2: Uint16Array, i4: Int32Array,
                u4: Uint32Array, f4: Float32Array, f8: Float64Array };
const ARRAY_KEYS = ["x", "y", "z", "customdata"];

function decode(value) { // a plotly.js typed-array spec as a typed array (rows of one when it has a shape)
  if (!value || typeof value.bdata !== "string" || !TYPED[value.dtype]) return value;
  const bin = atob(value.bdata);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const flat = new TYPED[value.dtype](bytes.buffer);
  if (!value.shape) return flat;
  const [n, m] = String(value.shape).split(",").map(Number);
  const rows = [];
  for (let r = 0; r < n; r++) rows.push(flat.subarray(r * m, (r + 1) * m));
  return rows;
}

function trace(store, h) { // a fresh shallow copy (plotly writes into traces), arrays decoded once
  const t = store.get(h);
  if (!t.__decoded) {
    for (const k of ARRAY_KEYS) if (t[k]) t[k] = decode(t[k]);
    Object.defineProperty(t, "__decoded", { value: true });
  }
  return Object.assign({}, t);
}

function refs(p) {
  const out = p.data.concat([p.layout]);
  if (p.frames && p.frames.raw) out.push(p.frames.raw);
  else if (p.frames) out.push(p.frames.names, ...p.frames.columns.map((c) => c[2]));
  return out;
}

function frames(store, p) {
  if (!p.frames) return undefined;
  if (p.frames.raw) return JSON.parse(JSON.stringify(store.get(p.frames.raw)));
  const names = store.get(p.frames.names);
  const built = names.map((name) => ({ name, traces: p.frames.traces.slice(), data: p.frames.traces.map(() => ({})) }));
  for (const [entry, key, h] of p.frames.columns) {
    const rows = decode(store.get(h));
    built.forEach((f, i) => { f.data[entry][key] = Array.from(rows[i]); });
  }
  return built;
}

function draw(gd, p) {
  const store = STORES.get(p.id) || new Map();
  STORES.set(p.id, store);
  for (const h in p.parts || {}) if (!store.has(h)) store.set(h, JSON.parse(p.parts[h]));
  const need = refs(p);
  if (need.some((h) => !store.has(h))) { // ask once; the next run sends every part
    if (gd.__gsAsked !== p) { gd.__gsAsked = p; gd.__gsSend("missing", Date.now()); }
    return;
  }
  const chrome = JSON.stringify([p.slider, p.config, p.click]);
  const sig = need.join() + chrome;
  if (sig === gd.__gsSig) return; // the same figure again (a re-render): nothing to draw
  gd.__gsSig = sig;
  const keep = new Set(need);
  for (const h of Array.from(store.keys())) if (!keep.has(h)) store.delete(h);
  const layout = JSON.parse(JSON.stringify(store.get(p.layout))); // plotly writes into the layout
  const frameSig = JSON.stringify(p.frames || null);
  const fr = frameSig === gd.__gsFrameSig ? null : frames(store, p); // built only when they changed
  const names = !p.frames ? null : p.frames.raw ? store.get(p.frames.raw).map((f) => f.name) : store.get(p.frames.names);
  if (p.slider && names) {
    const [index, still] = p.slider;
    layout.sliders[index].steps = names.map((name) => ({ method: "animate", label: name, args: [[name], still] }));
  }
  if (!(layout.font && layout.font.family)) {
    layout.font = Object.assign({ family: getComputedStyle(document.body).fontFamily }, layout.font);
  }
  gd.__gsPayload = p;
  const config = p.config || {};
  const drawn = { layout: p.layout, data: p.data.slice(), traces: p.data.map((h) => store.get(h)), chrome };
  // A move still under way is drawn over whole: plotly's promise of an interrupted animate never settles, so
  // that move's axes would never be ranged again (and a trace only it moved could keep its old drawing).
  const moved = gd.__gsMoving ? null : onlyMoved(gd.__gsDrawn, drawn);
  gd.__gsDrawn = drawn;
  const token = (gd.__gsDrawToken = {});
  gd.__gsMoving = null;
  if (moved && !(layout.meta && layout.meta.autoplay)) {
    gd.__gsMoving = token;
    move(gd, store, p, moved).then(() => { // frames once the points moved, unless a newer figure came
      if (gd.__gsDrawToken !== token) return;
      gd.__gsMoving = null;
      if (frameSig !== gd.__gsFrameSig) setFrames(gd, fr, frameSig, config);
    }, () => {});
    return;
  }
  const data = p.data.map((h) => trace(store, h));
  if (fr && layout.meta && layout.meta.autoplay) { // it plays as soon as drawn (figures/keys.js): frames now
    gd.__gsFrameSig = frameSig;
    gd.__gsFrameToken = null;
    window.Plotly.react(gd, { data, layout, frames: fr, config });
    return;
  }
  window.Plotly.react(gd, { data, layout, config });
  if (frameSig !== gd.__gsFrameSig) setFrames(gd, fr, frameSig, config);
}

// A change that only moves points (a new learning rate: new paths, loss and lr curves; the same layout,
// traces and styles) is drawn by moving the changed traces' points (Plotly.animate without redraw):
// Plotly.react redraws the whole figure (four panels, the animation slider and buttons), ~90 ms on this
// machine, against ~35 ms for the moved traces. The indices of the traces whose points moved, or null.
function onlyMoved(before, now) {
  if (!before || before.layout !== now.layout || before.chrome !== now.chrome) return null;
  if (before.data.length !== now.data.length) return null;
  const moved = [];
  for (let i = 0; i < now.data.length; i++) {
    if (now.data[i] === before.data[i]) continue;
    const a = before.traces[i], b = now.traces[i];
    if (!a || !b || (a.type || "scatter") !== "scatter" || style(a) !== style(b)) return null;
    moved.push(i);
  }
  return moved.length ? moved : null;
}

function style(t) { // a trace without its points: what Plotly.animate cannot change in place
  const rest = {};
  for (const k of Object.keys(t)) rest[k] = ARRAY_KEYS.includes(k) ? true : t[k];
  return JSON.stringify(rest);
}

function move(gd, store, p, moved) {
  const points = moved.map((i) => {
    const t = trace(store, p.data[i]);
    const out = {};
    for (const k of ARRAY_KEYS) if (k in t) out[k] = t[k];
    return out;
  });
  // Axes that follow their data (autorange, not zoomed by the user) are ranged again, as a react would,
  // unless the data's extent on them is what it was (plotly's autorange of line traces depends on nothing else).
  const axes = new Set();
  for (const i of moved) {
    const t = store.get(p.data[i]);
    for (const [letter, name] of [["x", "xaxis" + (t.xaxis || "x").slice(1)], ["y", "yaxis" + (t.yaxis || "y").slice(1)]]) {
      const ax = gd.layout[name];
      if (ax && ax.autorange === true && !axes.has(name) && extentMoved(gd, moved, points, letter, name)) axes.add(name);
    }
  }
  const still = { mode: "immediate", transition: { duration: 0 }, frame: { duration: 0, redraw: false } };
  return window.Plotly.animate(gd, { data: points, traces: moved }, still).then(() => {
    if (axes.size) return window.Plotly.relayout(gd, Object.fromEntries([...axes].map((a) => [a + ".autorange", true])));
  });
}

// Whether the extent (min, max) of the values on one axis changes when the moved traces take their new
// points; true too when it cannot say (a trace on that axis drawn with markers, text or a fill).
function extentMoved(gd, moved, points, letter, name) {
  const log = gd._fullLayout[name] && gd._fullLayout[name].type === "log";
  const id = letter + name.slice(5);
  const extent = (arrays) => {
    let lo = Infinity, hi = -Infinity;
    for (const a of arrays) for (const v of a || []) if (v !== null && Number.isFinite(+v) && (!log || v > 0)) {
      if (v < lo) lo = +v;
      if (v > hi) hi = +v;
    }
    return lo + "," + hi;
  };
  const before = [], after = [];
  for (let i = 0; i < gd.data.length; i++) {
    const t = gd.data[i];
    if ((t[letter + "axis"] || letter) !== id) continue;
    if (t.mode !== "lines" || (t.fill && t.fill !== "none")) return true;
    const j = moved.indexOf(i);
    before.push(t[letter]);
    after.push(j < 0 ? t[letter] : points[j][letter]);
  }
  return extent(before) !== extent(after);
}

// Frames go in after the figure is drawn, in a task of their own: handing 120 frames to Plotly.react made
// it ~35 ms slower (it re-adds every frame before the browser can paint), and a slider change should show
// its paths first. Frames whose parts did not change (sig: their digests) are left as they are.
function setFrames(gd, fr, sig, config) {
  gd.__gsFrameSig = sig;
  const token = (gd.__gsFrameToken = {});
  setTimeout(() => {
    if (gd.__gsFrameToken !== token || !gd._transitionData) return; // a newer figure came meanwhile
    // Frames of the same names (the same steps) are replaced in place by Plotly.addFrames; otherwise a second
    // react with the figure as drawn replaces them all (Plotly.deleteFrames sorts frame indices as text and
    // fails past 10 frames). The react redraws the whole figure: ~25 ms here, against ~3 ms.
    const old = gd._transitionData._frames.map((f) => f.name).join("\n");
    if (fr && fr.length && old === fr.map((f) => f.name).join("\n")) window.Plotly.addFrames(gd, fr);
    else window.Plotly.react(gd, { data: gd.data, layout: gd.layout, frames: fr || [], config });
  }, 0);
}

function watchWidth(gd) { // follow the column's width (not plotly's "responsive", which also redraws on
  // every change of the window's height, and threw "axis scaling" when that came in mid-animation)
  if (gd.__gsWidth !== undefined) return;
  gd.__gsWidth = gd.clientWidth;
  let timer = null;
  new ResizeObserver(() => {
    if (gd.clientWidth === gd.__gsWidth || gd.clientWidth === 0) return;
    gd.__gsWidth = gd.clientWidth;
    clearTimeout(timer);
    timer = setTimeout(() => { if (gd._fullLayout) window.Plotly.Plots.resize(gd); }, 100);
  }).observe(gd);
}

function watchClicks(gd) { // a click (not a drag) inside the click trace's plot area, in data coordinates
  if (gd.__gsClicks) return;
  gd.__gsClicks = true;
  let down = null;
  gd.addEventListener("pointerdown", (e) => {
    const chrome = e.target.closest && e.target.closest(".modebar, .legend, .slider-container, .updatemenu-container");
    down = e.button === 0 && !chrome ? { x: e.clientX, y: e.clientY, t: performance.now() } : null;
  }, true);
  window.addEventListener("pointerup", (e) => {
    const d = down;
    down = null;
    const p = gd.__gsPayload;
    if (!d || !p || p.click === null || p.click === undefined || !gd._fullLayout || !gd._fullData) return;
    if (Math.hypot(e.clientX - d.x, e.clientY - d.y) > 4 || performance.now() - d.t > 800) return; // a pan
    const t = gd._fullData[p.click];
    const plot = t && gd._fullLayout._plots[(t.xaxis || "x") + (t.yaxis || "y")];
    if (!plot) return;
    const box = gd.getBoundingClientRect();
    const px = e.clientX - box.left - plot.xaxis._offset;
    const py = e.clientY - box.top - plot.yaxis._offset;
    if (px < 0 || py < 0 || px > plot.xaxis._length || py > plot.yaxis._length) return;
    gd.__gsSend("click", { x: plot.xaxis.p2d(px), y: plot.yaxis.p2d(py) });
  }, true);
}

export default function (component) {
  const { parentElement, setTriggerValue } = component;
  const data = Array.isArray(component.data) ? component.data[0] : null; // [payload]: see live_figure.py
  const gd = parentElement.querySelector(".gradscape-live");
  if (!gd || !data) return;
  gd.__gsSend = setTriggerValue;
  gd.__gsNext = data;
  if (gd.__gsWaiting) return;
  gd.__gsWaiting = true;
  const started = Date.now();
  (function whenPlotly() { // Streamlit loads plotly.js with its first chart (ui.shell.plotly_loader)
    if (window.Plotly) {
      gd.__gsWaiting = false;
      watchClicks(gd);
      watchWidth(gd);
      draw(gd, gd.__gsNext);
    } else if (Date.now() - started < 30000) {
      setTimeout(whenPlotly, 25);
    } else {
      gd.__gsWaiting = false;
      gd.textContent = "The figure needs plotly.js, which did not load: reload the page.";
    }
  })();
}
