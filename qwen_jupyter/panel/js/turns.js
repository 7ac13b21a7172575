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
  root.append(user, el("div", "qp-tools"), el("div", "qp-approval"), reply, el("div", "qp-error"),
              el("div", "qp-answer-actions"), el("div", "qp-footer")); // calls come before the answer they led to
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
  root.querySelector(".qp-approval").replaceWith(approvalBox(turn.approval, actions));
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

function approvalBox(approval, actions) {
  // A call waiting for the person's yes: exactly what will run (as text, hidden characters written out by the
  // kernel), and Run / Don't run. Nothing runs until one is pressed; Stop refuses it.
  const box = el("div", "qp-approval");
  if (!approval) return box;
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", `Approve ${approval.name}`);
  box.append(el("div", "qp-approval-title", approval.code ? "The model asks to run this code in your kernel:"
                                                            : "The model asks to run this call:"),
             el("pre", "qp-approval-shown", approval.shown));
  const answer = (approved) => () => {
    for (const node of box.querySelectorAll("button")) node.disabled = true;
    actions.approve(approval.id, approved);
  };
  const buttons = el("div", "qp-approval-actions");
  buttons.append(button("Run it", "jp-mod-accept qp-approve", `Run ${approval.name} as shown`, answer(true)),
                 button("Don't run", "qp-refuse", `Do not run ${approval.name}`, answer(false)));
  box.append(buttons);
  return box;
}
