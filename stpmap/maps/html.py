"""Interactive maps (HTML) with folium and Leaflet.

Each layer is written once, as one list of features whose polygons are
Google encoded polylines at 5 decimals (about 1 m), after simplifying the
CCGs (or districts) as a coverage and dissolving footprints from them, so
footprint and CCG borders match exactly. This keeps the national map with
footprint and CCG layers well under 1.5 MB, where ``geopandas.explore`` of the
same two layers writes about 14 MB.

``offline=True`` inlines Leaflet (vendored in ``stpmap/assets/leaflet``, BSD-2)
and every other asset into one file with no basemap tiles: it opens with no
network, for NHS networks and report archives.
"""

from __future__ import annotations

import base64
import html
import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from stpmap.maps import colours as _colours
from stpmap.maps.options import MapOptions, Selection, select

ASSETS = Path(__file__).resolve().parents[1] / "assets"
LEAFLET_VERSION = "1.9.4"
LEAFLET_CDN = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist"

#: Basemaps for the online map: (name in the layer control, folium tiles name).
BASEMAPS = (("OpenStreetMap", "OpenStreetMap"),)

#: Simplification (metres) for the national maps; selections get finer detail.
NATIONAL_TOLERANCE = 60.0


# ------------------------------------------------------------------ assets


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def leaflet_css_inline() -> str:
    """Leaflet's CSS with its images as data: URIs (so nothing is fetched)."""
    css = _asset("leaflet/leaflet.css")

    def repl(m):
        rel = m.group(1).strip("'\"")
        path = ASSETS / "leaflet" / rel
        if not path.exists():
            return m.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return re.sub(r"url\((images/[^)]+)\)", repl, css)


def _script_safe(text: str) -> str:
    """Text made safe to sit inside <script> or <style> (no closing tag)."""
    return re.sub(r"</(script|style)", r"<\\/\1", text, flags=re.I)


