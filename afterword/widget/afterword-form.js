/* afterword widget, second step: the form (posting, replies, pending receipts), the "more
   comments" parts and links to comments on them, identicons and relative dates. Loaded by the
   reader core (afterword.js) when the browser is idle or at the first focus of a form,
   whichever comes first. It loads the third step, Edit and Delete (afterword-edit.js), only
   on a page where this browser holds a comment it may still change. */
(() => {
  "use strict";

  const core = window.afterword;
  const { find, findAll, fetchThread, strings } = core;
  const doc = document;
  const STORE = "afterword:pending";
  const RECEIPT_LIFETIME_MS = 2592e6; // 30 days
  // The fragment markup that a deletion relies on (afterword/templates/macros.html): a
  // comment's <article> and the builder's placeholder for a removed one.
  const ARTICLE = ":scope>article";
  const REMOVED = ".afterword-removed";
  // Rewritten to its hashed name by afterword/widget/__init__.py when publishing; it sits
  // beside this module, so it is resolved against this script's own address.
  const EDIT_MODULE = "afterword-edit.js";
  const here = doc.currentScript?.src || location.href;

  function format(template, values) {
    return String(template).replace(/\{(\w+)\}/g, (whole, name) => values[name] ?? whole);
  }

  function make(tag, className = "", text) {
    const element = doc.createElement(tag);
    element.className = className;
    if (text != null) {
      element.textContent = text;
    }
    return element;
  }

  function button(className, text) {
    const element = make("button", className, text);
    element.type = "button";
    return element;
  }

  // Receipts of sent comments wait here until published, 30 days at most. A receipt is the
  // 202 answer's `data` (id, page, author, html, status and, from intakes that issue one,
  // `capability`: the token that edit and delete will send) plus the page and time sent.
  function readReceipts() {
    try {
      const all = JSON.parse(localStorage[STORE] || "[]");
      return all.filter((receipt) => Date.now() - receipt.t < RECEIPT_LIFETIME_MS);
    } catch {
      return [];
    }
  }

  function writeReceipts(receipts) {
    try {
      localStorage[STORE] = JSON.stringify(receipts);
    } catch {
      // Storage full or denied: the comment is sent all the same, only not shown as pending.
    }
  }

  // Templates use fixed ids (labels, hints, the no-JS notices); a thread whose ids another
  // thread on the page already holds gets its own, so each label, hint and error points into
  // its own form. Threads attach in any order (the first one focused comes first), so the
  // test is the document, not the order: the one earlier in the page keeps the plain ids.
  function uniqueIds(section, number) {
    const renamed = {};
    for (const element of findAll("[id]:not(.afterword-comment)", section)) {
      if (doc.getElementById(element.id) == element) {
        continue;
      }
      renamed[element.id] = element.id + "-" + number;
      element.id = renamed[element.id];
    }
    for (const element of findAll("[for],[aria-describedby],a[href^='#']", section)) {
      if (element.htmlFor in renamed) {
        element.htmlFor = renamed[element.htmlFor];
      }
      const described = element.getAttribute("aria-describedby");
      if (described) {
        const ids = described.split(" ").map((id) => renamed[id] || id);
        element.setAttribute("aria-describedby", ids.join(" "));
      }
      const anchor = element.getAttribute("href");
      if (anchor && renamed[anchor.slice(1)]) {
        element.setAttribute("href", "#" + renamed[anchor.slice(1)]);
      }
    }
  }

  // Same picture as afterword/builder/avatar.py: a mirrored 5×5 grid from the seed
  // "<rgb hex><cell bits hex>" (older builds: "<rgb hex>-<cell bits hex>"), bit row * 3 +
  // column filling that column and its mirror.
  function identicon(holder) {
    const seed = holder.dataset.identicon.match(/^([0-9a-f]{6})-?([0-9a-f]{1,4})$/);
    holder.removeAttribute("data-identicon");
    if (!seed) {
      return;
    }
    const [, color, mask] = seed;
    const bits = parseInt(mask, 16);
    // The seed sits on the commenter's name (<b>); fragments built before issue 13's second
    // pass gave the picture an empty <span class="afterword-avatar"> of its own.
    let avatar = holder;
    if (holder.localName != "span") {
      avatar = make("span");
      holder.before(avatar);
    }
    avatar.classList.add("afterword-avatar");
    avatar.setAttribute("aria-hidden", "true");
    let path = "";
    for (let row = 0; row < 5; row++) {
      const cells = [0, 1, 2, 1, 0].map((column) => (bits >> (row * 3 + column)) & 1);
      let column = 0;
      while (column < 5) {
        const start = column;
        while (column < 5 && cells[column]) {
          column++;
        }
        if (column > start) {
          path += `M${start},${row}h${column - start}v1h-${column - start}z`;
        } else {
          column++;
        }
      }
    }
    avatar.innerHTML =
      `<svg viewBox="0 0 5 5" width="40" height="40" focusable="false"><rect width="5" height="5" fill="#f0f0f0"/>` +
      `<path fill="#${color}" d="${path}"/></svg>`;
  }

  let instances = 0;
  function attach(element) {
    const state = element.aw;
    // The page's own data-strings (the script's, the container's) over the fragment's.
    state.strings = strings(state.section.dataset, state.options);
    state.form = find(".afterword-form", state.section);
    instances += 1;
    uniqueIds(state.section, instances);
    if (state.form) {
      replyBox(state.form);
      state.home = doc.createComment("afterword-form");
      state.form.before(state.home);
    }
    findAll("[data-identicon]", state.section).forEach(identicon);
    decorate(state.section);
    if (state.form) {
      const form = state.form;
      if (form.contains(doc.activeElement)) {
        reveal(form);
      }
      form.addEventListener("focusin", () => reveal(form));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        submit(element);
      });
    }
    sync(element);
    // A link to a comment on a later part (#c123): fetch parts until it is on the page.
    const target = location.hash.slice(1);
    if (/^c\d+$/.test(target)) {
      seek(element, target);
    }
  }

  // "Mail me replies" needs an address: the box is shown, and sent, only while one is typed.
  function replyBox(form) {
    const box = form.elements.notify_replies;
    const email = form.elements.email;
    if (!box || !email) {
      return;
    }
    const update = () => {
      box.closest(".afterword-notify").hidden = box.disabled = !email.value.trim();
    };
    email.addEventListener("input", update);
    update();
  }

  // Relative dates ("3 days ago") once the thread is shown; the fragment's text stays the
  // absolute date for readers without the script, and goes into the title here. Hover shows
  // the title; keyboard focus on the permalink shows it too, by the stylesheet
  // (header > a:focus-visible > time[title]::after), so it needs no script.
  function decorate(root) {
    const lang = root.closest("[lang]")?.lang || doc.documentElement.lang || undefined;
    for (const time of findAll("time[datetime]:not([data-absolute])", root)) {
      relativeDate(time, lang);
    }
  }

  const UNITS = [
    ["year", 31536e6],
    ["month", 2592e6],
    ["week", 6048e5],
    ["day", 864e5],
    ["hour", 36e5],
    ["minute", 6e4],
  ];

  function relativeDate(time, lang) {
    const moment = new Date(time.dateTime);
    if (isNaN(moment)) {
      return;
    }
    const absolute = moment.toLocaleString(lang, { dateStyle: "long", timeStyle: "short" });
    const age = moment - Date.now();
    const [unit, size] = UNITS.find(([, length]) => Math.abs(age) >= length) || ["second", 1000];
    const relative = new Intl.RelativeTimeFormat(lang, { numeric: "auto" }).format(Math.round(age / size), unit);
    time.dataset.absolute = absolute;
    time.dataset.relative = relative;
    time.title ||= absolute; // a title the template wrote (the "edited" mark's) wins
    time.textContent = relative;
  }

  // The compact form (.afterword-compact, set by the core) shows name, e-mail and website
  // from the first focus on.
  function reveal(form) {
    form.classList.remove("afterword-compact");
  }

  // A receipt's element id: the comment's id, or — from an SQS intake, which knows no id yet —
  // its submission id; published, such a comment carries that as data-submission. A
  // published comment is li#c<id> without data-pending.
  function receiptKey(receipt) {
    return receipt.id ?? "s" + receipt.submission;
  }

  function publishedSelector(receipt) {
    return receipt.id == null
      ? `[data-submission="${receipt.submission}"]`
      : `#c${receipt.id}:not([data-pending])`;
  }

  // Shows this page's receipts not yet in the published thread and forgets those that are,
  // unless their author may still change them (then Edit and Delete go on the published
  // comment). A capability past its `editable_until` is dropped here.
  function sync(element) {
    const state = element.aw;
    let shown = 0;
    const kept = readReceipts().filter((receipt) => {
      if (receipt.page != state.page) {
        return true;
      }
      const item = find(`#c${receiptKey(receipt)}[data-pending]`, state.section);
      const published = find(publishedSelector(receipt), state.section);
      // Once live, the server closes edits edit_window_minutes after the approval, which
      // this browser never sees: it counts them from the first time it sees the comment live.
      if (published && receipt.edit_window_minutes != null && !receipt.live) {
        receipt.live = Date.now();
        const closes = receipt.live + receipt.edit_window_minutes * 6e4;
        if (closes < Date.parse(receipt.editable_until)) {
          receipt.editable_until = new Date(closes).toISOString();
        }
      }
      if (!editable(receipt)) {
        receipt.capability = null;
      }
      if (receipt.gone) {
        // Deleted by this browser: kept out of sight until a build takes it off the page.
        if (published && !published.matches(REMOVED)) {
          gone(state, published);
          return true;
        }
        return false;
      }
      if (published) {
        item?.remove();
        if (published.matches(REMOVED)) {
          return false; // a moderator took it down: nothing left to change
        }
        own(element, published, receipt);
        return Boolean(receipt.capability);
      }
      own(element, item || showPending(state, receipt), receipt);
      shown += 1;
      return true;
    });
    writeReceipts(kept);
    heading(state, shown);
  }

  // The heading counts what the reader sees: "1 comment awaiting moderation", not "No
  // comments yet" above their own pending comment.
  function heading(state, waiting) {
    const title = find(".afterword-heading", state.section);
    if (!title) {
      return;
    }
    if (state.heading == null) {
      state.heading = title.textContent;
    }
    const strings = state.strings;
    const text = format(waiting > 1 ? strings.heading_pending_other : strings.heading_pending_one, { n: waiting });
    if (!waiting) {
      title.textContent = state.heading;
    } else if (Number(state.section.dataset.count) > 0) {
      title.textContent = state.heading + " · " + text;
    } else {
      title.textContent = text;
    }
  }

  function showPending(state, receipt) {
    const parent = receipt.parent && doc.getElementById("c" + receipt.parent);
    const item = make("li", "afterword-comment afterword-pending");
    const article = make("article");
    const header = make("header");
    const body = make("div", "afterword-body");
    const badge = state.strings[receipt.status == "approved" ? "approved" : "pending"];
    item.id = "c" + receiptKey(receipt);
    item.dataset.pending = "";
    item.tabIndex = -1;
    body.innerHTML = receipt.html;
    header.append(make("b", "", receipt.author), " ", make("span", "afterword-badge", badge));
    article.append(header, body);
    item.append(article);
    let list = parent ? find(":scope>.afterword-replies", parent) : find(".afterword-comments", state.section);
    if (!list) {
      list = make("ol", parent ? "afterword-replies" : "afterword-comments");
      if (parent) {
        parent.append(list);
      } else {
        (find(":scope>.afterword-more", state.section) || state.home || state.section.lastChild).before(list);
      }
    }
    list.append(item);
    return item;
  }

  async function loadMore(element, link) {
    const state = element.aw;
    const hadFocus = doc.activeElement == link;
    link.setAttribute("aria-busy", "true");
    try {
      const part = await fetchThread(new URL(link.getAttribute("href"), state.url));
      const list = find(".afterword-comments", state.section);
      const items = findAll(":scope>.afterword-comments>li", part);
      const next = find(".afterword-more", part);
      const firstPending = find(":scope>[data-pending]", list);
      items.forEach(decorate);
      findAll("[data-identicon]", part).forEach(identicon);
      if (firstPending) {
        firstPending.before(...items);
      } else {
        list.append(...items);
      }
      if (next) {
        link.replaceWith(next);
      } else {
        link.remove();
      }
      sync(element);
      if (hadFocus && items[0]) {
        items[0].tabIndex = -1;
        items[0].focus();
      }
      return true;
    } catch {
      link.removeAttribute("aria-busy");
      link.textContent = state.strings.load_error;
      return false;
    }
  }

  // A link to a comment on a later part (#c123): fetch parts until it is on the page.
  async function seek(element, target) {
    let found = doc.getElementById(target);
    let link = find(".afterword-more", element.aw.section);
    while (!found && link && !link.hasAttribute("aria-busy")) {
      if (!(await loadMore(element, link))) {
        return;
      }
      found = doc.getElementById(target);
      link = find(".afterword-more", element.aw.section);
    }
    if (found) {
      found.classList.add("afterword-target");
      found.scrollIntoView();
    }
  }

  function click(element, control) {
    const state = element.aw;
    if (control.classList.contains("afterword-more")) {
      loadMore(element, control);
    } else if (control.matches("article>footer>button:first-child")) {
      // "Reply": the comment's footer's first button; the comment is li#c<id>
      reply(state, control.closest("li").id.slice(1));
    } else if (control.classList.contains("afterword-cancel")) {
      goHome(state);
    } else if (control.classList.contains("afterword-retry")) {
      submit(element);
    }
  }

  function reply(state, id) {
    const article = find(`#c${id}>article`, state.section);
    const form = state.form;
    if (!form || !article) {
      return;
    }
    article.after(form);
    form.elements.parent.value = id;
    if (!find(".afterword-cancel", form)) {
      find("[type=submit]", form).after(" ", button("afterword-cancel", state.strings.cancel));
    }
    form.elements.body.focus();
  }

  function goHome(state) {
    state.home.after(state.form);
    state.form.elements.parent.value = "";
    find(".afterword-cancel", state.form)?.remove();
  }

  function say(state, text, withRetry) {
    const status = find(".afterword-status", state.form);
    status.textContent = text;
    find(".afterword-retry", state.form)?.remove();
    if (withRetry) {
      const retry = button("afterword-retry", state.strings.retry);
      status.after(retry);
      retry.focus();
    }
  }

  async function submit(element) {
    const state = element.aw;
    const form = state.form;
    const strings = state.strings;
    const send = find("[type=submit]", form);
    const data = Object.fromEntries(new FormData(form));
    reveal(form);
    findAll(".afterword-error", form).forEach((error) => error.remove());
    findAll("[aria-invalid]", form).forEach((field) => field.removeAttribute("aria-invalid"));
    send.disabled = true;
    say(state, strings.sending);
    let response;
    let answer = {};
    try {
      response = await fetch(form.action, {
        credentials: "omit",
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(data),
      });
      answer = await response.json().catch(() => ({}));
    } catch {
      response = undefined;
    }
    send.disabled = false;
    if (!response) {
      say(state, strings.network, true);
      return;
    }
    if (answer.data) {
      // The source text and the intake's URL too: the 202 has neither, editing needs both.
      const receipt = { ...answer.data, page: state.page, t: Date.now(), body: data.body, at: form.action };
      writeReceipts([...readReceipts(), receipt]);
      form.elements.body.value = "";
      goHome(state);
      say(state, data.notify_replies ? strings.thanks_replies : strings.thanks);
      sync(element);
      find(`#c${receiptKey(receipt)}[data-pending]`, state.section)?.focus();
      return;
    }
    showErrors(state, response, answer.error || {});
  }

  function showErrors(state, response, error) {
    const strings = state.strings;
    if (response.status == 429) {
      const seconds = parseInt(response.headers.get("Retry-After")) || 60;
      say(state, format(strings.rate, { s: seconds }));
    } else {
      say(state, format(strings.failed, { message: error.message || response.status }));
    }
    // Each field's error joins its label: shown beside the field, read with its name.
    let first;
    for (const [name, message] of Object.entries(error.fields || {})) {
      const field = state.form.elements[name];
      const label = field?.labels?.[0];
      if (!label) {
        continue;
      }
      label.append(make("span", "afterword-error", " " + message));
      field.setAttribute("aria-invalid", "true");
      first ||= field;
    }
    first?.focus();
  }

  // Edit and delete (docs/intake-api.md#editing-and-deleting-ones-own-comment): the receipt's
  // capability lets this browser change its own comment until `editable_until`.
  function editable(receipt) {
    return Boolean(receipt.capability) && Date.now() < Date.parse(receipt.editable_until);
  }

  // A comment its author deleted: the placeholder text in place of it, replies kept below.
  function gone(state, item) {
    find(ARTICLE, item).replaceChildren(make("p", "afterword-removed-text", state.strings.deleted));
    item.classList.remove("afterword-pending");
    item.tabIndex = -1;
  }

  // Edit and Delete (afterword-edit.js) serve only those who wrote here, and only while their
  // receipt's capability lasts: that module is fetched once per page, the first time such a
  // receipt needs its buttons, and never otherwise. A failed fetch is tried again next time.
  // Added to <head> the way the core adds this module (its addToHead is not shared: exported,
  // it would cost the core bytes its 2.5 KB budget does not have).
  let editModule;
  function own(element, item, receipt) {
    if (!receipt.capability) {
      return;
    }
    editModule ||= new Promise((done, fail) => {
      const script = doc.createElement("script");
      doc.head.append(Object.assign(script, { src: new URL(EDIT_MODULE, here), onload: done, onerror: fail }));
    }).then(
      () => core.edit,
      () => {
        editModule = undefined;
        throw Error("afterword: edit module did not load");
      },
    );
    editModule.then(
      (module) => module.own(element, item, receipt),
      (error) => console.warn(error),
    );
  }

  // What the edit module (afterword-edit.js) shares rather than repeats; `receipts` are the
  // stored receipts of this browser, each with the `capability` the intake returned, if any.
  core.form = {
    attach,
    sync,
    click,
    submit,
    seek,
    receipts: readReceipts,
    writeReceipts,
    receiptKey,
    gone,
    make,
    button,
    format,
  };
})();
