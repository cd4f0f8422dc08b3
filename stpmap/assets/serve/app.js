/* stpmap serve: the footprint map with a search box for a postcode or a
 * footprint (by any name, abbreviation or code: the server's resolver reads it,
 * as every stpmap tool does, and says how it matched it).
 * Every piece of text from the server goes into the page through textContent
 * (never innerHTML), tooltips included. No basemap tiles: works offline. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("stpmap-config").textContent);
  var els = {
    form: document.getElementById("search"),
    input: document.getElementById("postcode"),
    vintage: document.getElementById("vintage"),
    status: document.getElementById("status"),
    result: document.getElementById("result"),
    resultTitle: document.getElementById("result-title"),
    resultFields: document.getElementById("result-fields"),
    footprint: document.getElementById("footprint"),
    footprintTitle: document.getElementById("footprint-title"),
    footprintFields: document.getElementById("footprint-fields"),
    footprintCcgs: document.getElementById("footprint-ccgs"),
    attribution: document.getElementById("attribution")
  };
  els.attribution.textContent = config.attribution;

  var BASE = { color: "#005eb8", weight: 1, opacity: 0.9, fillColor: "#41b6e6", fillOpacity: 0.25 };
  var HOVER = { weight: 2.5 };
  var HIGHLIGHT = { color: "#231f20", weight: 3, fillColor: "#ffb81c", fillOpacity: 0.7 };

  var map = L.map("map", { preferCanvas: false, zoomSnap: 0.25 });
  map.attributionControl.setPrefix(false);
  var layers = {};          // footprint code -> Leaflet layer
  var names = {};           // footprint code -> name
  var highlighted = null;   // code
  var marker = null;
  var geoLayer = null;
  var vintage = String(config.vintage);
  var requestId = 0;

  config.vintages.forEach(function (v) {
    var opt = document.createElement("option");
    opt.value = String(v);
    opt.textContent = String(v);
    if (String(v) === vintage) { opt.selected = true; }
    els.vintage.appendChild(opt);
  });

  function setStatus(text, isError) {
    els.status.textContent = text;
    els.status.className = isError ? "error" : "";
  }

  function fmt(value) {
    if (value === null || value === undefined || value === "") { return "–"; }
    if (typeof value === "number") { return value.toLocaleString("en-GB"); }
    return String(value);
  }

  function fillFields(dl, rows) {
    while (dl.firstChild) { dl.removeChild(dl.firstChild); }
    rows.forEach(function (row) {
      if (row[1] === null || row[1] === undefined) { return; }
      var dt = document.createElement("dt");
      dt.textContent = row[0];
      var dd = document.createElement("dd");
      dd.textContent = fmt(row[1]);
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
  }

  function highlight(code) {
    if (highlighted && layers[highlighted]) { layers[highlighted].setStyle(BASE); }
    highlighted = null;
    if (code && layers[code]) {
      layers[code].setStyle(HIGHLIGHT);
      layers[code].bringToFront();
      highlighted = code;
    }
  }

  function tooltipFor(name) {
    var span = document.createElement("span");
    span.textContent = name;
    return span;
  }

  function loadFootprints() {
    setStatus("Loading footprints…", false);
    return fetch("footprints.geojson?vintage=" + encodeURIComponent(vintage))
      .then(function (r) {
        if (!r.ok) { throw new Error("footprints.geojson answered " + r.status); }
        return r.json();
      })
      .then(function (fc) {
        if (geoLayer) { map.removeLayer(geoLayer); }
        layers = {}; names = {}; highlighted = null;
        geoLayer = L.geoJSON(fc, {
          style: function () { return BASE; },
          onEachFeature: function (feature, layer) {
            var p = feature.properties;
            layers[p.code] = layer;
            names[p.code] = p.name;
            layer.bindTooltip(tooltipFor(p.name), { sticky: true, className: "fp-tip" });
            layer.on("mouseover", function () { if (highlighted !== p.code) { layer.setStyle(HOVER); } });
            layer.on("mouseout", function () { if (highlighted !== p.code) { layer.setStyle(BASE); } });
            layer.on("click", function () { highlight(p.code); showFootprint(p.code); });
          }
        }).addTo(map);
        map.fitBounds(geoLayer.getBounds(), { padding: [10, 10] });
        document.body.setAttribute("data-footprints", String(fc.features.length));
        setStatus(fc.features.length + " footprints of " + vintage + ". Type a postcode, or a footprint\u2019s name or code.", false);
      })
      .catch(function (err) { setStatus("Could not load the footprints: " + err.message, true); });
  }

  function renderFootprint(f) {
    els.footprint.hidden = false;
    els.footprintTitle.textContent = f.name;
    fillFields(els.footprintFields, [
      ["Code", f.code], ["Population", f.population], ["Region", f.region],
      ["NHS region", f.nhs_region], ["CCGs", f.ccg_count], ["Local authorities", f.lad_count]
    ]);
    while (els.footprintCcgs.firstChild) { els.footprintCcgs.removeChild(els.footprintCcgs.firstChild); }
    (f.ccgs || []).forEach(function (c) {
      var li = document.createElement("li");
      li.textContent = c.name + " (" + (c.ods_code || c.code) + ")";
      els.footprintCcgs.appendChild(li);
    });
  }

  function showFootprint(code) {
    var id = ++requestId;
    return fetch("footprints/" + encodeURIComponent(code) + "?vintage=" + encodeURIComponent(vintage))
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (id !== requestId) { return; }
        if (!res.ok) { setStatus(res.body.message || "Footprint not found", true); return; }
        renderFootprint(res.body);
      })
      .catch(function (err) { setStatus("Could not load the footprint: " + err.message, true); });
  }

  // The shapes of a postcode (as stpmap.postcodes.parse reads them, spaces ignored):
  // anything else is looked up as a footprint name, abbreviation or code first.
  var POSTCODE = /^(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR|NPT)[0-9][A-Z]{2}$/;

  function isPostcode(text) {
    return POSTCODE.test(text.toUpperCase().replace(/\s+/g, ""));
  }

  // A footprint found by name: the server's resolver says how it matched it; a fuzzy match is said, never silent.
  function showFound(text, f) {
    var m = f.match || {};
    if (marker) { map.removeLayer(marker); marker = null; }
    els.result.hidden = true;
    renderFootprint(f);
    highlight(f.code);
    if (layers[f.code]) {
      map.fitBounds(layers[f.code].getBounds(), { padding: [20, 20], maxZoom: 11, animate: false });
    }
    var words = "\u201c" + text + "\u201d is " + f.name + " (" + f.code + ").";
    if (m.matched_by === "fuzzy") {
      words += " Not an exact name: a close match (score " + Math.round(m.score) + ") to \u201c" + m.alias + "\u201d; check it.";
    }
    if (m.note) { words += " " + m.note; }
    document.body.setAttribute("data-footprint", f.code);
    document.body.setAttribute("data-matched-by", m.matched_by || "");
    document.body.setAttribute("data-result", "footprint");
    setStatus(words, m.matched_by === "fuzzy");
  }

  function notAFootprint(text, refusal) {
    if (!refusal || !refusal.error) { return ""; }
    var names = refusal.did_you_mean || [];
    var words = " Nor is \u201c" + text + "\u201d a footprint of " + vintage;
    if (!names.length) { return words + "."; }
    var last = names[names.length - 1];
    return words + ": did you mean " + (names.length > 1 ? names.slice(0, -1).join(", ") + " or " + last : last) + "?";
  }

  function search(text) {
    var q = String(text || "").trim();
    if (!q) { setStatus("Type a postcode or a footprint first, e.g. NG1 5DT or BNSSG.", true); return Promise.resolve(); }
    if (isPostcode(q)) { return searchPostcode(q, null); }
    var id = ++requestId;
    setStatus("Looking for " + q + "…", false);
    // "/" cannot be in a path segment; to the resolver it is punctuation, as a space is
    return fetch("footprints/" + encodeURIComponent(q.replace(/\//g, " ")) + "?vintage=" + encodeURIComponent(vintage))
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (id !== requestId) { return; }
        if (res.ok) { showFound(q, res.body); return; }
        if (res.body && res.body.error === "other_vintage") {
          if (marker) { map.removeLayer(marker); marker = null; }
          highlight(null);
          els.result.hidden = true;
          els.footprint.hidden = true;
          document.body.setAttribute("data-result", "other_vintage");
          setStatus(res.body.message, true);
          return;
        }
        return searchPostcode(q, res.body);  // not a footprint: say what it is as a postcode too
      })
      .catch(function (err) {
        if (id === requestId) { setStatus("The search failed: " + err.message, true); }
      });
  }

  function searchPostcode(pc, refusal) {
    var id = ++requestId;
    setStatus("Looking up " + pc.toUpperCase() + "…", false);
    return fetch("postcodes/" + encodeURIComponent(pc) + "?vintage=" + encodeURIComponent(vintage))
      .then(function (r) { return r.json().then(function (body) { return { code: r.status, body: body }; }); })
      .then(function (res) {
        if (id !== requestId) { return; }
        var rec = res.body || {};
        if (marker) { map.removeLayer(marker); marker = null; }
        highlight(null);
        els.footprint.hidden = true;
        if (res.code === 404 || res.code === 400 || !rec.status) {
          els.result.hidden = true;
          document.body.setAttribute("data-result", rec.status || "error");
          setStatus((rec.postcode || pc.toUpperCase()) + ": " + (rec.message || "not found.") + notAFootprint(pc, refusal), true);
          return;
        }
        document.body.setAttribute("data-result", rec.status);
        els.result.hidden = false;
        els.resultTitle.textContent = rec.postcode || pc.toUpperCase();
        fillFields(els.resultFields, [
          ["Footprint", rec.footprint_name], ["Footprint code", rec.footprint_code],
          ["CCG", rec.ccg_name ? rec.ccg_name + (rec.ccg_ods_code ? " (" + rec.ccg_ods_code + ")" : "") : null],
          ["Local authority", rec.lad_name], ["Region", rec.region],
          ["Latitude", rec.latitude], ["Longitude", rec.longitude],
          ["Method", rec.method],
          ["Distance to footprint (m)", rec.distance_m]
        ]);
        if (rec.status !== "ok") {
          setStatus(rec.message || rec.status, true);
        } else {
          setStatus(rec.postcode + " is in " + rec.footprint_name + ".", false);
        }
        if (typeof rec.latitude === "number" && typeof rec.longitude === "number") {
          marker = L.circleMarker([rec.latitude, rec.longitude], {
            radius: 6, color: "#231f20", weight: 2, fillColor: "#d5281b", fillOpacity: 1
          }).addTo(map);
          marker.bindTooltip(tooltipFor(rec.postcode || pc));
        }
        if (rec.footprint_code && layers[rec.footprint_code]) {
          highlight(rec.footprint_code);
          map.fitBounds(layers[rec.footprint_code].getBounds(), { padding: [20, 20], maxZoom: 11, animate: false });
        }
      })
      .catch(function (err) {
        if (id === requestId) { setStatus("The lookup failed: " + err.message, true); }
      });
  }

  els.form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var pc = els.input.value;
    if (window.history && window.history.replaceState) {
      var q = new URLSearchParams({ postcode: pc.trim(), vintage: vintage });
      window.history.replaceState(null, "", "?" + q.toString());
    }
    search(pc);
  });

  els.vintage.addEventListener("change", function () {
    vintage = els.vintage.value;
    var pc = els.input.value;
    loadFootprints().then(function () { if (pc.trim()) { search(pc); } });
  });

  var params = new URLSearchParams(window.location.search);
  if (params.get("vintage") && config.vintages.map(String).indexOf(params.get("vintage")) >= 0) {
    vintage = params.get("vintage");
    els.vintage.value = vintage;
  }
  loadFootprints().then(function () {
    if (params.get("postcode")) {
      els.input.value = params.get("postcode");
      search(params.get("postcode"));
    }
  });
})();
