/* afterword widget: plain JS, no dependencies, no build step. See docs/embedding.md */
(() => {
 "use strict";
 const D = document, ME = D.currentScript, SRC = ME ? ME.src : location.href,
  OPT = ME ? ME.dataset : {}, STORE = "afterword:pending", CTL = /[\0-\x1f\x7f-\x9f]/,
  $ = (s, r = D) => r.querySelector(s),
  $$ = (s, r = D) => [...r.querySelectorAll(s)],
  mk = (tag, cls = "", text) => {
   const e = D.createElement(tag);
   e.className = cls;
   if (text != null) e.textContent = text;
   return e;
  },
  button = (cls, text) => ((text = mk("button", cls, text)), (text.type = "button"), text),
  fmt = (s, o) => String(s).replace(/\{(\w+)\}/g, (m, k) => o[k] ?? m),
  hex = (c) => "%" + c.charCodeAt().toString(16).toUpperCase(),
  no = () => { throw Error("afterword: bad page key"); },
  U8 = (s) => new TextEncoder().encode(s),
  OMIT = { credentials: "omit" },
  // Object keys hold a literal "%" (threads/caf%C3%A9): servers decode the request path.
  P = (f) => f.replaceAll("%", "%25"),
  // S3 behind CloudFront answers 403 for a missing key unless the origin may list the bucket.
  gone = (r) => r.status == 404 || r.status == 403,
  json = (s) => JSON.parse(s || "{}"),
  EN = { count_zero: "No comments", count_one: "1 comment", count_other: "{n} comments", load_error: "Comments could not be loaded." };

 // Page keys exactly as afterword/pagekey.py (tests/vectors/page_keys.json)
 function key(v) {
  if ([...v].length > 2048 || !v.isWellFormed()) no();
  let t = v.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, ""), b = [], s = [];
  if (!t || CTL.test(t)) no();
  const m = t.match(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//);
  if (m || t.startsWith("//")) {
   t = t.slice(m ? m[0].length : 2);
   const i = t.search(/[/\\?#]/);
   t = i < 0 ? "" : t.slice(i);
  }
  t.split(/[?#]/)[0].replaceAll("\\", "/").split(/%([0-9A-Fa-f]{2})/)
   .forEach((p, i) => (i % 2 ? b.push(parseInt(p, 16)) : b.push(...U8(p))));
  t = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(new Uint8Array(b));
  if (CTL.test(t)) no();
  for (const g of t.normalize("NFC").split("/")) g == ".." ? s.pop() : g && g != "." && s.push(g);
  while (/^index\.html?$/.test(s.at(-1))) s.pop();
  const k = s.length ? "/" + s.map((g) => g.replace(/[%?#\\ ]/g, hex)).join("/") + (s.at(-1).includes(".") ? "" : "/") : "/";
  if ([...k].length > 1024) no();
  folder(k);
  return k;
 }

 function folder(k) {
  const p = k.split("/").filter(Boolean).map((g) => {
   g = encodeURIComponent(g).replace(/[!'()*]/g, hex);
   return /^(comments|feed)/.test(g) ? hex(g) + g.slice(1) : g;
  });
  if (p.some((g) => g.length > 255) || p.join("/").length > 900) no();
  return p.join("/");
 }

 // Sent comments wait here until published, 30 days at most
 function pending(list) {
  try {
   if (list) localStorage[STORE] = JSON.stringify(list);
   else return JSON.parse(localStorage[STORE] || "[]").filter((p) => Date.now() - p.t < 2592e6);
  } catch {
   return [];
  }
 }

 let sheet;
 function css(o) {
  if (o.css == "none" || $("link[href*=afterword]")) return;
  return (sheet ||= new Promise((done) => {
   const l = mk("link");
   l.rel = "stylesheet";
   l.href = new URL(o.css || "afterword.css", SRC);
   l.onload = l.onerror = done;
   D.head.append(l);
  }));
 }

 function init(el) {
  if (el.aw) return;
  const o = { ...OPT, ...el.dataset };
  try {
   const page = key(o.page || location.href), f = P(folder(page)), base = new URL(o.base || ".", SRC);
   el.aw = { o, page, base, url: new URL("threads/" + (f && f + "/") + "comments.html", base) };
  } catch (e) {
   return (el.aw = 1), console.warn(e);
  }
  const sec = $(".afterword-thread", el);
  if (sec) return css(o), setup(el, sec);
  el.style.minHeight ||= "10em";
  if (/^#c\d+$/.test(location.hash)) return load(el);
  const io = new IntersectionObserver((es) => es.at(-1).isIntersecting && (io.disconnect(), load(el)), { rootMargin: "200px" });
  io.observe(el);
 }

 async function get(url) {
  const r = await fetch(url, OMIT), t = mk("template");
  if (!r.ok) throw r;
  t.innerHTML = await r.text();
  return $(".afterword-thread", t.content) || no();
 }

 async function load(el) {
  const c = el.aw, id = location.hash.slice(1);
  el.setAttribute("aria-busy", "true");
  try {
   // No thread by the published counts: the empty form at once, never a 404 for the thread.
   // Counts that cannot be read (a 5xx) leave it unknown: ask for the thread as before.
   const empty = new URL("empty.html", c.base), [sec] = await Promise.all([count(c.page, c.base).catch(() => {}).then((n) => get(n < 0 ? empty : c.url).catch((r) => {
    if (!gone(r)) throw r;
    return get(empty);
   })), css(c.o)]);
   el.replaceChildren(sec);
   setup(el, sec);
   let t, a;
   while (/^c\d+$/.test(id) && !(t = D.getElementById(id)) && (a = $(".afterword-more", sec))) await more(el, a);
   if (t) t.classList.add("afterword-target"), t.scrollIntoView();
  } catch (e) {
   console.warn(e);
   el.replaceChildren(mk("p", "afterword-status", { ...EN, ...json(c.o.strings) }.load_error));
  }
  el.removeAttribute("aria-busy");
 }

 function setup(el, sec) {
  const c = el.aw, form = (c.form = $(".afterword-form", sec));
  c.sec = sec;
  c.S = { ...EN, ...json(sec.dataset.strings), ...json(c.o.strings) };
  sec.addEventListener("click", (e) => {
   const a = e.target.closest("[data-reply-to],.afterword-more,.afterword-cancel,.afterword-retry"), k = a?.className;
   if (!a) return;
   e.preventDefault();
   a.dataset.replyTo ? reply(c, a.dataset.replyTo) : /more/.test(k) ? more(el, a) : /cancel/.test(k) ? home(c) : submit(el);
  });
  if (form) {
   const f = form.elements;
   // empty.html's form belongs to no page until it is put on this one
   if (!f.page.value) (f.page.value = c.page), (f.redirect.value = location.href.split("#")[0]);
   form.before((c.home = D.createComment("afterword-form")));
   if (c.o.intake) form.action = c.o.intake;
   form.addEventListener("submit", (e) => (e.preventDefault(), submit(el)));
  }
  sync(el);
 }

 function sync(el) {
  const c = el.aw;
  pending(pending().filter((p) => {
   const li = $(`#c${p.id}[data-pending]`, c.sec);
   if (p.page != c.page) return 1;
   if ($(`[data-id="${p.id}"]`, c.sec)) return li?.remove(), 0;
   li || show(c, p);
   return 1;
  }));
 }

 function show(c, p) {
  const li = mk("li", "afterword-comment afterword-pending"), head = mk("header"), body = mk("div", "afterword-body"),
   parent = p.parent && D.getElementById("c" + p.parent), art = mk("article");
  let ol = parent ? $(":scope>.afterword-replies", parent) : $(".afterword-comments", c.sec);
  li.id = "c" + p.id;
  li.dataset.pending = li.tabIndex = -1;
  body.innerHTML = p.html;
  head.append(mk("b", "afterword-author", p.author), " ", mk("span", "afterword-badge", c.S[p.status == "approved" ? "approved" : "pending"]));
  art.append(head, body);
  li.append(art);
  if (!ol) {
   ol = mk("ol", parent ? "afterword-replies" : "afterword-comments");
   const ref = parent || $(":scope>.afterword-more", c.sec) || c.home;
   parent ? parent.append(ol) : ref ? ref.before(ol) : c.sec.append(ol);
  }
  ol.append(li);
  return li;
 }

 async function more(el, a) {
  const c = el.aw, had = D.activeElement == a;
  a.setAttribute("aria-busy", "true");
  try {
   const part = await get(new URL(a.getAttribute("href"), c.url)), ol = $(".afterword-comments", c.sec),
    lis = $$(":scope>.afterword-comments>li", part), next = $(".afterword-more", part), first = $(":scope>[data-pending]", ol);
   first ? first.before(...lis) : ol.append(...lis);
   next ? a.replaceWith(next) : a.remove();
   sync(el);
   if (had && lis[0]) (lis[0].tabIndex = -1), lis[0].focus();
  } catch {
   a.removeAttribute("aria-busy");
   a.textContent = c.S.load_error;
  }
 }

 function reply(c, id) {
  const art = $(`#c${id}>article`, c.sec), f = c.form;
  if (!f || !art) return;
  art.after(f);
  f.elements.parent.value = id;
  $(".afterword-cancel", f) || $("[type=submit]", f).after(" ", button("afterword-cancel", c.S.cancel));
  f.elements.body.focus();
 }

 function home(c) {
  c.home.after(c.form);
  c.form.elements.parent.value = "";
  $(".afterword-cancel", c.form)?.remove();
 }

 function say(c, text, retry) {
  const st = $(".afterword-status", c.form);
  st.textContent = text;
  $(".afterword-retry", c.form)?.remove();
  if (retry) st.after((retry = button("afterword-retry", c.S.retry))), retry.focus();
 }

 async function submit(el) {
  const c = el.aw, f = c.form, S = c.S, btn = $("[type=submit]", f), data = Object.fromEntries(new FormData(f));
  let r, j, e, first;
  $$(".afterword-error", f).forEach((x) => x.remove());
  $$("[aria-invalid]", f).forEach((x) => x.removeAttribute("aria-invalid"));
  btn.disabled = 1;
  say(c, S.sending);
  try {
   r = await fetch(f.action, { ...OMIT, method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
   j = await r.json().catch(() => ({}));
  } catch {}
  btn.disabled = 0;
  if (!r) return say(c, S.network, 1);
  if ((e = j.data)) {
   pending([...pending(), (e = { ...e, page: c.page, t: Date.now() })]);
   f.elements.body.value = "";
   home(c);
   say(c, S.thanks);
   return show(c, e).focus();
  }
  e = j.error || {};
  say(c, r.status == 429 ? fmt(S.rate, { s: parseInt(r.headers.get("Retry-After")) || 60 }) : fmt(S.failed, { message: e.message || r.status }));
  // Each field's error joins its label: shown beside the field, read with its name.
  for (const [n, m] of Object.entries(e.fields || {})) {
   const input = f.elements[n], label = input?.labels?.[0];
   if (!label) continue;
   label.append(mk("span", "afterword-error", " " + m));
   input.setAttribute("aria-invalid", "true");
   first ||= input;
  }
  first?.focus();
 }

 // Counts (docs/json-format.md): k's entry in the map in <stem>.json, or in its bucket
 // <stem>-<h>.json (h: FNV-1a of k mod 16 or 256, 1 or 2 hex digits); -1 when the map has
 // no entry for k, undefined when there is no map at all.
 const heads = {}, getj = (u) => (heads[u] ||= fetch(u, OMIT).then((r) => (r.ok ? r.json() : gone(r) ? {} : no())));
 async function look(stem, k) {
  let h = await getj(stem + ".json"), x = 0x811c9dc5, n = h.buckets;
  if (n) {
   for (const b of U8(k)) x = Math.imul(x ^ b, 16777619) >>> 0;
   h = await getj(stem + "-" + ((x % n) + n).toString(16).slice(1) + ".json");
  }
  return h.counts && (h.counts[k] ?? -1);
 }

 // Comments on page k, -1 when it has no thread files: its folder is not in the folder index
 // (so has no count shard to ask for) or the shard does not list it. Undefined when there
 // is no index (output of an older build): then the thread is simply asked for.
 async function count(k, base) {
  const F = folder(k).replace(/[^/]*$/, ""), n = await look(new URL("comments-folders", base), F);
  return n > 0 ? look(new URL("threads/" + P(F) + "comments-counts", base), k) : n;
 }

 function counts() {
  $$("[data-afterword-count]").forEach(async (e) => {
   const o = { ...OPT, ...e.dataset };
   try {
    const n = await count(key(o.afterwordCount || location.href), new URL(o.base || ".", SRC));
    e.textContent = fmt({ ...EN, ...json(o.strings) }[n > 1 ? "count_other" : n > 0 ? "count_one" : "count_zero"], { n });
   } catch (x) {
    console.warn(x);
   }
  });
 }

 function run() {
  $$("[data-afterword]").forEach(init);
  counts();
 }
 window.afterword = { key, folder, init, run };
 D.readyState == "loading" ? D.addEventListener("DOMContentLoaded", run) : run();
})();
