// The document viewer. pdf.js (npm `pdfjs-dist`, legacy build) draws each
// page on a canvas in the page itself: Chrome on Android shows no PDF in a
// frame and Safari on iPad only its first page, and opening the file in
// another app would leave a copy outside Gavel. Inlined into index.html by
// Trunk; the app calls `gavelPdf.open(...)` through wasm-bindgen.
//
// Weak Wi-Fi: the document is asked for in pieces (HTTP ranges, which the
// room and the tablet agent both answer), so page 1 is drawn from the few
// pieces it needs, not after the whole file; the rest follows in the
// background, and a document once opened is still held whole.
//
// Old tablets: only pages near the screen keep a canvas and their decoded
// images; a canvas never exceeds what iOS allows (16.7 Mpx). pdf.js 4.10 needs Chrome 103 or Safari 16.4: an older
// browser is told so, not shown a blank reader.
(function () {
  "use strict";
  // Trunk copies pdf.js here (index.html); the folder carries the version,
  // since the room tells browsers to keep every file but index.html for good.
  var BASE = "/pdfjs-4.10.38/";
  var FILES = [BASE + "pdf.min.mjs", BASE + "pdf.worker.min.mjs"];
  var MAX_PIXELS = 16000000;
  var lib = null;
  var worker = null;

  function fail(code, message) { return { code: code, message: message || "" }; }

  // Both files, read whole: a tablet on weak Wi-Fi learns here, with a
  // sentence, that they did not come, and they are then in the browser's
  // cache (and the tablet agent's) for when the room is away. pdf.js itself
  // would remember a failed module or worker until the page is reloaded.
  function fetchFiles() {
    return Promise.all(FILES.map(function (f) {
      return fetch(f, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) { throw fail(r.status === 503 ? "offline" : "network", "HTTP " + r.status + " " + f); }
        return r.arrayBuffer();
      }, function (e) { throw fail("offline", String(e)); });
    }));
  }

  // pdf.js, loaded once; a failed load is tried again at the next document.
  function load() {
    if (!lib) {
      lib = fetchFiles().then(function () {
        return import(FILES[0]).catch(function (e) {
          // A module this browser cannot parse: too old for pdf.js.
          throw fail(e && e.name === "SyntaxError" ? "viewer_too_old" : "viewer_failed", String(e));
        });
      }).then(function (m) {
        m.GlobalWorkerOptions.workerSrc = FILES[1];
        return m;
      });
      lib.catch(function () { lib = null; });
    }
    return lib;
  }

  // One worker for every document: starting pdf.js's 1.4 MB worker costs an
  // old tablet a noticeable pause. One that failed to start is not reused.
  function sharedWorker(pdfjs) {
    if (!worker || worker.destroyed) {
      var w = new pdfjs.PDFWorker();
      w.promise.catch(function () { if (worker === w) { worker = null; } });
      worker = w;
    }
    return worker;
  }

  // Fetched soon after the app starts (not run), so a tablet that goes
  // offline before anyone opened a document can still read the pack.
  function warm() { fetchFiles().catch(function () {}); }

  function errorOf(e) {
    if (e && typeof e.code === "string") { return e; }
    var name = e && e.name;
    var code = name === "PasswordException" ? "pdf_password"
      : name === "InvalidPDFException" ? "pdf_invalid"
      : name === "AbortError" ? "aborted"
      : "pdf_unreadable";
    return fail(code, (e && e.message) || String(e));
  }

  // The size of the pieces pdf.js asks for.
  var PIECE = 262144;

  function lost(e) { throw e && e.name === "AbortError" ? e : fail("offline", String(e)); }

  // Throws the room's `{code, message}` for a refused request.
  function refused(r) {
    return r.text().then(function (t) {
      var body = null;
      try { body = JSON.parse(t); } catch (_) { /* not the room's JSON */ }
      if (body && typeof body.code === "string") { throw fail(body.code, body.message); }
      throw fail(r.status === 503 ? "offline" : "network", "HTTP " + r.status);
    }, lost);
  }

  // Bytes `begin` to `end` (excluded) of the document, or the room's
  // refusal; `etag` (the first answer's) makes sure every piece comes from
  // the same file. `whole` is set when the answer is the whole file (a
  // server that ignores ranges).
  function fetchRange(url, signal, begin, end, etag) {
    var headers = { Range: "bytes=" + begin + "-" + (end - 1) };
    if (etag) { headers["If-Range"] = etag; }
    return fetch(url, { credentials: "same-origin", signal: signal, headers: headers }).then(function (r) {
      if (!r.ok) { return refused(r); }
      var whole = r.status !== 206;
      var size = /\/(\d+)$/.exec(r.headers.get("content-range") || "");
      if (!whole && !size) { throw fail("network", "a piece of the document came without the document's length"); }
      return r.arrayBuffer().then(function (b) {
        var bytes = new Uint8Array(b);
        return { bytes: bytes, whole: whole, size: whole ? bytes.length : Number(size[1]), etag: r.headers.get("etag") };
      }, lost);
    }, lost);
  }

  // What pdf.js reads the document from: its first piece and the size from
  // the first answer, then the pieces pdf.js asks for (pdf.js never asks
  // again for a piece it asked for, so each is answered). `progress(received,
  // size)` is told of each piece. A piece lost to the network is asked for
  // again until Wi-Fi comes back or the reader is closed; a refusal is told
  // to `failed(error)`.
  function rangeSource(pdfjs, url, signal, first, progress, failed) {
    if (first.whole || first.bytes.length >= first.size) { return { data: first.bytes }; }
    var transport = new pdfjs.PDFDataRangeTransport(first.size, first.bytes);
    var received = first.bytes.length;
    transport.requestDataRange = function (begin, end) {
      var wait = 1000;
      function ask() {
        fetchRange(url, signal, begin, end, first.etag).then(function (piece) {
          if (piece.whole) { throw fail("network", "the document changed while it was being read"); }
          received += piece.bytes.length;
          progress(received, first.size);
          transport.onDataRange(begin, piece.bytes);
        }).catch(function (e) {
          if (e && e.name === "AbortError") { return; }
          var err = errorOf(e);
          if (err.code !== "offline") { failed(err); return; }
          window.setTimeout(ask, wait);
          wait = Math.min(wait * 2, 10000);
        });
      }
      ask();
    };
    return { range: transport, rangeChunkSize: PIECE, disableStream: true };
  }

  // Finding words. On a tablet, Vietnamese is often typed without its
  // marks: "ngan sach" finds "ngân sách", "NGÂN SÁCH" and "Ngân Sách". Each
  // character folds on its own (marks dropped, đ to d, lower case, any
  // space to one space), so a place in the folded text leads back to the
  // character it came from.
  function fold(s) {
    return s.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").replace(/[\u0111\u0110]/g, "d").toLowerCase().replace(/\s/g, " ");
  }

  // The words of a query as a pattern over folded text: any run of spaces
  // between them matches any run of spaces.
  function pattern(query) {
    var words = fold(query).split(" ").filter(function (w) { return w.length > 0; });
    if (!words.length) { return null; }
    return new RegExp(words.map(function (w) { return w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }).join(" +"), "g");
  }

  // A page's text, folded: `text`; for each item of pdf.js's text content
  // (a piece of text drawn at one place) where it starts in `text`
  // (`starts`) and where each of its characters ends (a line's end adds a
  // space). An item keeps its string and where it is drawn, no more.
  function foldPage(content) {
    var parts = [];
    var items = [];
    var starts = [];
    var at = 0;
    content.items.forEach(function (it) {
      if (typeof it.str !== "string") { return; }
      var ends = new Int32Array(it.str.length);
      var f = "";
      for (var i = 0; i < it.str.length; i++) { f += fold(it.str[i]); ends[i] = at + f.length; }
      var style = content.styles && content.styles[it.fontName];
      items.push({ str: it.str, transform: it.transform.slice(0, 6), width: it.width, family: (style && style.fontFamily) || "sans-serif", ends: ends });
      starts.push(at);
      parts.push(f);
      at += f.length;
      if (it.hasEOL) { parts.push(" "); at += 1; }
    });
    return { text: parts.join(""), items: items, starts: Int32Array.from(starts) };
  }

  // How far into an item's drawn width its first `k` characters reach: the
  // item's width shared as a font of its family would share it (pdf.js
  // gives each piece of text with its width, not each character's).
  var measurer = null;
  function reach(it, k) {
    if (k <= 0) { return 0; }
    if (k >= it.str.length) { return it.width; }
    if (!measurer) { measurer = document.createElement("canvas").getContext("2d"); }
    measurer.font = "100px " + it.family;
    var whole = measurer.measureText(it.str).width;
    if (!whole) { return it.width * k / it.str.length; }
    return it.width * measurer.measureText(it.str.slice(0, k)).width / whole;
  }

  // The boxes covering folded characters `from` to `to` (excluded) of a
  // page, as fractions of the page (so they stay right at any zoom). Only
  // the items the match runs over are looked at.
  function boxesOf(folded, from, to, unit) {
    var boxes = [];
    // The last item that starts at or before `from`.
    var lo = 0, hi = folded.starts.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (folded.starts[mid] <= from) { lo = mid + 1; } else { hi = mid; }
    }
    for (var k = Math.max(0, lo - 1); k < folded.items.length && folded.starts[k] < to; k++) {
      var it = folded.items[k];
      var first = -1;
      var last = -1;
      for (var i = 0; i < it.str.length; i++) {
        var begin = i ? it.ends[i - 1] : folded.starts[k];
        if (begin < to && it.ends[i] > from) {
          if (first < 0) { first = i; }
          last = i + 1;
        }
      }
      if (first < 0) { continue; }
      var t = it.transform;
      var ux = t[0], uy = t[1], vx = t[2], vy = t[3];
      var along = Math.hypot(ux, uy) || 1;
      var up = Math.hypot(vx, vy) || 1;
      ux /= along; uy /= along; vx /= up; vy /= up;
      var x0 = reach(it, first), x1 = reach(it, last);
      var xs = [], ys = [];
      [[x0, -0.25 * up], [x1, -0.25 * up], [x0, up], [x1, up]].forEach(function (c) {
        var p = unit.convertToViewportPoint(t[4] + ux * c[0] + vx * c[1], t[5] + uy * c[0] + vy * c[1]);
        xs.push(p[0]); ys.push(p[1]);
      });
      var left = Math.min.apply(null, xs), top = Math.min.apply(null, ys);
      boxes.push({
        left: left / unit.width, top: top / unit.height,
        width: (Math.max.apply(null, xs) - left) / unit.width, height: (Math.max.apply(null, ys) - top) / unit.height
      });
    }
    return boxes;
  }

  // Shows the PDF at `url` in `root` (a scrolling element). `report` gets
  // JSON: {state: "loading", received, total} | {state: "ready", pages, page}
  // | {state: "error", code, message}; never after `close()`. `found` gets
  // JSON about finding words: {state: "searching", page, pages} |
  // {state: "found", total, index, page, done} (`done`: every page was
  // searched) | {state: "none", text, unreadable} (`text`: whether the
  // document has any; `unreadable`: no page's text could be read) |
  // {state: "idle"}. Returns {zoom(factor),
  // goTo(page), find(query), step(by), close()}.
  function open(root, url, label, report, found) {
    var closed = false;
    var task = null;
    var doc = null;
    var zoom = 1;
    var generation = 0;
    var asks = 0;
    var pages = [];
    var observer = null;
    var sizes = null;
    var width = 0;
    var current = 0;
    var shownPercent = -1;
    var abort = typeof AbortController === "function" ? new AbortController() : null;
    // An error stays: a page drawn or scrolled to later does not hide it.
    var broken = false;
    // Finding: each page's folded text once read, the matches of the last
    // query in page order ({page, boxes, marks}: marks are made when their
    // page comes near the view), the one shown, and which search is
    // current.
    var texts = [];
    var matches = [];
    var shownMatch = -1;
    var searches = 0;
    function tell(o) { if (!closed) { found(JSON.stringify(o)); } }
    function say(o) {
      if (closed || broken) { return; }
      broken = o.state === "error";
      report(JSON.stringify(o));
    }
    function quietly(promise) { if (promise && promise.catch) { promise.catch(function () {}); } }

    // Gives back a page's canvas and what pdf.js decoded for it (a scanned
    // page's image is megabytes), and forgets any drawing under way.
    function release(p) {
      p.ask = ++asks;
      p.drawing = -1;
      p.drawn = -1;
      if (p.task) { p.task.cancel(); p.task = null; }
      if (p.canvas) { p.canvas.width = 0; p.canvas.height = 0; p.box.removeChild(p.canvas); p.canvas = null; }
      p.box.removeAttribute("data-drawn");
      if (p.page) { p.page.cleanup(); }
    }

    // Draws page `p` for the current width and zoom, unless it is far from
    // the view or already drawn (or being drawn) so. The canvas it had stays
    // until the new one is ready.
    function draw(p) {
      if (closed || !p.near || !root.clientWidth || p.drawn === generation || p.drawing === generation) { return; }
      if (p.task) { p.task.cancel(); p.task = null; }
      var ask = ++asks;
      var gen = generation;
      p.ask = ask;
      p.drawing = gen;
      doc.getPage(p.number).then(function (page) {
        if (closed || p.ask !== ask) { return; }
        p.page = page;
        var unit = page.getViewport({ scale: 1 });
        p.box.style.aspectRatio = unit.width + " / " + unit.height;
        var cssWidth = p.box.clientWidth || root.clientWidth;
        var viewport = page.getViewport({ scale: cssWidth / unit.width });
        var ratio = Math.min(window.devicePixelRatio || 1, 2);
        ratio = Math.min(ratio, Math.sqrt(MAX_PIXELS / (viewport.width * viewport.height)));
        var canvas = document.createElement("canvas");
        canvas.width = Math.floor(viewport.width * ratio);
        canvas.height = Math.floor(viewport.height * ratio);
        var rendering = page.render({
          canvasContext: canvas.getContext("2d", { alpha: false }),
          viewport: viewport,
          transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null
        });
        p.task = rendering;
        rendering.promise.then(function () {
          if (p.task === rendering) { p.task = null; }
          if (closed || p.ask !== ask) { canvas.width = 0; return; }
          if (p.canvas) { p.canvas.width = 0; p.box.removeChild(p.canvas); }
          p.canvas = canvas;
          p.drawn = gen;
          p.drawing = -1;
          p.box.appendChild(canvas);
          p.box.setAttribute("data-drawn", "1");
        }, function () {
          if (p.task === rendering) { p.task = null; }
          if (p.ask === ask) { p.drawing = -1; }
          canvas.width = 0;
          if (!p.near && p.page) { p.page.cleanup(); }
        });
      }).catch(function (e) {
        if (p.ask === ask) { p.drawing = -1; }
        if (!closed) { p.box.setAttribute("data-failed", errorOf(e).message); }
      });
    }

    // The page being read: the last one whose top is above the upper third
    // of the reader (measured against the reader itself, wherever it sits).
    function track() {
      var line = root.getBoundingClientRect().top + root.clientHeight / 3;
      var seen = 1;
      for (var i = 0; i < pages.length; i++) {
        if (pages[i].box.getBoundingClientRect().top <= line) { seen = i + 1; } else { break; }
      }
      if (seen !== current) {
        current = seen;
        say({ state: "ready", pages: pages.length, page: current });
      }
    }
    var tracking = false;
    function onScroll() {
      if (tracking) { return; }
      tracking = true;
      window.requestAnimationFrame(function () { tracking = false; if (!closed) { track(); } });
    }

    function redrawAll() {
      generation += 1;
      pages.forEach(draw);
    }

    function layout(first) {
      var unit = first.getViewport({ scale: 1 });
      root.textContent = "";
      for (var n = 1; n <= doc.numPages; n++) {
        var box = document.createElement("div");
        box.className = "pdf-page";
        box.setAttribute("data-page", String(n));
        box.setAttribute("role", "img");
        box.setAttribute("aria-label", label + " " + n);
        box.style.aspectRatio = unit.width + " / " + unit.height;
        root.appendChild(box);
        pages.push({ number: n, box: box, page: null, canvas: null, task: null, ask: 0, drawing: -1, drawn: -1, near: false });
      }
      // Pages within a screen of the view are drawn; the others give their
      // canvas back.
      observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          var p = pages[Number(entry.target.getAttribute("data-page")) - 1];
          p.near = entry.isIntersecting;
          if (p.near) { draw(p); placeMarks(p.number); } else { release(p); }
        });
      }, { root: root, rootMargin: "100% 0px" });
      pages.forEach(function (p) { observer.observe(p.box); });
      root.addEventListener("scroll", onScroll, { passive: true });
      // Drawn again only when the reader's width changes (turning the
      // tablet), not at every resize of the window (Android's address bar).
      width = root.clientWidth;
      if (typeof ResizeObserver === "function") {
        sizes = new ResizeObserver(function () {
          if (closed || root.clientWidth === width) { return; }
          width = root.clientWidth;
          redrawAll();
        });
        sizes.observe(root);
      }
      track();
    }

    // Until page 1 is drawn, how much of the document has come.
    function loading(got, total) {
      if (doc) { return; }
      var percent = total ? Math.min(100, Math.floor(got * 100 / total)) : 0;
      if (percent !== shownPercent) {
        shownPercent = percent;
        say({ state: "loading", received: got, total: total });
      }
    }
    var signal = abort && abort.signal;
    say({ state: "loading", received: 0, total: 0 });
    fetchRange(url, signal, 0, PIECE, null).then(function (first) {
      loading(first.bytes.length, first.size);
      return load().then(function (pdfjs) {
        if (closed) { return null; }
        var source = rangeSource(pdfjs, url, signal, first, loading, function (err) {
          say({ state: "error", code: err.code, message: err.message });
        });
        source.worker = sharedWorker(pdfjs);
        source.isEvalSupported = false;
        source.enableXfa = false;
        source.cMapUrl = BASE + "cmaps/";
        source.cMapPacked = true;
        task = pdfjs.getDocument(source);
        return task.promise;
      });
    }).then(function (d) {
      if (!d) { return null; }
      if (closed) { quietly(d.destroy()); return null; }
      doc = d;
      return d.getPage(1).then(function (first) { if (!closed) { layout(first); } });
    }).catch(function (e) {
      var err = errorOf(e);
      if (err.code === "pdf_unreadable" && worker === null) { err = fail("viewer_failed", err.message); }
      if (!closed && err.code !== "aborted") { say({ state: "error", code: err.code, message: err.message }); }
    });

    // Scrolls the reader (not the page around it) so that `el`'s top sits
    // at `where` (a fraction of the reader's height); `across`: and so that
    // it is in view across, if the page is zoomed wider than the reader.
    function reveal(el, where, across) {
      var r = root.getBoundingClientRect();
      var e = el.getBoundingClientRect();
      root.scrollTop += e.top - r.top - root.clientHeight * where;
      if (across && (e.left < r.left || e.right > r.right)) {
        root.scrollLeft += e.left - r.left - Math.max(0, (root.clientWidth - e.width) / 2);
      }
    }

    function clearHits() {
      matches.forEach(function (m) {
        (m.marks || []).forEach(function (el) { if (el.parentNode) { el.parentNode.removeChild(el); } });
      });
      matches = [];
      shownMatch = -1;
    }

    // Marks the matches on page `n` (once).
    function placeMarks(n) {
      matches.forEach(function (m, i) {
        if (m.page !== n || m.marks) { return; }
        m.marks = m.boxes.map(function (b) {
          var el = document.createElement("div");
          el.className = i === shownMatch ? "pdf-hit current" : "pdf-hit";
          el.style.left = (b.left * 100) + "%";
          el.style.top = (b.top * 100) + "%";
          el.style.width = (b.width * 100) + "%";
          el.style.height = (b.height * 100) + "%";
          pages[n - 1].box.appendChild(el);
          return el;
        });
      });
    }

    var searchDone = false;
    function tellFound() {
      var m = matches[shownMatch];
      tell({ state: "found", total: matches.length, index: shownMatch + 1, page: m.page, done: searchDone });
    }

    function showMatch(i) {
      if (shownMatch >= 0 && matches[shownMatch] && matches[shownMatch].marks) {
        matches[shownMatch].marks.forEach(function (el) { el.classList.remove("current"); });
      }
      shownMatch = i;
      var m = matches[i];
      placeMarks(m.page);
      m.marks.forEach(function (el) { el.classList.add("current"); });
      if (m.marks.length) { reveal(m.marks[0], 0.4, true); } else { reveal(pages[m.page - 1].box, 0, false); }
      tellFound();
    }

    // Page `n`'s folded text, read from pdf.js once.
    function textOf(n) {
      if (texts[n]) { return Promise.resolve(texts[n]); }
      return doc.getPage(n).then(function (page) {
        return page.getTextContent().then(function (content) {
          var folded = foldPage(content);
          folded.unit = page.getViewport({ scale: 1 });
          texts[n] = folded;
          return folded;
        });
      });
    }

    // Searches every page, from the one being read to the end, then from
    // the start. The first match from the page being read on is shown as
    // soon as it is found (before the rest of a long document is read,
    // which on weak Wi-Fi takes a while); the count grows as pages are
    // searched. Pages already read are searched a few at a time, giving
    // the tablet back to its reader between them.
    function find(query) {
      var search = ++searches;
      clearHits();
      searchDone = false;
      var re = pattern(query || "");
      if (!re || !doc) { tell({ state: "idle" }); return; }
      var any = false;
      var failed = 0;
      var count = pages.length;
      var from = current || 1;
      var done = 0;
      // Matches on pages before `from` (searched last) go before the others.
      var wrapped = 0;
      function pageAt(k) { return ((from - 1 + k) % count) + 1; }
      function take(n, folded) {
        if (/\S/.test(folded.text)) { any = true; }
        re.lastIndex = 0;
        var found = [];
        var hit;
        while ((hit = re.exec(folded.text)) !== null) {
          found.push({ page: n, boxes: boxesOf(folded, hit.index, hit.index + hit[0].length, folded.unit), marks: null });
        }
        if (!found.length) { return; }
        if (n < from) {
          Array.prototype.splice.apply(matches, [wrapped, 0].concat(found));
          wrapped += found.length;
          if (shownMatch >= 0) { shownMatch += found.length; }
        } else {
          Array.prototype.push.apply(matches, found);
        }
        if (pages[n - 1].near) { placeMarks(n); }
        if (shownMatch < 0 && n >= from) { showMatch(matches.length - found.length); }
      }
      function finish() {
        searchDone = true;
        if (!matches.length) { tell({ state: "none", text: any, unreadable: !any && failed > 0 }); return; }
        // Nothing from the page being read on: round to the first.
        if (shownMatch < 0) { showMatch(0); } else { tellFound(); }
      }
      function next() {
        if (closed || search !== searches) { return; }
        var began = Date.now();
        // Pages already read: a few milliseconds' worth at a time.
        while (done < count && texts[pageAt(done)] && Date.now() - began < 12) {
          take(pageAt(done), texts[pageAt(done)]);
          done += 1;
        }
        if (done >= count) { finish(); return; }
        if (shownMatch < 0) { tell({ state: "searching", page: done + 1, pages: count }); } else { tellFound(); }
        if (texts[pageAt(done)]) { window.setTimeout(next, 0); return; }
        var n = pageAt(done);
        textOf(n).then(function (folded) {
          if (closed || search !== searches) { return; }
          take(n, folded);
        }, function () { failed += 1; }).then(function () {
          done += 1;
          window.setTimeout(next, 0);
        });
      }
      next();
    }

    return {
      zoom: function (factor) {
        if (closed || !doc) { return; }
        var next = Math.max(0.5, Math.min(4, zoom * factor));
        if (next === zoom) { return; }
        var at = root.scrollTop / Math.max(1, root.scrollHeight);
        zoom = next;
        root.style.setProperty("--pdf-zoom", String(zoom));
        root.scrollTop = at * root.scrollHeight;
        redrawAll();
      },
      goTo: function (n) {
        if (closed || !pages.length) { return; }
        var k = Math.max(1, Math.min(pages.length, Math.floor(n) || 1));
        reveal(pages[k - 1].box, 0, false);
      },
      find: function (query) { if (!closed) { find(query); } },
      step: function (by) {
        if (closed || !matches.length) { return; }
        var i = shownMatch < 0 ? 0 : shownMatch + by;
        showMatch(((i % matches.length) + matches.length) % matches.length);
      },
      close: function () {
        if (closed) { return; }
        closed = true;
        searches += 1;
        texts = [];
        if (abort) { abort.abort(); }
        if (observer) { observer.disconnect(); }
        if (sizes) { sizes.disconnect(); }
        root.removeEventListener("scroll", onScroll);
        pages.forEach(release);
        if (doc) { quietly(doc.destroy()); } else if (task) { quietly(task.destroy()); }
      }
    };
  }

  window.gavelPdf = { open: open };
  window.addEventListener("load", function () { window.setTimeout(warm, 2000); });
})();
