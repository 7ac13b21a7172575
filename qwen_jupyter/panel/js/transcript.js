// -- the transcript -------------------------------------------------------------------------------------------

function transcriptView(model, { transcript, announcer, input, math, actions }) {
  // The finished turns (each built once, rebuilt only when it changed), the turn in progress fed by the kernel's
  // deltas and sealed blocks, the scroll position (kept unless the reader is at the bottom), and what a screen
  // reader hears (in pieces every few seconds, not each delta).
  const views = new Map(); // turn id -> {node, key}: a finished turn is built once
  const heard = { text: "", timer: null };
  let liveView = null;
  let lastSeq = 0;

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
  return { atBottom, announce, showTurns, onMessage, onTurns, onLive };
}
