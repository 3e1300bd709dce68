// Search that works on any static host (kb/build/static_search.py).
//
// Served by the portal (it answers api/search with JSON), the search forms and
// search.html use the portal's /search. Anywhere else, search.html runs ?q= in the
// browser against the site's Pagefind bundles (site/pagefind/<shard>/, listed in
// site/pagefind/bundles.json) and the forms lead to search.html. Without JavaScript
// the forms go to the portal's /search.
(() => {
  "use strict";
  const script = document.currentScript;
  const root = new URL("../../", script.src); // static/js/ -> the site root
  const key = "portal-search:" + root.href;
  const MAX_CHARS = 256;
  const SHOWN = 10;
  const WEAK = 3; // fewer results: offer topics, helpful articles and "Ask us"

  async function servedByPortal() {
    try {
      const known = sessionStorage.getItem(key);
      if (known !== null) return known === "1";
    } catch (e) { /* storage may be off */ }
    let answer = false;
    if (location.protocol === "http:" || location.protocol === "https:") {
      try {
        const r = await fetch(new URL("api/search?limit=1&q=", root), {
          headers: { Accept: "application/json" },
        });
        answer = r.ok && (r.headers.get("content-type") || "").startsWith("application/json");
      } catch (e) {
        answer = false;
      }
    }
    try { sessionStorage.setItem(key, answer ? "1" : "0"); } catch (e) { /* ignore */ }
    return answer;
  }

  function go(page, q) {
    location.href = new URL(page + "?q=" + encodeURIComponent(q), root).href;
  }

  // the header and home page forms: the portal's /search, or search.html
  for (const form of document.querySelectorAll("form[data-static-search]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const q = (form.elements.namedItem("q").value || "").slice(0, MAX_CHARS);
      go((await servedByPortal()) ? "search" : "search.html", q);
    });
  }

  const page = document.getElementById("static-search-page");
  if (!page) return;
  const form = document.getElementById("static-search");
  const input = form.elements.namedItem("q");
  const status = document.getElementById("static-status");
  const list = document.getElementById("static-results");
  const fallback = document.getElementById("static-fallback");
  const ask = document.getElementById("static-ask");
  let pagefind = null;

  async function loadPagefind() {
    if (pagefind) return pagefind;
    const response = await fetch(new URL("pagefind/bundles.json", root));
    const { bundles } = await response.json();
    const base = (name) => new URL("pagefind/" + name + "/", root);
    const module = await import(new URL("pagefind.js", base(bundles[0])).href);
    await module.options({ basePath: base(bundles[0]).pathname, excerptLength: 24 });
    for (const name of bundles.slice(1)) {
      await module.mergeIndex(base(name).pathname);
    }
    pagefind = module;
    return module;
  }

  // Pagefind's excerpt as nodes: its text, with only <mark> kept (never parsed into
  // the page as HTML, so nothing in an article can become markup here)
  function excerptNodes(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const out = [];
    for (const node of template.content.childNodes) {
      if (node.nodeName === "MARK") {
        const mark = document.createElement("mark");
        mark.textContent = node.textContent;
        out.push(mark);
      } else {
        out.push(document.createTextNode(node.textContent));
      }
    }
    return out;
  }

  function show(results, q) {
    list.replaceChildren();
    for (const data of results) {
      const item = document.createElement("li");
      item.className = "hit";
      const heading = document.createElement("h2");
      const link = document.createElement("a");
      link.href = new URL(data.url.replace(/^\/+/, ""), root).href;
      link.textContent = (data.meta && data.meta.title) || data.url;
      heading.append(link);
      const text = document.createElement("p");
      text.className = "snippet";
      text.append(...excerptNodes(data.excerpt || ""));
      item.append(heading, text);
      list.append(item);
    }
    const weak = results.length < WEAK;
    fallback.hidden = !weak;
    if (weak) {
      const portal = page.dataset.portal || root.href;
      ask.href = new URL("request?text=" + encodeURIComponent(q), portal).href;
    }
  }

  async function run(q) {
    q = q.trim().slice(0, MAX_CHARS);
    input.value = q;
    history.replaceState(null, "", "?q=" + encodeURIComponent(q));
    if (!q) {
      status.textContent = "";
      list.replaceChildren();
      fallback.hidden = true;
      return;
    }
    status.textContent = "Searching…";
    try {
      const found = await (await loadPagefind()).search(q);
      const results = await Promise.all(found.results.slice(0, SHOWN).map((r) => r.data()));
      const total = found.results.length;
      status.textContent = total === 1 ? "1 article found." : total + " articles found.";
      show(results, q);
    } catch (e) {
      status.textContent = "Search is not available here right now.";
      show([], q);
    }
  }

  (async () => {
    const q = new URLSearchParams(location.search).get("q") || "";
    input.value = q;
    if (await servedByPortal()) {
      if (q) location.replace(new URL("search" + location.search, root).href);
      return; // the form goes to the portal's /search
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(input.value);
    });
    if (q) run(q);
  })();
})();
