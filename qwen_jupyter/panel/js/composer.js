// -- the input and what is attached to it ---------------------------------------------------------------------

function composer(model, { panel, transcript, input, pending, editing, c, set, announce }) {
  // The question being written: the input box (it grows with its text and is kept as the draft), the pictures
  // and documents picked for it, editing the last question, Send and Stop.
  let images = [];
  let documents = []; // {name, data}: the bytes in base64
  let refused = []; // what was picked but cannot be sent from here, said under the input until the next pick
  let attachedBytes = 0;
  let editingId = null;
  let draftTimer = null;

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
  function edit(turn) {
    editingId = turn.id;
    input.value = turn.user || "";
    showEditing();
    grow();
    input.focus();
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
  function attach() {
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
  }

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
  c.file.addEventListener("change", attach);
  return { edit, grow };
}
