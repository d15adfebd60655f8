// gradscape's lecture keys: drive the page's animated Plotly figure from the keyboard.
//
// One plain script, used by the app (ui/keys.py wraps it in a Streamlit component) and by the static
// lecture pack (export/pack.py inlines it). It defines window.gradscapeKeys.install(options):
//   options.onKey(name)  called for the keys that leave the figure: "next", "previous", "reveal"
//                        (absent: those keys do nothing here and keep their browser meaning)
//   options.autoplay     a token: when it changes, the figure whose layout.meta.autoplay equals it is
//                        played from its first frame once it is on the page (Reveal)
// Keys act only when the focus is not in a text field, and never with Ctrl, Alt or Meta held.
// Everything that touches the figure is here: the slider's animate steps name the frames, the Play
// button's arguments carry the frame duration, window.Plotly animates.
(function () {
  "use strict";
  const STILL = { mode: "immediate", frame: { duration: 0, redraw: true }, transition: { duration: 0 } };
  const KEYS = {
    " ": "playpause",
    ArrowRight: "forward",
    ArrowLeft: "back",
    Home: "first",
    End: "last",
    PageDown: "next",
    PageUp: "previous",
    r: "reveal",
    R: "reveal",
    "?": "help",
  };
  const LEAVE = new Set(["next", "previous", "reveal"]);
  const HELP = [
    ["Space", "play / pause"],
    ["← →", "one frame back / forward"],
    ["Home End", "first / last step"],
    ["PgUp PgDn", "previous / next scene"],
    ["R", "reveal the paths (quiz)"],
    ["?", "show these keys"],
  ];

  // The animated figure: the largest visible Plotly graph with a slider of animate steps.
  function figure() {
    const graphs = Array.from(document.querySelectorAll(".js-plotly-plot")).filter(
      (gd) => gd.layout && gd.layout.sliders && gd.layout.sliders.length && gd.offsetParent !== null,
    );
    graphs.sort((a, b) => b.clientWidth * b.clientHeight - a.clientWidth * a.clientHeight);
    return graphs[0] || null;
  }

  function frameNames(gd) {
    return gd.layout.sliders[0].steps.map((s) => s.args[0][0]);
  }

  function watch(gd) {
    if (gd.__gradscapeWatched) return;
    gd.__gradscapeWatched = true;
    gd.__gradscapeFrame = 0;
    gd.on("plotly_animatingframe", (e) => {
      const i = frameNames(gd).indexOf(e.name);
      if (i >= 0) gd.__gradscapeFrame = i;
    });
  }

  function frameIndex(gd) {
    watch(gd);
    return gd.__gradscapeFrame;
  }

  function playing(gd) {
    const t = gd._transitionData;
    return Boolean(t && (t._animationRaf || (t._frameQueue && t._frameQueue.length)));
  }

  function playArgs(gd) {
    for (const menu of gd.layout.updatemenus || []) {
      for (const b of menu.buttons || []) {
        if (b.method === "animate" && b.args && b.args[0] === null) return b.args[1];
      }
    }
    return { frame: { duration: 60, redraw: true }, fromcurrent: true, transition: { duration: 0 }, mode: "immediate" };
  }

  // Plotly.animate rejects its promise, with no reason, when a newer animation interrupts it (Space
  // to pause while playing): expected, so it settles here instead of logging an uncaught rejection.
  function animate(gd, frames, opts) {
    return window.Plotly.animate(gd, frames, opts).catch((reason) => {
      if (reason !== undefined) throw reason;
    });
  }

  function show(gd, i) {
    const names = frameNames(gd);
    const j = Math.max(0, Math.min(names.length - 1, i));
    gd.__gradscapeFrame = j;
    return animate(gd, [names[j]], STILL);
  }

  function play(gd, fromStart) {
    const names = frameNames(gd);
    const at = frameIndex(gd);
    const restart = fromStart || at >= names.length - 1;
    const go = () => animate(gd, null, Object.assign({}, playArgs(gd), { fromcurrent: true }));
    return restart ? show(gd, 0).then(go) : go();
  }

  function pause(gd) {
    return animate(gd, [null], STILL);
  }

  function act(name, gd) {
    if (name === "playpause") return playing(gd) ? pause(gd) : play(gd, false);
    const names = frameNames(gd);
    const stop = playing(gd) ? pause(gd) : Promise.resolve();
    const to = {
      forward: () => frameIndex(gd) + 1,
      back: () => frameIndex(gd) - 1,
      first: () => 0,
      last: () => names.length - 1,
    }[name];
    return stop.then(() => show(gd, to()));
  }

  // Focus in a text field: no key is ours. Focus on another control (a slider, a button, a radio):
  // the keys it uses itself (Space, arrows, Home, End) stay its own; PageUp/PageDown, R and ? act.
  const TEXT = 'textarea, select, [contenteditable=""], [contenteditable="true"], [role=textbox], [role=combobox]';
  const CONTROL =
    "input, button, a[href], [role=slider], [role=spinbutton], [role=radio], [role=checkbox], " +
    "[role=switch], [role=tab], [role=option], [role=listbox], [role=menuitem], [role=button]";
  const OWN = new Set([" ", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"]);

  function typing(el) {
    if (!el || !el.closest) return false;
    if (el.closest(TEXT)) return true;
    const type = (el.type || "").toLowerCase();
    return el.tagName === "INPUT" && !["checkbox", "radio", "button", "range", "submit", "reset"].includes(type);
  }

  function ownedByControl(el, key) {
    return Boolean(el && el.closest && OWN.has(key) && el.closest(CONTROL) && !el.closest(".js-plotly-plot"));
  }

  function toggleHelp() {
    let panel = document.getElementById("gradscape-keys-help");
    if (panel) {
      panel.remove();
      return;
    }
    panel = document.createElement("div");
    panel.id = "gradscape-keys-help";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "Keyboard keys");
    panel.style.cssText =
      "position:fixed;right:1.5rem;bottom:1.5rem;z-index:100000;background:#fff;color:#222;" +
      "border:1px solid #888;border-radius:8px;padding:0.8rem 1rem;font:16px sans-serif;" +
      "box-shadow:0 4px 16px rgba(0,0,0,0.25)";
    const rows = HELP.map(([k, what]) => `<tr><td style="padding:2px 12px 2px 0"><kbd>${k}</kbd></td><td>${what}</td></tr>`);
    panel.innerHTML = `<b>Keys</b><table>${rows.join("")}</table><small>? or Esc closes</small>`;
    document.body.appendChild(panel);
  }

  function onKeyDown(e) {
    const focus = e.target && e.target !== document.body ? e.target : document.activeElement;
    if (e.ctrlKey || e.altKey || e.metaKey || typing(focus) || ownedByControl(focus, e.key)) return;
    if (e.key === "Escape") {
      const panel = document.getElementById("gradscape-keys-help");
      if (panel) panel.remove();
      return;
    }
    const name = KEYS[e.key];
    if (!name) return;
    const state = window.gradscapeKeys;
    if (name === "help") {
      toggleHelp();
    } else if (LEAVE.has(name)) {
      if (!state.onKey) return; // no lecture here: PageDown keeps scrolling the page
      state.onKey(name);
    } else {
      const gd = figure();
      if (!gd || !window.Plotly) return;
      act(name, gd);
    }
    e.preventDefault();
    e.stopImmediatePropagation(); // Streamlit's own "r" (rerun) must not fire as well
  }

  // Reveal: play the figure whose layout.meta.autoplay is the token, once it is drawn.
  function autoplay(token) {
    if (!token || token === window.gradscapeKeys.played) return;
    window.gradscapeKeys.played = token;
    const deadline = Date.now() + 15000;
    (function wait() {
      const gd = figure();
      const meta = gd && gd.layout && gd.layout.meta;
      if (gd && window.Plotly && meta && meta.autoplay === token) {
        play(gd, true);
      } else if (Date.now() < deadline) {
        setTimeout(wait, 100);
      }
    })();
  }

  if (!window.gradscapeKeys) {
    window.gradscapeKeys = { onKey: null, played: null };
    window.addEventListener("keydown", onKeyDown, true);
  }
  window.gradscapeKeys.install = function (options) {
    const opts = options || {};
    window.gradscapeKeys.onKey = opts.onKey || null;
    autoplay(opts.autoplay);
  };
  window.gradscapeKeys.toggleHelp = toggleHelp;
  window.gradscapeKeys.figure = figure;
  window.gradscapeKeys.frameIndex = (gd) => frameIndex(gd || figure());
})();
