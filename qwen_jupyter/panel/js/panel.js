// -- the panel ------------------------------------------------------------------------------------------------

function build(model) {
  const panel = el("div", "qwen-panel");
  // Keys typed in the panel are the panel's: Lumino (JupyterLab, Notebook 7) would otherwise take Shift+Enter
  // to run the notebook cell.
  panel.dataset.lmSuppressShortcuts = "true";
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-label", "Qwen chat");
  const transcript = el("div", "qp-transcript");
  transcript.setAttribute("role", "log");
  transcript.setAttribute("aria-label", "Conversation");
  transcript.setAttribute("aria-live", "off"); // the announcer below speaks, in pieces, not every delta
  transcript.tabIndex = 0;
  const announcer = el("div", "qp-offscreen");
  announcer.setAttribute("role", "status");
  announcer.setAttribute("aria-live", "polite");
  const pending = el("div", "qp-pending");
  const editing = el("div", "qp-editing");
  const input = el("textarea", "jp-mod-styled qp-input");
  input.placeholder = "Ask Qwen… (Shift+Enter sends)";
  input.setAttribute("aria-label", "Message to Qwen (Shift+Enter sends, Escape stops an answer)");
  input.rows = 2;
  input.value = model.get("draft") || "";
  const c = controlsView();
  panel.append(transcript, announcer, pending, editing, input, c.row);

  let narrow = false;
  const math = mathLoader(model);
  const parts = {};
  const actions = { // what a turn's buttons do
    narrow: () => narrow,
    typeset: (root) => typeset(root, math).catch(() => {}),
    insert(code, node) {
      if (insertBelow(model, code)) {
        flash(node, "Inserted");
        parts.transcript.announce("Code inserted in a new cell below the panel.");
      } else {
        copyText(code).then((done) => flash(node, done ? "Copied: paste into a cell" : "Insert failed"));
      }
    },
    retry() { if (!model.get("busy")) model.send({ type: "retry" }); },
    approve(id, approved) { model.send({ type: "approval", id, approved }); },
    edit(turn) { parts.composer.edit(turn); },
  };
  parts.controls = wireControls(model, c, panel);
  parts.transcript = transcriptView(model, { transcript, announcer, input, math, actions });
  parts.composer = composer(model, { panel, transcript, input, pending, editing, c, set: parts.controls.set,
                                     announce: parts.transcript.announce });
  const shown = placement(panel, transcript, parts.transcript.atBottom, parts.composer.grow);
  const resize = new ResizeObserver(([entry]) => {
    const now = entry.contentRect.width < NARROW;
    if (now === narrow) return;
    narrow = now;
    panel.classList.toggle("qp-narrow", narrow);
    for (const details of panel.querySelectorAll(".qp-reasoning:not([data-chosen])")) details.open = !narrow;
  });
  resize.observe(panel);

  let owner = null; // the view whose listeners act; earlier views' listeners stay quiet
  function listen(view) {
    owner = view;
    const on = (name, handler) => view.on(name, (...args) => { if (owner === view) handler(...args); });
    const { controls, transcript: turns } = parts;
    on("msg:custom", turns.onMessage);
    on("change:turns", turns.onTurns);
    on("change:live", turns.onLive);
    on("change:model", controls.showModels);
    on("change:models", controls.showModels);
    on("change:tools", controls.showTools);
    on("change:tool_names", controls.showTools);
    on("change:compare_with", controls.showCompare);
    on("change:languages", controls.showChoices);
    on("change:document_types", controls.showChoices);
    for (const name of ["busy", "total_tokens", "thinking", "budget", "search", "speak", "probabilities", "model",
                        "translate_to", "agent"]) {
      on(`change:${name}`, controls.showControls);
    }
  }
  return {
    get host() { return shown.host; },
    mount(element, view) {
      shown.show(element);
      listen(view);
      parts.controls.showModels();
      parts.controls.showChoices();
      parts.controls.showControls();
      parts.controls.showTools();
      parts.transcript.showTurns();
      shown.settle();
    },
    unmount(view) {
      if (owner !== view) return false;
      resize.disconnect();
      shown.stop();
      return true;
    },
  };
}

const panels = new Map(); // widget id -> its panel, taken over by the next view when the output is re-rendered

function render({ model, el: host }) {
  const id = model.get("widget_id");
  const earlier = panels.get(id);
  const panel = earlier && !earlier.host.isConnected ? earlier : build(model);
  panels.set(id, panel);
  panel.mount(host, model);
  return () => { if (panel.unmount(model) && panels.get(id) === panel) panels.delete(id); };
}

export default { render };
