/* afterword widget, reader core: finds each thread, fetches and renders it, fills count
   badges. The form module (afterword-form.js) loads when the browser is idle or on the first
   focus of a form. Plain JS, no dependencies; the builder minifies it. See docs/embedding.md */
(() => {
  "use strict";

  // A second copy of the script (Turbo and PJAX re-run body scripts) only re-scans the page.
  if (window.afterword && window.afterword.run) {
    window.afterword.run();
    return;
  }

  const doc = document;
  const script = doc.currentScript;
  const scriptUrl = script ? script.src : location.href;
  const scriptOptions = script ? script.dataset : {};
  const FETCH_OPTIONS = { credentials: "omit" };
  const CONTROL_CHARS = /[\0-\x1f\x7f-\x9f]/;
  const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;
  const COUNT_LIFETIME_MS = 60000;
  const ENGLISH = {
    count_zero: "No comments",
    count_one: "1 comment",
    count_other: "{n} comments",
    load_error: "Comments could not be loaded.",
  };
  // Rewritten to the hashed names by afterword/widget/__init__.py when publishing.
  const STYLESHEET = "afterword.css";
  const FORM_MODULE = "afterword-form.js";

  function find(selector, root = doc) {
    return root.querySelector(selector);
  }

  function findAll(selector, root = doc) {
    return [...root.querySelectorAll(selector)];
  }

  function make(tag, className = "", text) {
    const element = doc.createElement(tag);
    element.className = className;
    if (text != null) {
      element.textContent = text;
    }
    return element;
  }

  function format(template, values) {
    return String(template).replace(/\{(\w+)\}/g, (whole, name) => values[name] ?? whole);
  }

  function percentHex(character) {
    return "%" + character.charCodeAt(0).toString(16).toUpperCase();
  }

  function badKey() {
    throw Error("afterword: bad page key");
  }

  function utf8(text) {
    return new TextEncoder().encode(text);
  }

  function parseJson(text) {
    return JSON.parse(text || "{}");
  }

  // Object keys hold a literal "%" (threads/caf%C3%A9): servers decode the request path.
  function escapePercent(path) {
    return path.replaceAll("%", "%25");
  }

  // S3 behind CloudFront answers 403 for a missing key unless the origin may list the bucket.
  function isMissing(response) {
    return response.status == 404 || response.status == 403;
  }

  // String.prototype.isWellFormed is Chrome 111+ / Safari 16.4+: older browsers test the same.
  function wellFormed(text) {
    return text.isWellFormed ? text.isWellFormed() : !LONE_SURROGATE.test(text);
  }

  // Page keys exactly as afterword/pagekey.py (tests/vectors/page_keys.json)
  function key(value) {
    if ([...value].length > 2048 || !wellFormed(value)) {
      badKey();
    }
    let text = value.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "");
    if (!text || CONTROL_CHARS.test(text)) {
      badKey();
    }
    const scheme = text.match(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//);
    if (scheme || text.startsWith("//")) {
      text = text.slice(scheme ? scheme[0].length : 2);
      const pathStart = text.search(/[/\\?#]/);
      text = pathStart < 0 ? "" : text.slice(pathStart);
    }
    const bytes = [];
    const pieces = text.split(/[?#]/)[0].replaceAll("\\", "/").split(/%([0-9A-Fa-f]{2})/);
    pieces.forEach((piece, index) => {
      if (index % 2) {
        bytes.push(parseInt(piece, 16));
      } else {
        bytes.push(...utf8(piece));
      }
    });
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(new Uint8Array(bytes));
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

  let stylesheet;
  function loadStylesheet(options) {
    if (options.css == "none" || find("link[href*=afterword]")) {
      return undefined;
    }
    if (!stylesheet) {
      stylesheet = new Promise((done) => {
        const link = make("link");
        link.rel = "stylesheet";
        link.href = new URL(options.css || STYLESHEET, scriptUrl);
        link.onload = done;
        link.onerror = done;
        doc.head.append(link);
      });
    }
    return stylesheet;
  }

  // The form module: one fetch per page, whichever comes first of idle time and a focus.
  let formModule;
  function loadModule() {
    if (!formModule) {
      formModule = new Promise((done, fail) => {
        const tag = make("script");
        tag.src = new URL(FORM_MODULE, scriptUrl);
        tag.onload = () => done(window.afterword.form);
        tag.onerror = () => {
          formModule = undefined;
          fail(Error("afterword: form module did not load"));
        };
        doc.head.append(tag);
      });
    }
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
  // page before coming into view are let go at the next run() (Turbo, PJAX).
  const waiting = new Set();
  let observer;
  function watch(element) {
    if (!observer) {
      observer = new IntersectionObserver(
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
    }
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
    if (!waiting.size && observer) {
      observer.disconnect();
      observer = undefined;
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
    element.aw.reserved = !element.style.minHeight;
    if (element.aw.reserved) {
      element.style.minHeight = "10em";
    }
    // Already in view (or linked to): fetch now rather than a frame later from the observer.
    const box = element.getBoundingClientRect();
    if (/^#c\d+$/.test(location.hash) || (box.top < innerHeight + 200 && box.bottom > -200)) {
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
    const template = make("template");
    template.innerHTML = await response.text();
    return find(".afterword-thread", template.content) || badKey();
  }

  // No thread by the published counts: the empty form at once, never a 404 for the thread.
  // Counts that cannot be read (a 5xx) leave it unknown: ask for the thread as before.
  async function fetchPage(state) {
    const empty = new URL("empty.html", state.base);
    const known = await count(state.page, state.base).catch(() => undefined);
    if (known < 0) {
      return fetchThread(empty);
    }
    try {
      return await fetchThread(state.url);
    } catch (response) {
      if (!isMissing(response)) {
        throw response;
      }
      return fetchThread(empty);
    }
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
      // A link to a comment on a later part: the second module fetches parts until it shows.
      const target = location.hash.slice(1);
      if (/^c\d+$/.test(target)) {
        withModule(element, (module) => module.seek(element, target));
      }
    } catch (error) {
      console.warn(error);
      const strings = { ...ENGLISH, ...parseJson(state.options.strings) };
      element.replaceChildren(make("p", "afterword-status", strings.load_error));
    }
    element.removeAttribute("aria-busy");
  }

  let instances = 0;
  function setup(element, section) {
    const state = element.aw;
    state.section = section;
    state.strings = { ...ENGLISH, ...parseJson(section.dataset.strings), ...parseJson(state.options.strings) };
    state.form = find(".afterword-form", section);
    instances += 1;
    state.instance = instances;
    decorate(section);
    section.addEventListener("click", (event) => {
      const control = event.target.closest("[data-reply-to],.afterword-more,.afterword-cancel,.afterword-retry");
      if (control) {
        event.preventDefault();
        withModule(element, (module) => module.click(element, control));
      }
    });
    if (state.form) {
      prepareForm(element, state.form);
    }
    whenIdle(() => withModule(element, () => {}));
  }

  // What the static markup leaves to the script: relative dates (identicons are drawn by the
  // second module, see afterword-form.js).
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
    time.title ||= absolute; // the fragment's own, localized by the builder, wins
    time.textContent = relative;
  }

  function prepareForm(element, form) {
    const fields = form.elements;
    // empty.html's form belongs to no page until it is put on this one
    if (!fields.page.value) {
      fields.page.value = element.aw.page;
      fields.redirect.value = location.href.split("#")[0];
    }
    if (element.aw.options.intake) {
      form.action = element.aw.options.intake;
    }
    // The compact form: the comment box alone until someone starts writing.
    const extra = find(".afterword-fields", form);
    if (extra && !form.contains(doc.activeElement)) {
      extra.hidden = true;
      form.classList.add("afterword-compact");
    }
    const open = () => {
      if (extra) {
        extra.hidden = false;
      }
      form.classList.remove("afterword-compact");
      form.removeEventListener("focusin", open);
      form.removeEventListener("pointerdown", open);
      withModule(element, () => {});
    };
    form.addEventListener("focusin", open);
    form.addEventListener("pointerdown", open);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      // Without the module (blocked, offline) the form is posted the plain way.
      withModule(element, (module) => module.submit(element), () => form.submit());
    });
  }

  // Hands the thread to the second module once (it shows pending comments, binds dates and
  // links), then runs `action`; `fallback` runs if the module cannot load.
  function withModule(element, action, fallback) {
    loadModule().then(
      (module) => {
        if (!element.aw.attached) {
          element.aw.attached = true;
          module.attach(element);
        }
        action(module);
      },
      (error) => {
        console.warn(error);
        fallback?.();
      },
    );
  }

  // Counts (docs/json-format.md): k's entry in the map in <stem>.json, or in its bucket
  // <stem>-<h>.json (h: FNV-1a of k mod 16 or 256, 1 or 2 hex digits); -1 when the map has
  // no entry for k, undefined when there is no map at all. Answers are kept a minute.
  const cache = new Map();
  function fetchCounts(url) {
    const now = Date.now();
    const kept = cache.get(url.href);
    if (kept && now - kept.time < COUNT_LIFETIME_MS) {
      return kept.answer;
    }
    const answer = fetch(url, FETCH_OPTIONS).then((response) => {
      if (response.ok) {
        return response.json();
      }
      return isMissing(response) ? {} : badKey();
    });
    answer.catch(() => cache.delete(url.href));
    cache.set(url.href, { time: now, answer });
    return answer;
  }

  async function look(stem, pageKey) {
    let map = await fetchCounts(new URL(stem + ".json"));
    const buckets = map.buckets;
    if (buckets) {
      let hash = 0x811c9dc5;
      for (const byte of utf8(pageKey)) {
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

  function fillCounts() {
    for (const badge of findAll("[data-afterword-count]")) {
      const options = { ...scriptOptions, ...badge.dataset };
      const strings = { ...ENGLISH, ...parseJson(options.strings) };
      try {
        count(key(options.afterwordCount || location.href), new URL(options.base || ".", scriptUrl)).then(
          (n) => {
            const name = n > 1 ? "count_other" : n > 0 ? "count_one" : "count_zero";
            badge.textContent = format(strings[name], { n });
          },
          (error) => console.warn(error),
        );
      } catch (error) {
        console.warn(error);
      }
    }
  }

  // Safe to call any number of times, e.g. after each Turbo or PJAX navigation.
  function run() {
    release();
    findAll("[data-afterword]").forEach(init);
    fillCounts();
  }

  window.afterword = {
    key,
    folder,
    init,
    run,
    decorate,
    fetchThread,
    loadModule,
    format,
    find,
    findAll,
    make,
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