def _json_for_script(obj) -> str:
    """JSON that cannot break out of a <script> element, whatever the data."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
             .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# ---------------------------------------------------------------- encoding


def encode_geometries(geoms, precision: int = 5) -> list[list[list[str]]]:
    """Polygons (lon/lat) as Google encoded polylines: for each geometry, its
    polygons, for each polygon its rings (exterior first). Vectorised.

    >>> from shapely import box
    >>> encode_geometries([box(0, 0, 1, 1)])
    [[['?_ibE_ibE??~hbE~hbE?']]]
    """
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3  # polygons only
    parts, part_of = parts[keep], part_of[keep]
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, coord_of = shapely.get_coordinates(rings, return_index=True)
    q = np.round(coords * 10**precision).astype(np.int64)
    # drop each ring's closing point and any point equal to the one before it
    n = len(q)
    last = np.r_[coord_of[1:] != coord_of[:-1], True] if n else np.zeros(0, bool)
    first = np.r_[True, coord_of[1:] != coord_of[:-1]] if n else np.zeros(0, bool)
    same_as_prev = np.r_[False, np.all(q[1:] == q[:-1], axis=1)] if n else np.zeros(0, bool)
    keep = ~last & ~(same_as_prev & ~first)
    q, coord_of = q[keep], coord_of[keep]
    first = np.r_[True, coord_of[1:] != coord_of[:-1]] if len(q) else np.zeros(0, bool)
    d = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    d[first] = q[first]
    values = d[:, ::-1].ravel()  # polyline order is lat, lng
    u = (values << 1) ^ (values >> 63)  # zigzag
    u = u.astype(np.uint64)
    chunks = np.stack([(u >> np.uint64(5 * k)) & np.uint64(31) for k in range(7)], axis=1).astype(np.int64)
    rest = np.stack([(u >> np.uint64(5 * (k + 1))) for k in range(7)], axis=1) > 0
    present = np.c_[np.ones(len(u), bool), rest[:, :-1]]
    chars = chunks + 63 + np.where(rest, 32, 0)
    flat = chars[present].astype(np.uint8).tobytes().decode("ascii")
    nchar = present.sum(axis=1)
    per_coord = nchar[0::2] + nchar[1::2]
    ring_ids = coord_of
    counts = np.bincount(ring_ids, weights=per_coord, minlength=len(rings)).astype(np.int64)
    ends = np.cumsum(counts)
    starts = ends - counts
    ring_str = [flat[a:b] for a, b in zip(starts.tolist(), ends.tolist())]
    out: list[list[list[str]]] = [[] for _ in range(len(geoms))]
    poly_rings: list[list[str]] = [[] for _ in range(len(parts))]
    for r, p in enumerate(ring_of.tolist()):
        if ring_str[r]:
            poly_rings[p].append(ring_str[r])
    for p, g in enumerate(part_of.tolist()):
        if poly_rings[p]:
            out[g].append(poly_rings[p])
    return out


# ------------------------------------------------------------- properties


def _clean(v):
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    try:
        import pandas as pd

        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v if isinstance(v, (int, str, bool)) else str(v)


_KEEP = {
    "stp": ("code", "name", "population", "region", "regions", "nhs_region", "nhs_local_office", "ods_code"),
    "ccg": ("code", "name", "ods_code", "population", "region", "stp_code", "stp_name"),
    "lad": ("code", "name", "population", "region", "stp_code", "stp_name", "stp_shares"),
}


def _members(vintage: int, codes) -> tuple[dict, dict]:
    """CCGs and districts of each footprint, for the popups."""
    from stpmap.data import atlas as _atlas

    ccg = _atlas.table("ccg", vintage, columns=["code", "ods_code", "name", "stp_code", "population"])
    ccg = ccg[ccg["stp_code"].isin(codes)].sort_values("name")
    ccgs: dict = {}
    for r in ccg.itertuples(index=False):
        ccgs.setdefault(r.stp_code, []).append([str(r.name), str(r.ods_code or ""), int(r.population)])
    lad = _atlas.layer("stp_lad", vintage)
    lad = lad[lad["stp_code"].isin(codes)].sort_values(["stp_code", "population"], ascending=[True, False])
    lads: dict = {}
    for r in lad.itertuples(index=False):
        lads.setdefault(r.stp_code, []).append([str(r.lad_name), int(r.population), round(float(r.share_of_lad), 4)])
    return ccgs, lads


def search_keys(codes, vintage: int) -> dict[str, dict[str, str]]:
    """For the search box: each footprint's names and codes in the form the
    resolver compares them (:func:`stpmap.data.aliases.footprint_key`), as
    ``{"keys": "k1|k2", "other_keys": ...}``: those of ``vintage``, and those
    the same code had in other vintages (same code, same area). The map's
    script puts what is typed in the same form (:func:`~stpmap.data.aliases.key_rules`)."""
    from stpmap.data.aliases import aliases

    wanted = set(codes)
    here: dict[str, set] = {}
    other: dict[str, set] = {}
    for a in aliases():
        if a.code in wanted and a.key:
            (here if vintage in a.vintages else other).setdefault(a.code, set()).add(a.key)
    out = {}
    for code in wanted:
        mine, theirs = here.get(code, set()), other.get(code, set())
        entry = {"keys": "|".join(sorted(mine)), "other_keys": "|".join(sorted(theirs - mine))}
        out[code] = {k: v for k, v in entry.items() if v}
    return out


def _layer_spec(gdf, kind: str, layer_id: str, name: str, *, main: bool, show: bool, filled: bool, style: dict,
                value_label=None, members=None, extra_cols=(), keys=None):
    wgs = gdf.to_crs(4326)
    geoms = encode_geometries(wgs.geometry.values)
    cols = [c for c in (*_KEEP.get(kind, ("code", "name")), *extra_cols) if c in gdf.columns]
    records = gdf[cols].to_dict("records")
    feats = []
    fills = gdf["fill"].tolist() if filled and "fill" in gdf else None
    values = gdf["value"].tolist() if value_label and "value" in gdf else None
    for i, rec in enumerate(records):
        p = {k: _clean(v) for k, v in rec.items()}
        p = {k: v for k, v in p.items() if v is not None}
        if fills is not None:
            p["fill"] = fills[i]
        if values is not None:
            p["value"] = _clean(values[i])
        if members is not None:
            ccgs, lads = members
            p["ccgs"] = ccgs.get(p["code"], [])
            p["lads"] = lads.get(p["code"], [])
        if keys is not None:
            p.update(keys.get(p["code"], {}))
        feats.append({"p": p, "g": geoms[i]})
    return {"id": layer_id, "name": name, "kind": kind, "main": main, "show": show, "filled": filled,
            "style": style, "value_label": value_label, "features": feats}


# ------------------------------------------------------------------ legend


def legend_html(md) -> str:
    lg = md.legend
    e = html.escape
    rows = []
    for label, colour in lg.entries:
        shades = lg.swatches.get(label, [colour])
        if len(shades) > 1:
            stops = []
            for i, c in enumerate(shades):
                a, b = 100 * i / len(shades), 100 * (i + 1) / len(shades)
                stops.append(f"{c} {a:.0f}%, {c} {b:.0f}%")
            bg = f"linear-gradient(90deg, {', '.join(stops)})"
        else:
            bg = shades[0]
        rows.append(f'<div class="row"><span class="sw" style="background:{e(bg)}"></span>{e(str(label))}</div>')
    if lg.missing:
        rows.append(f'<div class="row"><span class="sw" style="background:repeating-linear-gradient(45deg,'
                    f'{_colours.MISSING} 0 3px,#9AA3A8 3px 4px)"></span>{e(lg.missing)}</div>')
    if md.overlay_layer:
        from stpmap.maps.words import layer_words

        rows.append(f'<div class="row"><span class="sw" style="background:none;outline:none;border:1.5px dashed '
                    f'{_colours.NHS["NHS Dark Grey"]}"></span>{e(layer_words(md.overlay_layer, md.vintage or None)[1])}</div>')
    note = f'<div class="note">{e(lg.note)}</div>' if lg.note else ""
    if not rows and not note:
        return ""
    return f"<h4>{e(lg.title)}</h4>{''.join(rows)}{note}"


# -------------------------------------------------------------------- map


def _element(html_text: str):
    """A piece of HTML put into the page as it is (never parsed as a template,
    so data containing ``{{`` cannot break or inject into the page)."""
    from branca.element import Element

    class Raw(Element):
        def __init__(self, text):
            super().__init__()
            self._name = "StpmapRaw"
            self.text = text

        def render(self, **kwargs):
            return self.text

    return Raw(html_text)


def render(md, offline: bool = False, tiles=None, height=None):
    """A folium.Map of a :class:`stpmap.maps.prepare.MapData`."""
    import folium
    from branca.element import Element

    b = md.gdf.to_crs(4326).total_bounds
    centre = [(b[1] + b[3]) / 2, (b[0] + b[2]) / 2]
    m = folium.Map(location=centre, zoom_start=6, tiles=None, control_scale=md.to_scale, zoom_snap=0.25,
                   height=height or "100%")
    tile_layers = _page_assets(m, md, offline, tiles)
    layers = _layer_specs(md, offline)
    attribution = md.attribution + " " + " ".join(n for n in md.notes if n and "Population" in n)
    from stpmap.data.aliases import key_rules

    data = {"layers": layers, "legend_html": legend_html(md), "attribution": attribution.strip(),
            "search_placeholder": "Find a footprint or CCG", "search_rules": key_rules(),
            "population_note": None}
    for spec in layers:
        spec["population_note"] = next((n for n in md.notes if n.startswith("Population")), None) if spec["main"] else None

    data_js = _json_for_script(data)
    tiles_js = ", ".join(f"{{name: {_json_for_script(lbl)}, layer: {t.get_name()}}}" for lbl, t in tile_layers)

    class _Layers(Element):
        """Adds the call that draws the layers to the page's script, raw."""

        def render(self, **kwargs):
            script = (f"stpmapBuild({self._parent.get_name()}, {data_js}, [{tiles_js}]);"
                      + _describe_script(self._parent.get_name(), md.title)
                      + (_hex_labels_script(self._parent.get_name(), md) if not md.to_scale and md.labels != "none" else ""))
            self.get_root().script.add_child(_element(script), name=self.get_name())

    m.add_child(_Layers())
    m.stpmap_offline = offline
    from stpmap.maps.alttext import alt_text

    m.stpmap_alt_text = alt_text(md)
    return m


def _page_assets(m, md, offline: bool, tiles) -> list:
    """Leaflet (from its CDN, or inlined when offline), stpmap's own CSS and
    script, the title, and the basemaps (none offline). Returns the basemaps
    as [(label, folium.TileLayer)]."""
    import folium

    root = m.get_root()
    title_html = (f'<div class="stpmap-title"><h1>{html.escape(md.title)}</h1>'
                  + (f"<p>{html.escape(md.subtitle).replace(chr(10), '<br>')}</p>" if md.subtitle else "") + "</div>")
    tile_layers = []
    if offline:
        m.default_js = []
        m.default_css = []
        root.header.add_child(_element(f"<style>{_script_safe(leaflet_css_inline())}</style>"), name="leaflet_css")
        root.header.add_child(_element(f"<script>{_script_safe(_asset('leaflet/leaflet.js'))}</script>"), name="leaflet")
    else:
        m.default_js = [("leaflet", f"{LEAFLET_CDN}/leaflet.js")]
        m.default_css = [("leaflet_css", f"{LEAFLET_CDN}/leaflet.css")]
        for i, (label, name) in enumerate((tiles or BASEMAPS) if md.to_scale else ()):
            t = folium.TileLayer(name, name=label, show=(i == 0), control=False)
            t.add_to(m)
            tile_layers.append((label, t))
    root.header.add_child(_element(f"<style>{_script_safe(_asset('stpmap-map.css'))}</style>"), name="stpmap_css")
    if md.shape == "hex":
        root.header.add_child(_element(f"<style>{HEX_LABEL_CSS}</style>"), name="stpmap_hex_css")
    root.header.add_child(_element(f"<script>{_script_safe(_asset('stpmap-map.js'))}</script>"), name="stpmap_js")
    root.html.add_child(_element(title_html), name="stpmap_title")
    root.html.add_child(_element(description_html(md)), name="stpmap_description")
    return tile_layers


def _hex_labels_script(map_name: str, md) -> str:
    """Script that writes on each hex its name where the hexes are large
    enough at the zoom shown, else its short label
    (:func:`stpmap.maps.hexes.short_labels`), hidden when even that does not
    fit; in a pane above the hexes that lets the pointer through to them (so
    their tooltips and popups still open). Text is set as text, never HTML."""
    centres = md.gdf.geometry.centroid.to_crs(4326)
    labels = [[round(float(c.y), 5), round(float(c.x), 5), str(s), str(n), _colours.text_colour(f)]
              for c, s, n, f in zip(centres, md.gdf["short_label"], md.gdf["label"], md.gdf["fill"])]
    x0, y0, x1, y1 = md.gdf.geometry.iloc[:1].to_crs(4326).total_bounds  # one hex: they are all the same size
    chars = max(3, max(len(lbl[2]) for lbl in labels))
    return (f"(function(m,labels,hex,chars){{var pane=m.createPane('stpmapHexLabels');pane.style.zIndex=450;"
            "pane.style.pointerEvents='none';var spans=labels.map(function(l){var s=document.createElement('span');"
            "s.className='stpmap-hex-label';s.style.color=l[4];"
            "L.marker([l[0],l[1]],{pane:'stpmapHexLabels',interactive:false,keyboard:false,"
            "icon:L.divIcon({className:'',html:s,iconSize:[0,0]})}).addTo(m);return s;});"
            "function fit(){var w=m.latLngToContainerPoint([hex[0],hex[3]]).x-m.latLngToContainerPoint([hex[0],hex[1]]).x;"
            "var px=Math.min(15,w/(0.72*chars+1.2)),big=Math.min(14,w/11),line=0.78*w/(0.56*big);"
            "pane.style.display=px<7?'none':'';spans.forEach(function(s,i){var l=labels[i],"
            "named=big>=10&&Math.ceil(l[3].length/line)+1<=0.5*w/(1.2*big);"
            "s.textContent=named?l[3]:l[2];s.style.fontSize=(named?big:px)+'px';s.style.width=named?0.78*w+'px':'';"
            "s.style.whiteSpace=named?'normal':'nowrap';});}m.on('zoomend',fit);fit();"
            f"}})({map_name},{_json_for_script(labels)},{_json_for_script([y0, x0, y1, x1])},{chars});")


#: How a hex's label looks: centred on the hex, bold (its size is set for the zoom).
HEX_LABEL_CSS = (".stpmap-hex-label{position:absolute;transform:translate(-50%,-50%);text-align:center;"
                 "font-weight:600;line-height:1.2;font-family:Arial,'Liberation Sans',sans-serif;pointer-events:none}")


#: The id of the HTML map's text description (its alternative text).
DESCRIPTION_ID = "stpmap-description"


def description_html(md) -> str:
    """The map's alternative text (:func:`stpmap.maps.alttext.alt_text`) as
    an element hidden on screen but read by screen readers; the map's
    container points at it with aria-describedby."""
    from stpmap.maps.alttext import alt_text

    hidden = ("position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;"
              "clip:rect(0,0,0,0);white-space:nowrap;border:0")
    return f'<p id="{DESCRIPTION_ID}" class="stpmap-visually-hidden" style="{hidden}">{html.escape(alt_text(md))}</p>'


def _describe_script(map_name: str, title: str) -> str:
    """Script that labels the map's container (a div folium writes without
    attributes) with the map's title and description."""
    return (f'(function(){{var el=document.getElementById("{map_name}");if(!el)return;'
            f'el.setAttribute("role","region");el.setAttribute("aria-roledescription","map");'
            f'el.setAttribute("aria-label",{_json_for_script(title or "Map")});'
            f'el.setAttribute("aria-describedby","{DESCRIPTION_ID}");}})();')


def _layer_specs(md, offline: bool) -> list[dict]:
    """The map's layers: the filled areas, the selected footprints' borders
    over CCGs or districts, and the overlay."""
    from stpmap.maps.words import capital, layer_words

    one, many = layer_words(md.layer, md.vintage or None)
    value_label = None
    if md.legend.kind == "classes" and md.colour_by != "population":  # population is in every tooltip already
        value_label = md.legend.title
    elif md.value_column:
        value_label = md.value_column
    members = _members(md.vintage, list(md.gdf["code"])) if md.layer == "stp" and md.vintage else None
    keys = search_keys(md.gdf["code"], md.vintage) if md.layer == "stp" and md.vintage else None
    main_style = {"color": "#FFFFFF", "weight": 1.2 if md.layer == "stp" else 0.6, "fillOpacity": 0.78 if not offline else 0.9,
                  "opacity": 1}
    layers = [_layer_spec(md.gdf, md.layer, md.layer, f"{capital(many)} ({len(md.gdf)})", main=True,
                          show=True, filled=True, style=main_style, value_label=value_label, members=members,
                          extra_cols=(md.value_column,) if md.value_column and md.legend.kind != "classes" else (),
                          keys=keys)]
    if md.layer != "stp" and md.outline is not None and len(md.outline):
        layers.append(_layer_spec(md.outline, "stp", "stp_outline", f"Footprint borders ({len(md.outline)})", main=False,
                                  show=True, filled=False,
                                  style={"color": _colours.NHS["NHS Dark Grey"], "weight": 1.6, "fill": False,
                                         "interactive": False},
                                  keys=search_keys(md.outline["code"], md.vintage) if md.vintage else None))
    if md.overlay is not None and len(md.overlay):
        ow, omany = layer_words(md.overlay_layer, md.vintage or None)
        layers.append(_layer_spec(md.overlay, md.overlay_layer, md.overlay_layer,
                                  f"{capital(omany)} ({len(md.overlay)})", main=False, show=True,
                                  filled=False, style={"color": _colours.NHS["NHS Dark Grey"], "weight": 0.8,
                                                       "dashArray": "3 2", "fill": True, "fillOpacity": 0}))
    return layers


def save(m, path) -> Path:
    """Write a folium map to ``path`` (UTF-8)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(m.get_root().render(), encoding="utf-8")
    return path


def explore(
    vintage=None,
    group=None,
    *,
    footprint=None,
    layer: str = "stp",
    overlay: str | None = None,
    colour_by: str | None = None,
    data=None,
    join_on: str | None = None,
    value: str | None = None,
    aggregate: str | None = None,
    data_encoding: str | None = None,
    data_vintage=None,
    scheme: str | None = None,
    k: int = 5,
    bins=None,
    ramp: str | None = None,
    palette: str | None = None,
    title: str | None = None,
    groups_file=None,
    shape: str = "map",
    offline: bool = False,
    tiles=None,
    tolerance: float | None = None,
    height=None,
):
    """An interactive map of footprints, CCGs or districts (folium/Leaflet).

    Footprints have tooltips (name, code, population, region) and popups
    listing their CCGs and local authorities with populations; overlays are
    in a layer control; a search box finds a footprint or CCG by name or code;
    legend, title and attribution are on the map, which is fitted to the
    selection. All text from data is escaped.

    Parameters
    ----------
    vintage, group, footprint, layer, overlay, colour_by, data, join_on, value, aggregate, data_encoding, data_vintage, scheme, k, bins, ramp, palette, title, groups_file, shape
        As for :func:`stpmap.plot`. A hex cartogram (``shape="hex"``) has
        no basemap and no scale; each hex shows its name, or its short
        label where the name does not fit.
    offline : bool, default False
        Inline Leaflet and every asset and leave out basemap tiles, so the
        saved file opens with no network. Default: an OpenStreetMap
        basemap (with its attribution) loaded from the web.
    tiles : list of (label, folium tiles name), optional
        Basemaps for the online map.
    tolerance : float, optional
        Simplification in metres (default 60 m nationally, finer for smaller
        selections; borders stay shared).
    height : str or int, optional
        Height of the map (default: the whole page).

    Returns
    -------
    folium.Map
        Shown inline in Jupyter; ``m.save("map.html")`` writes it.

    Examples
    --------
    >>> import stpmap
    >>> m = stpmap.explore(overlay="ccg")                    # 44 footprints, CCG layer
    >>> m = stpmap.explore(group="London", layer="ccg", offline=True)
    >>> m.save("london.html")
    >>> m = stpmap.explore(2021, shape="hex", colour_by="population")   # one hexagon per footprint
    """
    options = MapOptions(vintage=vintage, group=group, footprint=footprint, groups_file=groups_file, layer=layer,
                         overlay=overlay, colour_by=colour_by, data=data, join_on=join_on, value=value,
                         aggregate=aggregate, data_encoding=data_encoding, data_vintage=data_vintage, scheme=scheme,
                         k=k, bins=bins, ramp=ramp,
                         palette=palette, title=title, shape=shape)
    return folium_map(options, offline=offline, tiles=tiles, tolerance=tolerance, height=height)


def folium_map(options: MapOptions, *, offline: bool = False, tiles=None, tolerance: float | None = None, height=None):
    """The interactive map of ``options`` as a folium.Map (what :func:`explore`
    returns; see it for the other parameters). Areas are not labelled, so
    ``options.labels`` does not matter here, except on a hex cartogram, whose
    hexes show their names or short labels unless ``labels="none"``."""
    from stpmap.maps.prepare import prepare

    selection = select(options)
    tol = tolerance if tolerance is not None else _auto_tolerance(selection)
    md = prepare(options, selection=selection, tolerance=tol)
    return render(md, offline=offline, tiles=tiles, height=height)


def _auto_tolerance(selection: Selection) -> float:
    """Simplification (metres): :data:`NATIONAL_TOLERANCE` nationally, finer
    for smaller selections."""
    extent = selection.extent()
    if extent is None:
        return NATIONAL_TOLERANCE
    return float(max(15.0, min(NATIONAL_TOLERANCE, extent / 6000)))
