// The QwenPanel front end (anywidget ESM), in parts the kernel joins into one module, in this order: dom.js (small
// builders), math.js, turns.js (one turn), controls.js, composer.js (the input and attachments), transcript.js,
// placement.js (where the panel is shown), panel.js (the parts put together, and render).
//
// Model text goes in through textContent; the only HTML set with innerHTML is what the kernel rendered and
// sanitized (nh3) or built itself (thumbnails). Every button is made here around that HTML, with listeners (never
// handlers in HTML); code is read from a code element's textContent, never run. Math is typeset by KaTeX (vendored
// in the package, sent by the kernel on first use): JupyterLab 4 and Notebook 7 give a widget no typesetter (their
// window.MathJax has no typeset API).

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

function choices(list, names, chosen, className, onChange, label = (name) => name) {
  // A checkbox a name (the tools and compare pickers): the checked names go to onChange.
  list.textContent = "";
  for (const name of names) {
    const box = el("input", className);
    box.type = "checkbox";
    box.value = name;
    box.checked = chosen.includes(name);
    box.addEventListener("change", () => onChange([...list.querySelectorAll("input:checked")].map((b) => b.value)));
    list.append(labelled(` ${label(name)}`, box));
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
