// The QwenPanel front end (anywidget ESM). Model text goes in through textContent; the only HTML set with
// innerHTML is what the kernel rendered and sanitized (nh3) or built itself (thumbnails).

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function turnView(turn) {
  const root = el("div", "qp-turn qp-" + (turn.status || "ok"));
  root.dataset.id = turn.id;
  const user = el("div", "qp-user");
  user.append(el("span", "qp-who", "You"), el("span", "qp-user-text", turn.user || ""));
  if (turn.images) {
    const thumbs = el("div", "qp-user-images");
    thumbs.innerHTML = turn.images; // built by the kernel from the person's own images
    user.append(thumbs);
  }
  const reply = el("div", "qp-reply");
  const reasoning = el("details", "qp-reasoning");
  reasoning.open = true;
  reasoning.append(el("summary", "", "Reasoning"), el("div", "qp-html"), el("div", "qp-tail"));
  const answer = el("div", "qp-answer");
  answer.append(el("div", "qp-html"), el("div", "qp-tail"));
  reply.append(reasoning, answer);
  const calls = el("div", "qp-tools");
  const error = el("div", "qp-error");
  const footer = el("div", "qp-footer");
  root.append(user, reply, calls, error, footer);
  fill(root, turn);
  return root;
}

function fill(root, turn) {
  const reasoning = root.querySelector(".qp-reasoning");
  const answer = root.querySelector(".qp-answer");
  reasoning.querySelector(".qp-html").innerHTML = turn.reasoning_html || ""; // sanitized by the kernel
  reasoning.querySelector(".qp-tail").textContent = turn.reasoning_tail || "";
  answer.querySelector(".qp-html").innerHTML = turn.answer_html || ""; // sanitized by the kernel
  answer.querySelector(".qp-tail").textContent = turn.answer_tail || "";
  root.classList.toggle("qp-has-reasoning", Boolean(turn.reasoning_html || turn.reasoning_tail));
  const calls = root.querySelector(".qp-tools");
  calls.textContent = "";
  for (const call of turn.tool_calls || []) {
    calls.append(el("code", "qp-tool", `${call.name}(${call.arguments})`));
  }
  root.querySelector(".qp-error").textContent = turn.error || "";
  root.querySelector(".qp-footer").textContent = turn.footer || "";
}

