// The document viewer. pdf.js (npm `pdfjs-dist`, legacy build) draws each
// page on a canvas in the page itself: Chrome on Android shows no PDF in a
// frame and Safari on iPad only its first page, and opening the file in
// another app would leave a copy outside Gavel. Inlined into index.html by
// Trunk; the app calls `gavelPdf.open(...)` through wasm-bindgen.
//
// Old tablets: the PDF is read once into memory, only pages near the screen
// keep a canvas, and a canvas never exceeds what iOS allows (16.7 Mpx).
(function () {
  "use strict";
  // Trunk copies pdf.js here (index.html); the folder carries the version,
  // since the room tells browsers to keep every file but index.html for good.
  var BASE = "/pdfjs-4.10.38/";
  var MAX_PIXELS = 16000000;
  var lib = null;
  var worker = null;

  // pdf.js itself, loaded once; a failed load (offline) may be tried again.
  function load() {
    if (!lib) {
      lib = import(BASE + "pdf.min.mjs").then(function (m) {
        m.GlobalWorkerOptions.workerSrc = BASE + "pdf.worker.min.mjs";
        return m;
      });
      lib.catch(function () { lib = null; });
    }
    return lib;
  }

  // One worker for every document: starting pdf.js's 1.4 MB worker costs an
  // old tablet a noticeable pause, so it is started once.
  function sharedWorker(pdfjs) {
    if (!worker || worker.destroyed) { worker = new pdfjs.PDFWorker(); }
    return worker;
  }

  // Fetched soon after the app starts, so a tablet that goes offline before
  // anyone opened a document can still read the pack (the tablet agent keeps
  // what the browser fetched; a browser keeps it in its cache).
  function warm() {
    load().then(function () {
      return fetch(BASE + "pdf.worker.min.mjs", { credentials: "same-origin" });
    }).catch(function () {});
  }

  function errorOf(e) {
    if (e && e.code) { return e; }
    var name = e && e.name;
    var code = name === "PasswordException" ? "pdf_password"
      : name === "InvalidPDFException" ? "pdf_invalid"
      : name === "AbortError" ? "aborted"
      : "pdf_unreadable";
    return { code: code, message: (e && e.message) || String(e) };
  }

  // The document's bytes, with progress, or the room's `{code, message}`.
  function fetchBytes(url, signal, progress) {
    return fetch(url, { credentials: "same-origin", signal: signal }).then(function (r) {
      if (!r.ok) {
        return r.text().then(function (t) {
          var body = null;
          try { body = JSON.parse(t); } catch (_) { /* not the room's JSON */ }
          throw {
            code: (body && body.code) || (r.status === 503 ? "offline" : "network"),
            message: (body && body.message) || "HTTP " + r.status
          };
        });
      }
      var total = Number(r.headers.get("content-length")) || 0;
      if (!r.body || !r.body.getReader) { return r.arrayBuffer().then(function (b) { return new Uint8Array(b); }); }
      var reader = r.body.getReader();
      var parts = [];
      var got = 0;
      function next() {
        return reader.read().then(function (x) {
          if (x.done) {
            var all = new Uint8Array(got);
            var at = 0;
            parts.forEach(function (p) { all.set(p, at); at += p.length; });
            return all;
          }
          parts.push(x.value);
          got += x.value.length;
          progress(got, total);
          return next();
        });
      }
      return next();
    }, function (e) {
      throw e && e.name === "AbortError" ? e : { code: "offline", message: String(e) };
    });
  }

  // Shows the PDF at `url` in `root` (a scrolling element). `report` gets
  // JSON: {state: "loading", received, total} | {state: "ready", pages, page}
  // | {state: "error", code, message}. Returns {zoom(factor), close()}.
  function open(root, url, label, report) {
    var closed = false;
    var doc = null;
    var zoom = 1;
    var generation = 0;
    var pages = [];
    var observer = null;
    var current = 0;
    var abort = typeof AbortController === "function" ? new AbortController() : null;
    function say(o) { if (!closed) { report(JSON.stringify(o)); } }

    function release(p) {
      if (p.task) { p.task.cancel(); p.task = null; }
      if (p.canvas) { p.canvas.width = 0; p.canvas.height = 0; p.box.removeChild(p.canvas); p.canvas = null; }
      p.want = -1;
      p.drawn = -1;
    }

    // Draws page `p` for the current size and zoom, unless it is far from
    // the view or already drawn (or being drawn) so. The canvas it had stays
    // until the new one is ready.
    function draw(p) {
      if (closed || !p.near || p.drawn === generation || p.want === generation) { return; }
      if (p.task) { p.task.cancel(); p.task = null; }
      var want = generation;
      p.want = want;
      doc.getPage(p.number).then(function (page) {
        if (closed || !p.near || p.want !== want) { return; }
        var unit = page.getViewport({ scale: 1 });
        p.box.style.aspectRatio = unit.width + " / " + unit.height;
        var cssWidth = p.box.clientWidth || root.clientWidth || unit.width;
        var viewport = page.getViewport({ scale: cssWidth / unit.width });
        var ratio = Math.min(window.devicePixelRatio || 1, 2);
        ratio = Math.min(ratio, Math.sqrt(MAX_PIXELS / (viewport.width * viewport.height)));
        var canvas = document.createElement("canvas");
        canvas.width = Math.floor(viewport.width * ratio);
        canvas.height = Math.floor(viewport.height * ratio);
        var task = page.render({
          canvasContext: canvas.getContext("2d", { alpha: false }),
          viewport: viewport,
          transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null
        });
        p.task = task;
        task.promise.then(function () {
          if (p.task === task) { p.task = null; }
          if (closed || !p.near || p.want !== want) { canvas.width = 0; return; }
          if (p.canvas) { p.canvas.width = 0; p.box.removeChild(p.canvas); }
          p.canvas = canvas;
          p.drawn = want;
          p.box.appendChild(canvas);
          p.box.setAttribute("data-drawn", "1");
        }, function () {
          if (p.task === task) { p.task = null; }
          if (p.want === want) { p.want = -1; }
          canvas.width = 0;
        });
      }).catch(function (e) {
        if (p.want === want) { p.want = -1; }
        if (!closed) { p.box.setAttribute("data-failed", errorOf(e).message); }
      });
    }

    function track() {
      var middle = root.scrollTop + root.clientHeight / 3;
      var seen = 1;
      for (var i = 0; i < pages.length; i++) {
        if (pages[i].box.offsetTop <= middle) { seen = i + 1; } else { break; }
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
    var resizing = null;
    function onResize() {
      window.clearTimeout(resizing);
      resizing = window.setTimeout(function () { if (!closed) { redrawAll(); } }, 200);
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
        pages.push({ number: n, box: box, canvas: null, task: null, want: -1, drawn: -1, near: false });
      }
      // Pages within a screen of the view are drawn; the others give their
      // canvas back.
      observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          var p = pages[Number(entry.target.getAttribute("data-page")) - 1];
          p.near = entry.isIntersecting;
          if (p.near) { draw(p); } else { release(p); }
        });
      }, { root: root, rootMargin: "100% 0px" });
      pages.forEach(function (p) { observer.observe(p.box); });
      root.addEventListener("scroll", onScroll, { passive: true });
      window.addEventListener("resize", onResize);
      track();
    }

    say({ state: "loading", received: 0, total: 0 });
    fetchBytes(url, abort && abort.signal, function (got, total) {
      say({ state: "loading", received: got, total: total });
    }).then(function (bytes) {
      return load().then(function (pdfjs) {
        if (closed) { return null; }
        return pdfjs.getDocument({
          data: bytes,
          worker: sharedWorker(pdfjs),
          isEvalSupported: false,
          enableXfa: false,
          cMapUrl: BASE + "cmaps/",
          cMapPacked: true
        }).promise;
      });
    }).then(function (d) {
      if (!d) { return null; }
      if (closed) { d.destroy(); return null; }
      doc = d;
      return d.getPage(1).then(layout);
    }).catch(function (e) {
      var err = errorOf(e);
      if (!closed && err.code !== "aborted") { say({ state: "error", code: err.code, message: err.message }); }
    });

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
      close: function () {
        if (closed) { return; }
        closed = true;
        if (abort) { abort.abort(); }
        if (observer) { observer.disconnect(); }
        root.removeEventListener("scroll", onScroll);
        window.removeEventListener("resize", onResize);
        window.clearTimeout(resizing);
        pages.forEach(release);
        if (doc) { doc.destroy(); }
      }
    };
  }

  window.gavelPdf = { open: open };
  window.addEventListener("load", function () { window.setTimeout(warm, 2000); });
})();
