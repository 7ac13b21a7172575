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
