// The QwenPanel front end (anywidget ESM). Model text goes in through textContent; the only HTML set with
// innerHTML is what the kernel rendered and sanitized (nh3) or built itself (thumbnails). Every button is made
// here around that HTML, with listeners (never handlers in HTML); code is read from a code element's
// textContent, never run. Math is typeset by KaTeX (vendored in the package, sent by the kernel on first use):
// JupyterLab 4 and Notebook 7 give a widget no typesetter (their window.MathJax has no typeset API).

const WIDGET_MIME = "application/vnd.jupyter.widget-view+json";
const MAX_ATTACHED = 7 * 1024 * 1024; // bytes of pictures and documents in one question (see the file picker)
const NARROW = 600; // px: below this the reasoning column folds to its summary line
const ANNOUNCE_MS = 2500; // the screen reader hears the answer in pieces at most this often
const KATEX_OPTIONS = { throwOnError: true, trust: false, strict: "ignore", maxExpand: 500, maxSize: 20,
                        output: "htmlAndMathml" };

// -- small builders -------------------------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(text, className, label, onClick) {
  const node = el("button", `jp-mod-styled qp-button ${className}`, text);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  if (label) node.title = label;
  if (onClick) node.addEventListener("click", onClick);
  return node;
}

function labelled(text, control) {
  const label = el("label", "qp-option", text);
  label.prepend(control);
  return label;
}

function choices(list, names, chosen, className, onChange) {
  // A checkbox a name (the tools and compare pickers): the checked names go to onChange.
  list.textContent = "";
  for (const name of names) {
    const box = el("input", className);
    box.type = "checkbox";
    box.value = name;
    box.checked = chosen.includes(name);
    box.addEventListener("change", () => onChange([...list.querySelectorAll("input:checked")].map((b) => b.value)));
    list.append(labelled(` ${name}`, box));
  }
}

function chip(name) {
  const node = el("span", "qp-chip");
  node.append(el("span", "qp-chip-name", name));
  return node;
}

function flash(node, text) {
  const before = node.textContent;
  node.textContent = text;
  setTimeout(() => { node.textContent = before; }, 1500);
}

function plainText(html) {
  const template = document.createElement("template"); // inert: nothing in it loads or runs
  template.innerHTML = html;
  return template.content.textContent.replace(/\s+/g, " ").trim();
}

function words(text) {
  const count = (text.match(/\S+/g) || []).length;
  return `${count} word${count === 1 ? "" : "s"}`;
}

// -- clipboard and notebook -----------------------------------------------------------------------------------

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = el("textarea", "qp-offscreen"); // the older way, where the Clipboard API is not allowed
    const focused = document.activeElement;
    area.value = text;
    area.readOnly = true;
    document.body.append(area);
    area.select();
    const done = document.execCommand("copy");
    area.remove();
    focused?.focus();
    return done;
  }
}

function notebookOf(model) {
  // JupyterLab and Notebook 7 give each notebook's widgets a manager holding the document's context.
  return model.widget_manager?.context?.model?.sharedModel ?? null;
}

function insertBelow(model, code) {
  const notebook = notebookOf(model);
  if (!notebook?.insertCell) return false;
  const id = model.get("widget_id");
  const index = notebook.cells.findIndex((cell) => (cell.getOutputs?.() || []).some(
    (output) => output.data?.[WIDGET_MIME]?.model_id === id));
  if (index < 0) return false;
  notebook.insertCell(index + 1, { cell_type: "code", source: code, metadata: {} });
  return true;
}

// -- math -----------------------------------------------------------------------------------------------------

let loadedKatex = null; // one KaTeX for every panel of the page

function mathLoader(model) {
  let loading = null;
  let resolve = null;
  return {
    load() {
      if (loadedKatex) return loadedKatex;
      if (!loading) {
        loading = new Promise((done) => { resolve = done; });
        model.send({ type: "katex" });
      }
      return loading;
    },
    async received(msg) {
      if (!resolve) return; // not asked for by this panel
      if (!document.getElementById("qwen-katex-css")) {
        const style = el("style");
        style.id = "qwen-katex-css";
        style.textContent = msg.css;
        document.head.append(style);
      }
      const url = URL.createObjectURL(new Blob([msg.script], { type: "text/javascript" }));
      try {
        const katex = (await import(/* webpackIgnore: true */ url)).default;
        loadedKatex = Promise.resolve(katex);
        resolve(katex);
      } finally {
        URL.revokeObjectURL(url);
      }
    },
  };
}

