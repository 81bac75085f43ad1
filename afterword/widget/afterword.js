/* afterword widget, reader core: finds each thread, fetches and renders it, fills count
   badges; nothing else, so that it stays small (issue 13: 2.5 KB gzipped). The second module
   (afterword-form.js) loads when the browser is idle or at the first focus in the thread. Plain
   JS, no dependencies; scripts/build_widget.py minifies it. See docs/embedding.md */
// No "use strict" here (afterword-form.js has it): nothing below depends on it, and its 13
// bytes were the last ones over the 2.5 KB budget.
(() => {
  // A second copy of the script (Turbo and PJAX re-run body scripts) only re-scans the page.
  if (window.afterword?.run) {
    window.afterword.run();
    return;
  }

  const doc = document;
  const script = doc.currentScript;
  const scriptUrl = script?.src || location.href;
  const scriptOptions = script?.dataset || {};
  const FETCH_OPTIONS = { credentials: "omit" };
  const CONTROL_CHARS = /[\0-\x1f\x7f-\x9f]/;
  const COUNT_LIFETIME_MS = 60000;
  const LINKED = /^#c\d+$/; // a URL naming a comment
  const ENGLISH = {
    count_zero: "No comments",
    count_one: "1 comment",
    count_other: "{n} comments",
    load_error: "Comments could not be loaded.",
  };
  // Rewritten to the hashed names by afterword/widget/__init__.py when publishing.
  const STYLESHEET = "afterword.css";
  const FORM_MODULE = "afterword-form.js";
  // What the second module acts on: "Load more", a comment's footer buttons (Reply) and its
  // own type=button ones (Cancel, Try again); never a form's submit button, typed or not.
  const CONTROLS = "button[type=button],footer button,.afterword-more";

  function find(selector, root = doc) {
    return root.querySelector(selector);
  }

  function findAll(selector, root = doc) {
    return [...root.querySelectorAll(selector)];
  }

  function percentHex(character) {
    return "%" + character.charCodeAt(0).toString(16).toUpperCase();
  }

  function badKey() {
    throw Error("afterword: bad page key");
  }

  // The widget's strings: English, then each source's data-strings (JSON) over them.
  function strings(...sources) {
    return Object.assign({}, ENGLISH, ...sources.map((source) => JSON.parse(source.strings || "{}")));
  }

  // Object keys hold a literal "%" (threads/caf%C3%A9): servers decode the request path.
  function escapePercent(path) {
    return path.replaceAll("%", "%25");
  }

  // S3 behind CloudFront answers 403 for a missing key unless the origin may list the bucket.
  function isMissing(response) {
    return [403, 404].includes(response.status);
  }

  // Page keys exactly as afterword/pagekey.py (tests/vectors/page_keys.json)
  function key(value) {
    // A lone surrogate: encodeURIComponent throws (URIError) on exactly these, in every
    // browser; String.prototype.isWellFormed would say so too, but only from Chrome 111 and
    // Safari 16.4 on, so it is not used.
    encodeURIComponent(value);
    if ([...value].length > 2048) {
      badKey();
    }
    let text = value.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "");
    if (!text || CONTROL_CHARS.test(text)) {
      badKey();
    }
    // "scheme://authority" or "//authority" ends at the first / \ ? or #: the path follows.
    text = text.replace(/^([A-Za-z][A-Za-z0-9+.-]*:)?\/\/[^/\\?#]*/, "");
    // Decoded once, as UTF-8 (invalid sequences throw); a % not before two hex digits is text.
    text = text.split(/[?#]/)[0].replaceAll("\\", "/").replace(/%(?![0-9A-Fa-f]{2})/g, "%25");
    text = decodeURIComponent(text);
    if (CONTROL_CHARS.test(text)) {
      badKey();
    }
    const segments = [];
    for (const segment of text.normalize("NFC").split("/")) {
      if (segment == "..") {
        segments.pop();
      } else if (segment && segment != ".") {
        segments.push(segment);
      }
    }
    while (/^index\.html?$/.test(segments.at(-1))) {
      segments.pop();
    }
    let result = "/";
    if (segments.length) {
      const escaped = segments.map((segment) => segment.replace(/[%?#\\ ]/g, percentHex));
      result += escaped.join("/") + (segments.at(-1).includes(".") ? "" : "/");
    }
    if ([...result].length > 1024) {
      badKey();
    }
    folder(result);
    return result;
  }

  function folder(pageKey) {
    const parts = pageKey.split("/").filter(Boolean).map((segment) => {
      const encoded = encodeURIComponent(segment).replace(/[!'()*]/g, percentHex);
      return /^(comments|feed)/.test(encoded) ? percentHex(encoded) + encoded.slice(1) : encoded;
    });
    if (parts.some((part) => part.length > 255) || parts.join("/").length > 900) {
      badKey();
    }
    return parts.join("/");
  }

  // A <link> or <script> added to <head>: settles once it has loaded, or failed to.
  function addToHead(tag, properties) {
    return new Promise((done, fail) => {
      doc.head.append(Object.assign(doc.createElement(tag), properties, { onload: done, onerror: fail }));
    });
  }

  let stylesheet;
  function loadStylesheet(options) {
    if (options.css != "none" && !find("link[href*=afterword]")) {
      const href = new URL(options.css || STYLESHEET, scriptUrl);
      stylesheet = addToHead("link", { rel: "stylesheet", href }).catch(() => {});
    }
    return stylesheet;
  }

  // The form module: one fetch per page, whichever comes first of idle time and a focus.
  let formModule;
  function loadModule() {
    formModule ||= addToHead("script", { src: new URL(FORM_MODULE, scriptUrl) }).then(
      () => window.afterword.form,
      () => {
        formModule = undefined;
        throw Error("afterword: form module did not load");
      },
    );
    return formModule;
  }

  function whenIdle(callback) {
    if (window.requestIdleCallback) {
      requestIdleCallback(callback, { timeout: 4000 });
    } else {
      setTimeout(callback, 1500);
    }
  }

  // One IntersectionObserver for every container still waiting; containers that leave the
  // page before coming into view are let go (unobserved) at the next run() (Turbo, PJAX).
  const waiting = new Set();
  let observer;
  function watch(element) {
    observer ||= new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (entry.isIntersecting && waiting.delete(entry.target)) {
            observer.unobserve(entry.target);
            load(entry.target);
          }
        }
        release();
      },
      { rootMargin: "200px" },
    );
    waiting.add(element);
    observer.observe(element);
  }

  function release() {
    for (const element of waiting) {
      if (!element.isConnected) {
        waiting.delete(element);
        observer.unobserve(element);
      }
    }
  }

  function init(element) {
    if (element.aw) {
      return;
    }
    const options = { ...scriptOptions, ...element.dataset };
    try {
      const page = key(options.page || location.href);
      const path = escapePercent(folder(page));
      const base = new URL(options.base || ".", scriptUrl);
      const url = new URL("threads/" + (path && path + "/") + "comments.html", base);
      element.aw = { options, page, base, url };
    } catch (error) {
      element.aw = {};
      console.warn(error);
      return;
    }
    const included = find(".afterword-thread", element);
    if (included) {
      loadStylesheet(options);
      setup(element, included);
      return;
    }
    // Room for the thread until it arrives, unless the page reserved its own.
    if (!element.style.minHeight) {
      element.aw.reserved = true;
      element.style.minHeight = "10em";
    }
    // Already in view (or linked to): fetch now rather than a frame later from the observer.
    const box = element.getBoundingClientRect();
    if (LINKED.test(location.hash) || (box.top < innerHeight + 200 && box.bottom > -200)) {
      load(element);
    } else {
      watch(element);
    }
  }

  async function fetchThread(url) {
    const response = await fetch(url, FETCH_OPTIONS);
    if (!response.ok) {
      throw response;
    }
    const template = doc.createElement("template");
    template.innerHTML = await response.text();
    return find(".afterword-thread", template.content) || badKey();
  }

  // No thread by the published counts: the empty form at once, never a 404 for the thread.
  // Counts that cannot be read (a 5xx) leave it unknown: ask for the thread as before.
  async function fetchPage(state) {
    const known = await count(state.page, state.base).catch(() => undefined);
    if (!(known < 0)) {
      try {
        return await fetchThread(state.url);
      } catch (response) {
        if (!isMissing(response)) {
          throw response;
        }
      }
    }
    return fetchThread(new URL("empty.html", state.base));
  }

  async function load(element) {
    const state = element.aw;
    element.setAttribute("aria-busy", "true");
    try {
      const [section] = await Promise.all([fetchPage(state), loadStylesheet(state.options)]);
      element.replaceChildren(section);
      if (state.reserved) {
        element.style.minHeight = "";
      }
      setup(element, section);
      // A link to a comment (perhaps on a later part, which the second module fetches).
      if (LINKED.test(location.hash)) {
        withModule(element);
      }
    } catch (error) {
      console.warn(error);
      const status = doc.createElement("p");
      status.className = "afterword-status";
      status.textContent = strings(state.options).load_error;
      element.replaceChildren(status);
    }
    element.removeAttribute("aria-busy");
  }

  function setup(element, section) {
    element.aw.section = section;
    section.addEventListener("click", (event) => {
      const control = event.target.closest(CONTROLS);
      if (control) {
        event.preventDefault();
        withModule(element, (module) => module.click(element, control));
      }
    });
    // The first focus in the thread (its form, a Reply button) brings the module at once.
    section.addEventListener("focusin", () => withModule(element), { once: true });
    whenIdle(() => withModule(element));
    // Enough for the form to post the plain way (no module yet, or none at all: blocked,
    // offline) and to look compact; the second module takes over posting once loaded.
    const form = find(".afterword-form", section);
    if (!form) {
      return;
    }
    const fields = form.elements;
    // empty.html's form belongs to no page until it is put on this one
    if (!fields.page.value) {
      fields.page.value = element.aw.page;
      fields.redirect.value = location.href.split("#")[0];
    }
    form.action = element.aw.options.intake || form.action;
    // The compact form: the stylesheet shows only the comment box while the form has no focus.
    if (!form.contains(doc.activeElement)) {
      form.classList.add("afterword-compact");
    }
  }

  // Hands the thread to the second module once (it draws identicons, makes dates relative,
  // shows pending comments, takes over the form), then runs `action`.
  function withModule(element, action = () => {}) {
    loadModule().then(
      (module) => {
        if (!element.aw.attached) {
          element.aw.attached = true;
          module.attach(element);
        }
        action(module);
      },
      (error) => console.warn(error),
    );
  }

  // Counts (docs/json-format.md): k's entry in the map in <stem>.json, or in its bucket
  // <stem>-<h>.json (h: FNV-1a of k mod 16 or 256, 1 or 2 hex digits); -1 when the map has
  // no entry for k, undefined when there is no map at all. Answers are kept a minute.
  const cache = new Map();
  function fetchCounts(url) {
    const name = url.href;
    if (!cache.has(name)) {
      const answer = fetch(url, FETCH_OPTIONS).then((response) => {
        if (response.ok) {
          return response.json();
        }
        return isMissing(response) ? {} : badKey();
      });
      cache.set(name, answer);
      answer.catch(() => cache.delete(name));
      setTimeout(() => cache.delete(name), COUNT_LIFETIME_MS);
    }
    return cache.get(name);
  }

  async function look(stem, pageKey) {
    let map = await fetchCounts(new URL(stem + ".json"));
    const buckets = map.buckets;
    if (buckets) {
      let hash = 0x811c9dc5;
      for (const byte of new TextEncoder().encode(pageKey)) {
        hash = Math.imul(hash ^ byte, 16777619) >>> 0;
      }
      const digits = ((hash % buckets) + buckets).toString(16).slice(1);
      map = await fetchCounts(new URL(stem + "-" + digits + ".json"));
    }
    return map.counts && (map.counts[pageKey] ?? -1);
  }

  // Comments on page k, -1 when it has no thread files: its folder is not in the folder index
  // (so has no count shard to ask for) or the shard does not list it. Undefined when there
  // is no index (output of an older build): then the thread is simply asked for.
  async function count(pageKey, base) {
    const parent = folder(pageKey).replace(/[^/]*$/, "");
    const listed = await look(new URL("comments-folders", base), parent);
    if (listed > 0) {
      return look(new URL("threads/" + escapePercent(parent) + "comments-counts", base), pageKey);
    }
    return listed;
  }

  async function fillCount(badge) {
    const options = { ...scriptOptions, ...badge.dataset };
    const n = await count(key(options.afterwordCount || location.href), new URL(options.base || ".", scriptUrl));
    const name = n > 1 ? "count_other" : n > 0 ? "count_one" : "count_zero";
    badge.textContent = strings(options)[name].replace("{n}", n);
  }

  // Safe to call any number of times, e.g. after each Turbo or PJAX navigation.
  function run() {
    release();
    findAll("[data-afterword]").forEach(init);
    for (const badge of findAll("[data-afterword-count]")) {
      fillCount(badge).catch((error) => console.warn(error));
    }
  }

  window.afterword = {
    key,
    folder,
    init,
    run,
    fetchThread,
    strings,
    find,
    findAll,
    get waiting() {
      return waiting.size;
    },
  };
  if (doc.readyState == "loading") {
    doc.addEventListener("DOMContentLoaded", run);
  } else {
    run();
  }
})();