function render({ model, el: host }) {
  const panel = el("div", "qwen-panel");
  // Keys typed in the panel are the panel's: Lumino (JupyterLab, Notebook 7) would otherwise take Shift+Enter
  // to run the notebook cell.
  panel.dataset.lmSuppressShortcuts = "true";
  const transcript = el("div", "qp-transcript");
  const pending = el("div", "qp-pending");
  const input = el("textarea", "qp-input");
  input.placeholder = "Ask Qwen… (Shift+Enter sends)";
  input.rows = 2;
  input.value = model.get("draft") || "";

  const controls = el("div", "qp-controls");
  const picker = el("select", "qp-model");
  const think = el("input", "qp-think");
  think.type = "checkbox";
  const budget = el("input", "qp-budget");
  budget.type = "number";
  budget.min = "0";
  budget.title = "thinking budget in tokens (0: the model's default)";
  const search = el("input", "qp-search");
  search.type = "checkbox";
  const file = el("input", "qp-file");
  file.type = "file";
  file.accept = "image/*";
  file.multiple = true;
  const attach = el("label", "qp-attach", "Image…");
  attach.append(file);
  const send = el("button", "qp-send", "Send");
  const stop = el("button", "qp-stop", "Stop");
  const fresh = el("button", "qp-new", "New conversation");
  const tokens = el("span", "qp-tokens");
  const thinkLabel = el("label", "", "Think ");
  thinkLabel.prepend(think);
  const searchLabel = el("label", "", "Search ");
  searchLabel.prepend(search);
  controls.append(picker, thinkLabel, budget, searchLabel, attach, send, stop, fresh, tokens);
  panel.append(transcript, pending, input, controls);
  host.append(panel);

  let images = [];
  let liveView = null;
  let lastSeq = 0;

  function showTurns() {
    transcript.textContent = "";
    for (const turn of model.get("turns")) transcript.append(turnView(turn));
    showLive();
  }
  function showLive() {
    const live = model.get("live");
    if (liveView) liveView.remove();
    liveView = live && live.id ? turnView({ ...live, status: "streaming" }) : null;
    if (liveView) transcript.append(liveView);
    transcript.scrollTop = transcript.scrollHeight;
  }
  function showControls() {
    picker.textContent = "";
    for (const name of model.get("models")) picker.append(el("option", "", name));
    if (!model.get("models").includes(model.get("model"))) picker.append(el("option", "", model.get("model")));
    picker.value = model.get("model");
    think.checked = model.get("thinking");
    budget.value = String(model.get("budget") || 0);
    search.checked = model.get("search");
    const busy = model.get("busy");
    send.disabled = busy;
    stop.disabled = !busy;
    panel.classList.toggle("qp-busy", busy);
    tokens.textContent = `${model.get("total_tokens")} tokens`;
  }
  function showPending() {
    pending.textContent = "";
    images.forEach((url, index) => {
      const thumb = el("img", "qp-thumb");
      thumb.src = url;
      thumb.title = "click to remove";
      thumb.onclick = () => { images.splice(index, 1); showPending(); };
      pending.append(thumb);
    });
  }
  function submit() {
    const text = input.value;
    if (model.get("busy") || (!text.trim() && images.length === 0)) return;
    model.send({ type: "send", text, images });
    input.value = "";
    images = [];
    showPending();
  }

  model.on("msg:custom", (msg) => {
    if (!liveView || msg.turn !== liveView.dataset.id) return;
    if (lastSeq && msg.seq !== lastSeq + 1) return; // a gap: the next refresh of `live` repairs the view
    lastSeq = msg.seq;
    const part = liveView.querySelector(msg.kind === "reasoning" ? ".qp-reasoning" : ".qp-answer");
    if (msg.kind === "reasoning") liveView.classList.add("qp-has-reasoning");
    if (msg.type === "delta") {
      part.querySelector(".qp-tail").textContent += msg.text;
    } else if (msg.type === "block") {
      part.querySelector(".qp-html").insertAdjacentHTML("beforeend", msg.html); // sanitized by the kernel
      part.querySelector(".qp-tail").textContent = msg.tail;
    }
    transcript.scrollTop = transcript.scrollHeight;
  });
  model.on("change:turns", showTurns);
  model.on("change:live", () => { lastSeq = 0; showLive(); });
  for (const name of ["busy", "total_tokens", "model", "models", "thinking", "budget", "search"]) {
    model.on(`change:${name}`, showControls);
  }

  function set(name, value) { model.set(name, value); model.save_changes(); }
  picker.onchange = () => set("model", picker.value);
  think.onchange = () => set("thinking", think.checked);
  budget.onchange = () => set("budget", Math.max(0, parseInt(budget.value || "0", 10) || 0));
  search.onchange = () => set("search", search.checked);
  let draftTimer = null;
  input.oninput = () => { clearTimeout(draftTimer); draftTimer = setTimeout(() => set("draft", input.value), 300); };
  input.onkeydown = (event) => {
    if (event.key === "Enter" && event.shiftKey) { event.preventDefault(); event.stopPropagation(); submit(); }
  };
  send.onclick = submit;
  stop.onclick = () => model.send({ type: "stop" });
  fresh.onclick = () => model.send({ type: "new" });
  file.onchange = () => {
    for (const picked of file.files) {
      const reader = new FileReader();
      reader.onload = () => { images.push(reader.result); showPending(); };
      reader.readAsDataURL(picked);
    }
    file.value = "";
  };

  showControls();
  showTurns();
}

export default { render };
