// A modal confirmation built on <dialog> (focus trapping, Escape to cancel come with it).

export function confirmDialog({ title, body, confirmLabel = "OK", danger = false }) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.setAttribute("aria-labelledby", "confirm-title");
    const heading = document.createElement("h2");
    heading.id = "confirm-title";
    heading.textContent = title;
    dialog.append(heading);
    if (body) {
      const text = document.createElement("p");
      text.textContent = body;
      text.className = "muted";
      dialog.append(text);
    }
    const actions = document.createElement("div");
    actions.className = "actions";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    const ok = document.createElement("button");
    ok.type = "button";
    ok.textContent = confirmLabel;
    ok.className = danger ? "danger" : "primary";
    ok.dataset.confirm = "yes";
    actions.append(cancel, ok);
    dialog.append(actions);
    let answer = false;
    cancel.addEventListener("click", () => dialog.close());
    ok.addEventListener("click", () => {
      answer = true;
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    ok.focus();
  });
}