async function typeset(root, math) {
  const spans = [...root.querySelectorAll(".tex2jax_process:not(.qp-typeset)")];
  if (spans.length === 0) return;
  const katex = await math.load();
  for (const span of spans) {
    const source = span.textContent.trim();
    const display = source.startsWith("\\[");
    const tex = source.replace(/^\\[([]/, "").replace(/\\[)\]]$/, "");
    span.classList.add("qp-typeset");
    try {
      katex.render(tex, span, { ...KATEX_OPTIONS, displayMode: display });
    } catch {
      span.textContent = source; // what KaTeX cannot read stays as the model wrote it
    }
  }
}

// -- one turn -------------------------------------------------------------------------------------------------

function codeActions(container, actions) {
  for (const pre of container.querySelectorAll("pre:not(.qp-has-actions)")) {
    pre.classList.add("qp-has-actions");
    const code = () => (pre.querySelector("code") || pre).textContent.replace(/\n$/, "");
    const bar = el("div", "qp-code-actions");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Code block");
    const copy = button("Copy", "qp-copy-code", "Copy code", async () => {
      flash(copy, (await copyText(code())) ? "Copied" : "Copy failed");
    });
    const insert = button("Insert below", "qp-insert", "Insert this code as a new cell below the panel",
                          () => actions.insert(code(), insert));
    bar.append(copy, insert);
    pre.before(bar);
  }
}

function turnView(turn, actions) {
  const root = el("article", "qp-turn");
  const user = el("div", "qp-user");
  user.append(el("span", "qp-who", "You"), el("span", "qp-user-text"), el("div", "qp-user-images"),
              el("div", "qp-user-documents"));
  const reply = el("div", "qp-reply");
  const reasoning = el("details", "qp-reasoning");
  reasoning.open = !actions.narrow();
  const summary = el("summary", "", "Reasoning");
  summary.addEventListener("click", () => { reasoning.dataset.chosen = "1"; }); // the reader's choice stays
  summary.append(el("span", "qp-reasoning-size"));
  reasoning.append(summary, el("div", "qp-html jp-RenderedHTMLCommon"), el("div", "qp-tail"));
  const answer = el("div", "qp-answer");
  answer.append(el("div", "qp-html jp-RenderedHTMLCommon"), el("div", "qp-tail"), el("div", "qp-columns"));
  reply.append(reasoning, answer);
  root.append(user, el("div", "qp-tools"), reply, el("div", "qp-error"), el("div", "qp-answer-actions"),
              el("div", "qp-footer")); // calls come before the answer they led to
  fill(root, turn, actions);
  return root;
}

function answerActions(turn, actions) {
  const bar = el("div", "qp-answer-actions");
  if (turn.status === "streaming") return bar;
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "Answer");
  if (turn.answer_md) {
    const copy = button("Copy", "qp-copy-answer", "Copy the answer as Markdown", async () => {
      flash(copy, (await copyText(turn.answer_md)) ? "Copied" : "Copy failed");
    });
    bar.append(copy);
  }
  if (turn.retry) {
    bar.append(button("Retry", "qp-retry", "Ask the last question again", () => actions.retry()),
               button("Edit", "qp-edit", "Edit the last question and send it again", () => actions.edit(turn)));
  }
  return bar;
}

