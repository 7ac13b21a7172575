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
  c.agent = el("input", "qp-agent");
  c.agent.type = "checkbox";
  c.agentLabel = labelled(" Agent", c.agent);
  c.agentLabel.title = "Let the model look at your variables and run code in this kernel: each run is shown here " +
                       "and waits for your Run";
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
    "qp-tools", "Tools", "Functions of this notebook and MCP servers (QwenMagics.mcp_servers) the model may call",
    "Tools the model may call");
  c.send = button("Send", "jp-mod-accept qp-send", "Send (Shift+Enter)");
  c.stop = button("Stop", "qp-stop", "Stop the answer (Escape)");
  c.fresh = button("New chat", "qp-new", "Start a new conversation in this chat");
  c.tokens = el("span", "qp-tokens");
  c.row = el("div", "qp-controls");
  c.row.setAttribute("role", "group");
  c.row.setAttribute("aria-label", "Chat options");
  c.row.append(c.picker, labelled(" Think", c.think), c.budget, labelled(" Search", c.search), c.speakLabel,
               c.probabilitiesLabel, c.tools, c.agentLabel, c.translateLabel, c.compare, c.attach, c.file, c.send, c.stop,
               c.fresh, c.tokens);
  return c;
}

function wireControls(model, c, panel) {
  // The controls row kept in step with the model's traits, and the person's changes sent back.
  const set = (name, value) => { model.set(name, value); model.save_changes(); };

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
    c.agent.checked = model.get("agent");
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
    choices(c.toolsList, names, chosen, "qp-tool-choice", (now) => set("tools", now),
            (name) => (name.startsWith("mcp:") ? `${name.slice(4)} (MCP server)` : name));
    if (!names.length) c.toolsList.append(el("div", "qp-muted", "No functions defined in this notebook yet."));
  }

  c.picker.addEventListener("change", () => set("model", c.picker.value));
  c.think.addEventListener("change", () => set("thinking", c.think.checked));
  c.budget.addEventListener("change", () => set("budget", Math.max(0, parseInt(c.budget.value || "0", 10) || 0)));
  c.search.addEventListener("change", () => set("search", c.search.checked));
  c.speak.addEventListener("change", () => set("speak", c.speak.checked));
  c.probabilities.addEventListener("change", () => set("probabilities", c.probabilities.checked));
  c.agent.addEventListener("change", () => set("agent", c.agent.checked));
  c.tools.addEventListener("toggle", () => { if (c.tools.open) model.send({ type: "tools" }); }); // new functions
  c.translate.addEventListener("change", () => set("translate_to", c.translate.value));
  return { set, showModels, showCompare, showChoices, showControls, showTools };
}
