// -- where the panel is shown ---------------------------------------------------------------------------------
// JupyterLab and Notebook 7 re-render an output on every display update (the static transcript, after each
// answer): they empty it, then make a new view. The panel goes back into the emptied output at once (in the same
// task), and the new view takes it when it is on the page: nothing is rebuilt, no key pressed meanwhile reaches
// the notebook, and focus and scroll position stay.

function placement(panel, transcript, atBottom, grow) {
  let host = null; // the element of the view that shows the panel
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
  return {
    get host() { return host; },
    show(element) {
      host = element;
      if (!panel.isConnected) host.append(panel); // else it waits in the emptied output for the view
    },
    settle() { whenOnPage(host); }, // once the view's content is there: focus and scroll come back
    stop() { outputWatch.disconnect(); },
  };
}