function fill(root, turn, actions) {
  root.className = `qp-turn qp-${turn.status || "ok"}`;
  root.dataset.id = turn.id;
  root.querySelector(".qp-user-text").textContent = turn.user || "";
  root.querySelector(".qp-user-images").innerHTML = turn.images || ""; // the kernel's thumbnails of the person's images
  const documents = root.querySelector(".qp-user-documents");
  documents.replaceChildren(...(turn.documents || []).map(chip)); // file names, as text
  if (documents.children.length) documents.setAttribute("aria-label", "Attached documents");
  const reasoning = root.querySelector(".qp-reasoning");
  const answer = root.querySelector(".qp-answer");
  reasoning.querySelector(".qp-html").innerHTML = turn.reasoning_html || ""; // sanitized by the kernel
  reasoning.querySelector(".qp-tail").textContent = turn.reasoning_tail || "";
  answer.querySelector(".qp-html").innerHTML = turn.answer_html || ""; // sanitized by the kernel
  answer.querySelector(".qp-tail").textContent = turn.answer_tail || "";
  fillColumns(answer.querySelector(".qp-columns"), turn.columns || []);
  root.classList.toggle("qp-has-reasoning", Boolean(turn.reasoning_html || turn.reasoning_tail));
  sizeReasoning(root);
  root.querySelector(".qp-tools").innerHTML = turn.tools_html || ""; // the kernel's call blocks, text escaped
  root.querySelector(".qp-error").textContent = turn.error || "";
  root.querySelector(".qp-answer-actions").replaceWith(answerActions(turn, actions));
  root.querySelector(".qp-footer").textContent = turn.footer || "";
  codeActions(reasoning, actions);
  codeActions(answer, actions);
  actions.typeset(root);
}

function fillColumns(container, columns) {
  // A comparison streaming: a column a model, each with its own sealed HTML and tail (messages name the column).
  container.textContent = "";
  container.style.gridTemplateColumns = columns.length ? `repeat(${columns.length}, minmax(16em, 1fr))` : "";
  for (const column of columns) {
    const node = el("div", "qp-column");
    node.setAttribute("role", "group");
    node.setAttribute("aria-label", column.model);
    const html = el("div", "qp-html jp-RenderedHTMLCommon");
    html.innerHTML = column.answer_html || ""; // sanitized by the kernel
    node.append(el("div", "qp-column-model", column.model), html, el("div", "qp-tail", column.answer_tail || ""));
    container.append(node);
  }
}

function sizeReasoning(root) {
  const reasoning = root.querySelector(".qp-reasoning");
  const text = reasoning.querySelector(".qp-html").textContent + reasoning.querySelector(".qp-tail").textContent;
  reasoning.querySelector(".qp-reasoning-size").textContent = text.trim() ? ` · ${words(text)}` : "";
}

// -- the controls ---------------------------------------------------------------------------------------------

function picker(name, text, title, label) {
  // A disclosure in the controls row with a list of checkboxes (its list floats over the transcript).
  const details = el("details", `${name}-picker`);
  const summary = el("summary", "", text);
  summary.title = title;
  const list = el("div", `${name}-list`);
  list.setAttribute("role", "group");
  list.setAttribute("aria-label", label);
  details.append(summary, list);
  return [details, summary, list];
}

