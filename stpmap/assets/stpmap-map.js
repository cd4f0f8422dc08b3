/* stpmap interactive maps (MIT licence, part of stpmap).
 *
 * Draws the layers written by stpmap.explore(): each layer is one list of
 * features, each feature its properties and its polygons as Google
 * encoded-polyline strings (5 decimals, one string per ring). Adds tooltips,
 * popups, a layer control, a search box, the legend, the title and the
 * attribution, and fits the map to the selection.
 *
 * Every piece of text that came from data goes through esc() before it is
 * put into HTML, so a name such as "<script>" shows as text.
 *
 * The map exposes window.stpmap = {map, layers, find(text), highlight(code),
 * key(text)} for pages that embed it; key() puts a name in the form the search
 * compares (stpmap.data.aliases.footprint_key, ported from its rules).
 */
(function (global) {
  "use strict";

  var ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return ENTITIES[c];
    });
  }

  function fmt(n) {
    if (n === null || n === undefined || n === "") return "";
    var x = Number(n);
    if (!isFinite(x)) return esc(n);
    if (Math.abs(x) >= 1000 || x === Math.round(x)) return x.toLocaleString("en-GB", { maximumFractionDigits: 0 });
    return x.toLocaleString("en-GB", { maximumSignificantDigits: 4 });
  }

  function pct(x) {
    return (Number(x) * 100).toFixed(1) + "%";
  }

  // As stpmap.data.names.normalise: lower case, '&' as 'and', punctuation dropped, spaces folded.
  function norm(s) {
    return String(s === null || s === undefined ? "" : s).toLowerCase().replace(/&/g, " and ")
      .replace(/[^a-z0-9 ]+/g, " ").replace(/\s+/g, " ").trim();
  }

  function own(obj, k) { return Object.prototype.hasOwnProperty.call(obj, k); }

  // A port of stpmap.data.aliases.footprint_key, from its rules as data (key_rules()):
  // names are compared without case, punctuation, 'and', 'the', 'NHS', 'ICB', 'Integrated Care Board'...
  function keyer(rules) {
    if (!rules) return norm;
    var filler = new RegExp(rules.filler, "g"), trailing = new RegExp(rules.trailing), drop = {};
    rules.drop.forEach(function (w) { drop[w] = true; });
    return function (text) {
      var s = norm(text).replace(filler, " ");
      s = s.split(" ").filter(Boolean).join(" ").replace(trailing, " ");
      return s.split(" ").filter(function (w) { return w && !own(drop, w); })
        .map(function (w) { return own(rules.short_forms, w) ? rules.short_forms[w] : w; }).join(" ");
    };
  }

  // Google encoded polyline -> [[lat, lng], ...]
  function decode(str) {
    var i = 0, lat = 0, lng = 0, out = [], n = str.length;
    while (i < n) {
      var b, shift = 0, result = 0;
      do {
        b = str.charCodeAt(i++) - 63;
        result |= (b & 31) << shift;
        shift += 5;
      } while (b >= 32);
      lat += result & 1 ? ~(result >> 1) : result >> 1;
      shift = 0;
      result = 0;
      do {
        b = str.charCodeAt(i++) - 63;
        result |= (b & 31) << shift;
        shift += 5;
      } while (b >= 32);
      lng += result & 1 ? ~(result >> 1) : result >> 1;
      out.push([lat / 1e5, lng / 1e5]);
    }
    return out;
  }

  function latlngs(g) {
    // g: [[ring, hole, ...], [ring, ...]] -> Leaflet multipolygon latlngs
    var polys = [];
    for (var i = 0; i < g.length; i++) {
      var rings = [];
      for (var j = 0; j < g[i].length; j++) rings.push(decode(g[i][j]));
      polys.push(rings);
    }
    return polys.length === 1 ? polys[0] : polys;
  }

  function row(label, value) {
    if (value === null || value === undefined || value === "") return "";
    return "<tr><th>" + esc(label) + "</th><td>" + value + "</td></tr>";
  }

  function tooltipHtml(p, spec) {
    var h = "<strong>" + esc(p.name) + "</strong><br><span class='stpmap-muted'>" + esc(p.code) + "</span>";
    if (p.population !== undefined) h += "<br>Population " + fmt(p.population);
    if (p.region) h += "<br>" + esc(p.region);
    if (p.stp_name && spec.kind !== "stp") h += "<br>Footprint: " + esc(p.stp_name);
    if (spec.value_label && p.value !== undefined && p.value !== null) h += "<br>" + esc(spec.value_label) + ": " + fmt(p.value);
    if (spec.value_label && (p.value === undefined || p.value === null) && spec.main) h += "<br>" + esc(spec.value_label) + ": no data";
    return h;
  }

  function popupHtml(p, spec) {
    var h = "<div class='stpmap-popup'><h4>" + esc(p.name) + "</h4><table>";
    h += row("Code", esc(p.code));
    if (p.ods_code) h += row("ODS code", esc(p.ods_code));
    if (p.population !== undefined) h += row("Population", fmt(p.population) + (spec.population_note ? "" : ""));
    if (p.region) h += row("ONS region", esc(p.region));
    if (p.regions && p.regions !== p.region + " 100.0%") h += row("Regions", esc(p.regions));
    if (p.nhs_region) h += row("NHS England region", esc(p.nhs_region));
    if (p.nhs_local_office) h += row("NHS England local office", esc(p.nhs_local_office));
    if (p.stp_name && spec.kind !== "stp") h += row("Footprint", esc(p.stp_name) + " <span class='stpmap-muted'>" + esc(p.stp_code) + "</span>");
    if (p.stp_shares && spec.kind === "lad") h += row("Footprints", esc(p.stp_shares));
    if (spec.value_label) h += row(spec.value_label, p.value === null || p.value === undefined ? "no data" : fmt(p.value));
    h += "</table>";
    if (p.ccgs && p.ccgs.length) {
      h += "<h5>" + p.ccgs.length + " CCG" + (p.ccgs.length > 1 ? "s" : "") + "</h5><ul>";
      for (var i = 0; i < p.ccgs.length; i++) {
        var c = p.ccgs[i];
        h += "<li>" + esc(c[0]) + " <span class='stpmap-muted'>" + esc(c[1]) + "</span> " + fmt(c[2]) + "</li>";
      }
      h += "</ul>";
    }
    if (p.lads && p.lads.length) {
      h += "<h5>" + p.lads.length + " local authorit" + (p.lads.length > 1 ? "ies" : "y") + "</h5><ul>";
      for (var j = 0; j < p.lads.length; j++) {
        var l = p.lads[j];
        h += "<li>" + esc(l[0]) + " " + fmt(l[1]) + (l[2] < 0.9995 ? " <span class='stpmap-muted'>(" + pct(l[2]) + " of it)</span>" : "") + "</li>";
      }
      h += "</ul>";
    }
    if (spec.population_note) h += "<p class='stpmap-muted'>" + esc(spec.population_note) + "</p>";
    return h + "</div>";
  }

  function build(map, DATA, tiles) {
    var layers = {}, overlays = {}, index = [], main = null;
    var hoverStyle = { weight: 3, color: "#231F20" };
    var keyOf = keyer(DATA.search_rules);
    function ccgKey(name) { return keyOf(String(name || "").replace(/\b(ccg|clinical commissioning group)\b/gi, " ")); }
    // rank: 0 the area's own names and codes, 1 names its code had in other vintages, 2 the CCGs of a footprint
    function addEntry(key, code, label, shape, layer, rank) {
      index.push({ key: key, compact: key.replace(/ /g, ""), code: String(code || "").toUpperCase(), label: label,
                   shape: shape, layer: layer, rank: rank });
    }

    DATA.layers.forEach(function (spec) {
      var group = L.featureGroup();
      var byCode = {};
      spec.features.forEach(function (f) {
        var p = f.p;
        var style = L.Util.extend({}, spec.style);
        if (spec.filled) style.fillColor = p.fill;
        var shape = L.polygon(latlngs(f.g), style);
        shape.feature = { properties: p };
        shape._stpStyle = style;
        shape.bindTooltip(function () { return tooltipHtml(p, spec); }, { sticky: true, className: "stpmap-tooltip" });
        shape.bindPopup(function () { return popupHtml(p, spec); }, { maxWidth: 360, maxHeight: 420 });
        shape.on("mouseover", function () {
          shape.setStyle(hoverStyle);
          if (spec.main) shape.bringToFront();
        });
        shape.on("mouseout", function () { shape.setStyle({ weight: style.weight, color: style.color }); });
        group.addLayer(shape);
        byCode[p.code] = shape;
        var nameKey = spec.kind === "ccg" ? ccgKey : keyOf;
        addEntry(nameKey(p.name), p.code, p.name, shape, spec.id, 0);
        if (p.ods_code) addEntry(keyOf(p.ods_code), p.ods_code, p.name, shape, spec.id, 0);
        // every name and code of the footprint (keys of this vintage, then of other years of the same code)
        (p.keys ? p.keys.split("|") : []).forEach(function (k) { addEntry(k, "", p.name, shape, spec.id, 0); });
        (p.other_keys ? p.other_keys.split("|") : []).forEach(function (k) { addEntry(k, "", p.name, shape, spec.id, 1); });
        if (p.ccgs && spec.kind === "stp") {
          p.ccgs.forEach(function (c) { addEntry(ccgKey(c[0]), c[1], c[0] + " (" + p.name + ")", shape, spec.id, 2); });
        }
      });
      group.byCode = byCode;
      layers[spec.id] = group;
      overlays[esc(spec.name)] = group;
      if (spec.show) group.addTo(map);
      if (spec.main) main = group;
    });

    // the main layer stays under its overlays
    DATA.layers.forEach(function (spec) { if (!spec.main && spec.show) layers[spec.id].bringToFront(); });

    var bases = {};
    (tiles || []).forEach(function (t) { bases[esc(t.name)] = t.layer; });
    L.control.layers(bases, overlays, { collapsed: false, position: "topright" }).addTo(map);

    // legend
    if (DATA.legend_html) {
      var legend = L.control({ position: "bottomright" });
      legend.onAdd = function () {
        var div = L.DomUtil.create("div", "stpmap-legend");
        div.innerHTML = DATA.legend_html; // built and escaped in Python
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
      };
      legend.addTo(map);
    }

    // attribution
    map.attributionControl.setPrefix('<a href="https://leafletjs.com" title="A JavaScript library for interactive maps">Leaflet</a>');
    map.attributionControl.addAttribution(esc(DATA.attribution));

    // search by any name or code of a footprint, or a CCG's name or code: codes first, then names
    // as the resolver compares them, whole, without spaces, then the beginning of a name, then any part
    index.sort(function (a, b) { return a.rank - b.rank; });
    var found = null;
    function find(text) {
      var Q = String(text || "").trim().toUpperCase(), k = keyOf(text), c = k.replace(/ /g, "");
      if (!Q) return null;
      var tests = [
        function (e) { return e.code === Q; },
        function (e) { return k && e.key === k; },
        function (e) { return c && e.compact === c; },
        function (e) { return k && e.key.indexOf(k) === 0; },
        function (e) { return k && e.key.indexOf(k) >= 0; }
      ];
      for (var t = 0; t < tests.length; t++) {
        for (var i = 0; i < index.length; i++) if (tests[t](index[i])) return index[i];
      }
      return null;
    }
    function show(hit) {
      if (found) found.setStyle({ weight: found._stpStyle.weight, color: found._stpStyle.color });
      var grp = layers[hit.layer];
      if (!map.hasLayer(grp)) grp.addTo(map);
      map.fitBounds(hit.shape.getBounds(), { maxZoom: 11, padding: [20, 20] });
      hit.shape.setStyle({ weight: 4, color: "#003087" });
      hit.shape.bringToFront();
      hit.shape.openPopup(hit.shape.getBounds().getCenter());
      found = hit.shape;
    }
    var search = L.control({ position: "topleft" });
    search.onAdd = function () {
      var div = L.DomUtil.create("div", "stpmap-search leaflet-bar");
      var input = L.DomUtil.create("input", "", div);
      input.type = "search";
      input.placeholder = DATA.search_placeholder || "Find a footprint or CCG";
      input.setAttribute("aria-label", input.placeholder);
      input.setAttribute("list", "stpmap-search-list");
      var list = L.DomUtil.create("datalist", "", div);
      list.id = "stpmap-search-list";
      var seen = {};
      index.forEach(function (e) {
        if (seen[e.label]) return;
        seen[e.label] = true;
        var o = document.createElement("option");
        o.value = e.label; // a property, never HTML
        list.appendChild(o);
      });
      var msg = L.DomUtil.create("div", "stpmap-search-msg", div);
      function go() {
        var hit = find(input.value);
        if (hit) {
          msg.textContent = "";
          show(hit);
        } else if (input.value.trim()) {
          msg.textContent = "No footprint or CCG matches \u201c" + input.value.trim() + "\u201d.";
        }
      }
      input.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
      input.addEventListener("change", go);
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    search.addTo(map);

    if (main && main.getLayers().length) map.fitBounds(main.getBounds(), { padding: [12, 12], animate: false });

    global.stpmap = {
      map: map,
      layers: layers,
      find: find,
      highlight: function (code) {
        var hit = find(code);
        if (hit) show(hit);
        return !!hit;
      },
      key: keyOf,
      esc: esc
    };
    return global.stpmap;
  }

  global.stpmapBuild = build;
})(window);
