/* afterword widget, third step: Edit and Delete of one's own comment
   (docs/intake-api.md#editing-and-deleting-ones-own-comment). Most readers never edit, so this
   is not in the form module (afterword-form.js): that loads it only on a page where this
   browser holds a receipt whose capability is still live, and calls `own` for each such
   comment. It shares the form module's helpers (window.afterword.form) instead of repeating
   them. */
(() => {
  "use strict";

  const core = window.afterword;
  const { find } = core;
  const { make, button, format, receipts: readReceipts, writeReceipts, receiptKey, gone, sync } = core.form;
  const doc = document;
  // The fragment markup that edit and delete rely on (afterword/templates/macros.html): a
  // comment's <article>, its text and its footer.
  const ARTICLE = ":scope>article";
  const BODY = ".afterword-body";
  const FOOTER = ":scope>footer";
  let serial = 0; // element ids of edit boxes and confirmations, unique across threads

  // The receipt, changed, back in this browser's storage.
  function keep(receipt, changes) {
    Object.assign(receipt, changes);
    const same = (stored) => stored.page == receipt.page && receiptKey(stored) == receiptKey(receipt);
    writeReceipts(readReceipts().map((stored) => (same(stored) ? receipt : stored)));
  }

  function setAttributes(element, values) {
    for (const [name, value] of Object.entries(values)) {
      element.setAttribute(name, value);
    }
  }

  // Edit and Delete on `item`, the visitor's own comment (pending card or published li). The
  // receipt's capability lets this browser change it until `editable_until`; the server stays
  // the judge: whatever it refuses for good takes the buttons away, and nothing typed is lost
  // on an error.
  function own(element, item, receipt) {
    const state = element.aw;
    const strings = state.strings;
    const article = find(ARTICLE, item);
    if (!receipt.capability || !article || item.awOwn) {
      return;
    }
    item.awOwn = true;
    const body = find(BODY, article);
    let footer = find(FOOTER, article);
    if (!footer) {
      footer = make("footer");
      article.append(footer);
    }
    const controls = make("span", "afterword-own");
    const edit = button("afterword-edit", strings.edit);
    const remove = button("afterword-delete", strings.delete);
    const status = make("span", "afterword-note");
    status.setAttribute("role", "status");
    controls.append(edit, " ", remove);
    footer.append(" ", controls, status);
    let editor;
    let confirm;
    let timer;
    // Buttons off at `editable_until`; setTimeout holds at most 24.8 days, hence the steps.
    const expire = () => {
      const left = Date.parse(receipt.editable_until) - Date.now();
      if (left > 0) {
        timer = setTimeout(expire, Math.min(left, 2e9));
      } else {
        closed();
      }
    };
    expire();

    const say = (text) => {
      status.textContent = text;
    };

    async function send(method, text) {
      let response;
      let answer = {};
      try {
        response = await fetch((receipt.at || state.form?.action) + "/" + receipt.id, {
          credentials: "omit",
          method,
          headers: {
            Authorization: "Bearer " + receipt.capability,
            "Content-Type": "application/json",
            Accept: "application/json",
          },
          body: text == null ? undefined : JSON.stringify({ body: text }),
        });
        answer = await response.json();
      } catch {
        // No answer, or not JSON: judged by the status alone.
      }
      return [response, answer.data, answer.error || {}];
    }

    function report(response, error) {
      const code = response?.status;
      if (code == 429) {
        say(format(strings.edit_rate, { s: parseInt(response.headers.get("Retry-After")) || 60 }));
      } else if (code == 401 || code == 404 || code == 409 || /^capability|window/.test(error.code)) {
        closed(true);
      } else if (!response || code >= 500) {
        say(strings.edit_later);
      } else {
        say(format(strings.failed, { message: error.message || code }));
      }
    }

    // The right is gone (expired, or refused for good): no more buttons; an open edit box
    // keeps its text to copy, without Save. Focus moves only if it was on what went away, or
    // after the visitor's own action (`moveFocus`), never at the timer's whim.
    function closed(moveFocus) {
      const focused = doc.activeElement;
      clearTimeout(timer);
      keep(receipt, { capability: null });
      controls.remove();
      confirm?.remove();
      find(".afterword-save", editor || item)?.remove();
      say(strings.edit_closed);
      if (moveFocus === true || !focused.isConnected) {
        item.tabIndex = -1;
        (editor ? find("textarea", editor) : item).focus();
      }
    }

    edit.onclick = () => {
      const id = "afterword-edit-" + ++serial;
      const label = make("label", "", strings.edit_label);
      const text = make("textarea");
      const error = make("span", "afterword-error");
      const save = button("afterword-save", strings.save);
      const cancel = button("afterword-keep", strings.cancel_edit);
      const row = make("div");
      const box = make("div", "afterword-form afterword-editor");
      editor = box;
      label.htmlFor = id;
      text.id = id;
      error.id = id + "-error";
      text.rows = 5;
      text.value = receipt.body ?? body.innerText;
      row.append(save, " ", cancel);
      box.append(label, text, row);
      body.hidden = true;
      controls.hidden = true;
      body.after(box);
      say("");
      text.focus();
      box.onkeydown = (event) => {
        if (event.key == "Escape") {
          cancel.click();
        }
      };
      cancel.onclick = () => {
        box.remove();
        editor = undefined;
        body.hidden = false;
        controls.hidden = false;
        (controls.isConnected ? edit : item).focus();
      };
      save.onclick = async () => {
        save.disabled = true;
        error.remove();
        text.removeAttribute("aria-invalid");
        text.removeAttribute("aria-describedby");
        say(strings.sending);
        const [response, data, problem] = await send("PATCH", text.value);
        save.disabled = false;
        save.focus(); // disabled, it lost the focus
        say("");
        if (data) {
          // Pending: the card shows the new text. Published: the text stays until approved.
          const changes = { body: text.value };
          if (!data.revision) {
            body.innerHTML = data.html;
            changes.html = data.html;
          }
          keep(receipt, changes);
          if (box.isConnected) {
            cancel.click(); // unless Escape closed it while the answer was on its way
          }
          say(data.revision ? strings.edit_waiting : strings.edit_saved);
        } else if (response?.status == 422) {
          error.textContent = problem.fields?.body || problem.message;
          text.after(error);
          setAttributes(text, { "aria-invalid": "true", "aria-describedby": error.id });
          text.focus();
        } else {
          report(response, problem);
        }
      };
    };

    // Delete asks first, inline: a group named by its question, focus on "Cancel".
    remove.onclick = () => {
      const question = make("span", "", strings.delete_confirm);
      const yes = button("afterword-delete", strings.delete);
      const no = button("afterword-keep", strings.cancel_edit);
      confirm = make("span", "afterword-confirm");
      question.id = "afterword-confirm-" + ++serial;
      setAttributes(confirm, { role: "group", "aria-labelledby": question.id });
      confirm.append(question, " ", yes, " ", no);
      controls.hidden = true;
      controls.after(confirm);
      say("");
      no.focus();
      no.onclick = () => {
        confirm.remove();
        controls.hidden = false;
        remove.focus();
      };
      yes.onclick = async () => {
        yes.disabled = true;
        const [response, data, problem] = await send("DELETE");
        if (data) {
          clearTimeout(timer);
          keep(receipt, { gone: 1, capability: null });
          gone(state, item);
          sync(element);
          item.focus();
          return;
        }
        no.click();
        report(response, problem);
      };
    };
  }

  core.edit = { own };
})();