function controlsView() {
  const c = {};
  c.picker = el("select", "jp-mod-styled qp-model");
  c.picker.setAttribute("aria-label", "Model");
  c.think = el("input", "qp-think");
  c.think.type = "checkbox";
  c.budget = el("input", "jp-mod-styled qp-budget");
  c.budget.type = "number";
  c.budget.min = "0";
  c.budget.setAttribute("aria-label", "Thinking budget in tokens (0: the model's default)");
  c.budget.title = "Thinking budget in tokens (0: the model's default)";
  c.search = el("input", "qp-search");
  c.search.type = "checkbox";
  c.speak = el("input", "qp-speak");
  c.speak.type = "checkbox";
  c.speakLabel = labelled(" Speak", c.speak);
  c.speakLabel.title = "Answer aloud too (Omni models)";
  c.probabilities = el("input", "qp-probabilities");
  c.probabilities.type = "checkbox";
  c.probabilitiesLabel = labelled(" Probabilities", c.probabilities);
  c.probabilitiesLabel.title = "Shade each token of the answer by its probability; hover for the alternatives";
  c.file = el("input", "qp-file");
  c.file.type = "file";
  c.file.multiple = true;
  c.file.tabIndex = -1;
  c.file.setAttribute("aria-hidden", "true");
  c.attach = button("Attach…", "qp-attach", "Attach images, or documents for qwen-long", () => c.file.click());
  c.translate = el("select", "jp-mod-styled qp-translate");
  c.translate.setAttribute("aria-label", "Translate to (Qwen-MT translates the question)");
  c.translateLabel = el("label", "qp-option", "Translate to ");
  c.translateLabel.append(c.translate);
  [c.compare, c.compareSummary, c.compareList] = picker(
    "qp-compare", "Compare", "Other models that answer the same question, side by side (up to 5)",
    "Models to compare with (up to 5)");
  [c.tools, c.toolsSummary, c.toolsList] = picker(
    "qp-tools", "Tools", "Functions of this notebook the model may call (they run in the kernel)",
    "Tools the model may call");
  c.send = button("Send", "jp-mod-accept qp-send", "Send (Shift+Enter)");
  c.stop = button("Stop", "qp-stop", "Stop the answer (Escape)");
  c.fresh = button("New chat", "qp-new", "Start a new conversation in this chat");
  c.tokens = el("span", "qp-tokens");
  c.row = el("div", "qp-controls");
  c.row.setAttribute("role", "group");
  c.row.setAttribute("aria-label", "Chat options");
  c.row.append(c.picker, labelled(" Think", c.think), c.budget, labelled(" Search", c.search), c.speakLabel,
               c.probabilitiesLabel, c.tools, c.translateLabel, c.compare, c.attach, c.file, c.send, c.stop,
               c.fresh, c.tokens);
  return c;
}

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

  let images = [];
  let documents = []; // {name, data}: the bytes in base64
  let refused = []; // what was picked but cannot be sent from here, said under the input until the next pick
  let attachedBytes = 0;
  let liveView = null;
  let lastSeq = 0;
  let editingId = null;
  let narrow = false;
  const views = new Map(); // turn id -> {node, key}: a finished turn is built once
  const math = mathLoader(model);
  const heard = { text: "", timer: null };

  const actions = {
    narrow: () => narrow,
    typeset: (root) => typeset(root, math).catch(() => {}),
    insert(code, node) {
      if (insertBelow(model, code)) {
        flash(node, "Inserted");
        announce("Code inserted in a new cell below the panel.");
      } else {
        copyText(code).then((done) => flash(node, done ? "Copied: paste into a cell" : "Insert failed"));
      }
    },
    retry() { if (!model.get("busy")) model.send({ type: "retry" }); },
    edit(turn) {
      editingId = turn.id;
      input.value = turn.user || "";
      showEditing();
      grow();
      input.focus();
    },
  };

  // -- the transcript --

  function atBottom() {
    return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 24;
  }
  function keepScroll(change, follow = atBottom()) {
    change();
    if (follow) transcript.scrollTop = transcript.scrollHeight;
  }
  function showTurns() {
    const focused = transcript.contains(document.activeElement) ? document.activeElement : null;
    keepScroll(() => {
      const seen = new Set();
      let at = 0;
      for (const turn of model.get("turns")) {
        const key = JSON.stringify(turn);
        let view = views.get(turn.id);
        if (!view || view.key !== key) {
          const node = turnView(turn, actions);
          if (view) view.node.replaceWith(node);
          view = { node, key };
          views.set(turn.id, view);
        }
        seen.add(turn.id);
        if (transcript.children[at] !== view.node) transcript.insertBefore(view.node, transcript.children[at] || null);
        at += 1;
      }
      for (const [id, view] of views) {
        if (!seen.has(id)) { view.node.remove(); views.delete(id); }
      }
      showLive();
    });
    if (focused) keepFocus(focused);
  }
  function showLive() {
    const live = model.get("live");
    if (liveView) liveView.remove();
    liveView = live && live.id ? turnView({ ...live, status: "streaming" }, actions) : null;
    if (liveView) transcript.append(liveView);
    transcript.setAttribute("aria-busy", String(Boolean(liveView)));
    for (const [id, view] of views) view.node.hidden = Boolean(liveView) && id === live.id; // asked again
  }
  function keepFocus(lost) {
    // A rebuilt turn gets the focus back on the same control; a hidden or removed one hands it to the input.
    if (lost.isConnected && lost.offsetParent) return;
    const id = lost.closest(".qp-turn")?.dataset.id;
    const action = [...lost.classList].find((name) => name.startsWith("qp-") && name !== "qp-button");
    const view = views.get(id);
    const again = view && !view.node.hidden && action ? view.node.querySelector(`.${action}`) : null;
    (again || input).focus();
  }

  // -- what a screen reader hears --

  function announce(text) {
    announcer.textContent = text;
  }
  function hear(text) {
    heard.text += (heard.text ? " " : "") + text;
    if (heard.timer) return;
    heard.timer = setTimeout(() => {
      announce(heard.text.slice(-600));
      heard.text = "";
      heard.timer = null;
    }, ANNOUNCE_MS);
  }

  // -- the controls --

  function showModels() {
    c.picker.textContent = "";
    for (const name of model.get("models")) c.picker.append(el("option", "", name));
    if (!model.get("models").includes(model.get("model"))) c.picker.append(el("option", "", model.get("model")));
    c.picker.value = model.get("model");
    showCompare();
  }
  function showCompare() {
    const chosen = model.get("compare_with").filter((name) => name !== model.get("model"));
    const names = [...new Set([...model.get("models"), ...chosen])].filter((name) => name !== model.get("model"));
    c.compareSummary.textContent = chosen.length ? `Compare (${chosen.length})` : "Compare";
    choices(c.compareList, names, chosen, "qp-compare-choice", (now) => set("compare_with", now));
    for (const box of c.compareList.querySelectorAll("input:not(:checked)")) box.disabled = chosen.length >= 5;
  }
  function showChoices() { // what the Translate picker and the file picker offer
    c.translate.textContent = "";
    c.translate.append(el("option", "", "None"));
    c.translate.firstChild.value = "";
    for (const name of model.get("languages")) c.translate.append(el("option", "", name));
    c.translate.value = model.get("translate_to");
    c.file.accept = ["image/*", ...model.get("document_types")].join(",");
  }
  function showControls() {
    c.think.checked = model.get("thinking");
    c.budget.value = String(model.get("budget") || 0);
    c.search.checked = model.get("search");
    c.speak.checked = model.get("speak");
    c.probabilities.checked = model.get("probabilities");
    c.translate.value = model.get("translate_to");
    c.speakLabel.hidden = !model.get("model").includes("omni"); // only Omni models speak
    const busy = model.get("busy");
    c.send.disabled = busy;
    c.stop.disabled = !busy;
    panel.classList.toggle("qp-busy", busy);
    c.tokens.textContent = `${model.get("total_tokens")} tokens`;
  }
  function showTools() {
    const chosen = model.get("tools");
    const names = [...new Set([...model.get("tool_names"), ...chosen])];
    c.toolsSummary.textContent = chosen.length ? `Tools (${chosen.length})` : "Tools";
    choices(c.toolsList, names, chosen, "qp-tool-choice", (now) => set("tools", now));
    if (!names.length) c.toolsList.append(el("div", "qp-muted", "No functions defined in this notebook yet."));
  }
  function showPending() {
    pending.textContent = "";
    for (const reason of refused) {
      const note = el("span", "qp-refused", reason);
      note.setAttribute("role", "alert");
      pending.append(note);
    }
    images.forEach((url, index) => {
      const remove = button("", "qp-thumb-button", `Remove attached image ${index + 1}`, () => {
        images.splice(index, 1);
        attachedBytes = Math.max(0, attachedBytes - Math.floor((url.length * 3) / 4));
        showPending();
      });
      const thumb = el("img", "qp-thumb");
      thumb.src = url;
      thumb.alt = "";
      remove.append(thumb);
      pending.append(remove);
    });
    documents.forEach((attached, index) => {
      const remove = button("", "qp-chip qp-pending-document", `Remove attached document ${attached.name}`, () => {
        documents.splice(index, 1);
        attachedBytes = Math.max(0, attachedBytes - Math.floor((attached.data.length * 3) / 4));
        showPending();
      });
      remove.append(el("span", "qp-chip-name", attached.name), el("span", "qp-chip-remove", "×"));
      pending.append(remove);
    });
  }
  function showEditing() {
    editing.textContent = "";
    if (!editingId) return;
    editing.append(el("span", "", "Editing your last question: Send asks it again in its place. "),
                   button("Cancel", "qp-cancel-edit", "Cancel editing", cancelEdit));
  }
  function cancelEdit() {
    editingId = null;
    input.value = "";
    showEditing();
    grow();
  }
  function grow() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight + 2, 320)}px`;
  }
  function submit() {
    const text = input.value;
    if (model.get("busy") || (!text.trim() && images.length === 0 && documents.length === 0)) return;
    model.send({ type: editingId ? "retry" : "send", text, images, documents });
    editingId = null;
    input.value = "";
    images = [];
    documents = [];
    refused = [];
    attachedBytes = 0;
    showPending();
    showEditing();
    grow();
    transcript.scrollTop = transcript.scrollHeight; // the reader asked: show the answer coming
  }
  function stop() {
    model.send({ type: "stop" });
    announce("Stopping the answer.");
  }

  // -- messages and changes from the kernel --

  function onMessage(msg) {
    if (msg.type === "katex") { math.received(msg); return; }
    if (!liveView || msg.turn !== liveView.dataset.id) return;
    if (lastSeq && msg.seq !== lastSeq + 1) return; // a gap: the next refresh of `live` repairs the view
    lastSeq = msg.seq;
    const part = msg.column !== undefined ? liveView.querySelectorAll(".qp-column")[msg.column]
      : liveView.querySelector(msg.kind === "reasoning" ? ".qp-reasoning" : ".qp-answer");
    if (!part) return;
    keepScroll(() => {
      if (msg.kind === "reasoning") liveView.classList.add("qp-has-reasoning");
      if (msg.type === "delta") {
        part.querySelector(".qp-tail").textContent += msg.text;
      } else if (msg.type === "block") {
        const html = part.querySelector(".qp-html");
        const before = html.lastElementChild;
        html.insertAdjacentHTML("beforeend", msg.html); // sanitized by the kernel
        part.querySelector(".qp-tail").textContent = msg.tail;
        const added = before ? before.nextElementSibling : html.firstElementChild;
        if (added) { codeActions(added, actions); actions.typeset(added); }
        if (msg.kind === "answer") hear(plainText(msg.html));
      }
      if (msg.kind === "reasoning" && msg.type === "block") sizeReasoning(liveView); // per block, not per delta
    });
  }
  function onTurns() {
    showTurns();
    const last = model.get("turns").at(-1);
    if (!model.get("busy") && last) {
      announce(last.error ? `Answer ended: ${last.error}` : `Answer finished. ${words(last.answer_md || "")}.`);
    }
  }
  function onLive() {
    const focused = transcript.contains(document.activeElement) ? document.activeElement : null;
    lastSeq = 0;
    keepScroll(showLive);
    if (focused) keepFocus(focused);
  }

  // -- what the person does --

  function set(name, value) { model.set(name, value); model.save_changes(); }
  c.picker.addEventListener("change", () => set("model", c.picker.value));
  c.think.addEventListener("change", () => set("thinking", c.think.checked));
  c.budget.addEventListener("change", () => set("budget", Math.max(0, parseInt(c.budget.value || "0", 10) || 0)));
  c.search.addEventListener("change", () => set("search", c.search.checked));
  c.speak.addEventListener("change", () => set("speak", c.speak.checked));
  c.probabilities.addEventListener("change", () => set("probabilities", c.probabilities.checked));
  c.tools.addEventListener("toggle", () => { if (c.tools.open) model.send({ type: "tools" }); }); // new functions
  c.translate.addEventListener("change", () => set("translate_to", c.translate.value));
  let draftTimer = null;
  input.addEventListener("input", () => {
    grow();
    clearTimeout(draftTimer);
    draftTimer = setTimeout(() => set("draft", input.value), 300);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.shiftKey || event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      event.stopPropagation();
      submit();
    }
  });
  panel.addEventListener("keydown", (event) => {
    event.stopPropagation(); // the panel's keys are its own: the notebook would take Enter, arrows and letters
    if (event.key !== "Escape") return;
    if (model.get("busy")) stop();
    else if (editingId) cancelEdit();
    else return;
    event.preventDefault();
  });
  c.send.addEventListener("click", submit);
  c.stop.addEventListener("click", stop);
  c.fresh.addEventListener("click", () => model.send({ type: "new" }));
  c.file.addEventListener("change", () => {
    refused = [];
    for (const picked of c.file.files) {
      const picture = picked.type.startsWith("image/");
      const suffix = picked.name.includes(".") ? picked.name.slice(picked.name.lastIndexOf(".")).toLowerCase() : "";
      if (!picture && !model.get("document_types").includes(suffix)) {
        refused.push(`${picked.name}: not an image, and qwen-long does not read ${suffix || "this"} files.`);
        continue;
      }
      // Everything attached goes in one message, and Jupyter's websocket takes 10 MiB at most (base64 adds 1/3).
      if (attachedBytes + picked.size > MAX_ATTACHED) {
        refused.push(`${picked.name}: too big to send from the panel (7 MB in all); ` +
                     "in a cell, %%qwen --file PATH (or -i PATH) takes it.");
        continue;
      }
      attachedBytes += picked.size;
      const reader = new FileReader();
      reader.onload = () => {
        // A document goes as its name and bytes; the kernel checks its type and size before uploading it.
        if (picture) images.push(reader.result);
        else documents.push({ name: picked.name, data: reader.result.split(",", 2)[1] || "" });
        showPending();
      };
      reader.readAsDataURL(picked);
    }
    c.file.value = "";
    showPending();
  });
  const resize = new ResizeObserver(([entry]) => {
    const now = entry.contentRect.width < NARROW;
    if (now === narrow) return;
    narrow = now;
    panel.classList.toggle("qp-narrow", narrow);
    for (const details of panel.querySelectorAll(".qp-reasoning:not([data-chosen])")) details.open = !narrow;
  });
  resize.observe(panel);

  // -- where the panel is shown --
  // JupyterLab and Notebook 7 re-render an output on every display update (the static transcript, after each
  // answer): they empty it, then make a new view. The panel goes back into the emptied output at once (in the
  // same task), and the new view takes it when it is on the page: nothing is rebuilt, no key pressed meanwhile
  // reaches the notebook, and focus and scroll position stay.

  let owner = null; // the view whose listeners act; earlier views' listeners stay quiet
  let host = null; // the element of that view
  let output = null; // the output element around it, watched for a re-render
  const place = { focused: null, top: 0, bottom: true };
  panel.addEventListener("focusin", (event) => { place.focused = event.target; });
  panel.addEventListener("focusout", () => setTimeout(() => {
    const now = document.activeElement; // the body when the panel was only taken out of the page
    if (now && now !== document.body && !panel.contains(now)) place.focused = null; // the reader went elsewhere
  }, 0));
  transcript.addEventListener("scroll", () => {
    if (!transcript.isConnected) return;
    place.top = transcript.scrollTop;
    place.bottom = atBottom();
  });

  const outputWatch = new MutationObserver(settle);
  function settle() {
    // The panel's view once that is on the page, else the emptied output; focus and scroll as they were.
    const target = host?.isConnected ? host : !panel.isConnected && output?.isConnected ? output : null;
    if (target && panel.parentElement !== target) {
      const focused = panel.contains(document.activeElement) ? document.activeElement : null;
      target.append(panel);
      restore(focused);
    }
    if (host?.isConnected && host.parentElement !== output) {
      output = host.parentElement;
      outputWatch.disconnect();
      outputWatch.observe(output, { childList: true });
    }
  }
  function restore(focused) {
    grow();
    transcript.scrollTop = place.bottom ? transcript.scrollHeight : place.top;
    const lost = !document.activeElement || document.activeElement === document.body;
    const again = focused || (lost ? place.focused : null);
    if (again && panel.contains(again)) again.focus({ preventScroll: true });
  }
  function whenOnPage(element) {
    // A view is put on the page after it rendered: wait for that in the same task (a mutation observer).
    if (element.isConnected) { settle(); return; }
    const arrival = new MutationObserver(() => {
      if (element.isConnected) { arrival.disconnect(); settle(); }
    });
    arrival.observe(document.body, { childList: true, subtree: true });
  }
  function listen(view) {
    owner = view;
    const on = (name, handler) => view.on(name, (...args) => { if (owner === view) handler(...args); });
    on("msg:custom", onMessage);
    on("change:turns", onTurns);
    on("change:live", onLive);
    on("change:model", showModels);
    on("change:models", showModels);
    on("change:tools", showTools);
    on("change:tool_names", showTools);
    on("change:compare_with", showCompare);
    on("change:languages", showChoices);
    on("change:document_types", showChoices);
    for (const name of ["busy", "total_tokens", "thinking", "budget", "search", "speak", "probabilities", "model",
                        "translate_to"]) {
      on(`change:${name}`, showControls);
    }
  }
  return {
    get host() { return host; },
    mount(element, view) {
      host = element;
      if (!panel.isConnected) host.append(panel); // else it waits in the emptied output for the view
      listen(view);
      showModels();
      showChoices();
      showControls();
      showTools();
      showTurns();
      whenOnPage(host);
    },
    unmount(view) {
      if (owner !== view) return false;
      resize.disconnect();
      outputWatch.disconnect();
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
