"""The command line: a thin layer over the public API.

Heavy libraries (geopandas, matplotlib, folium) are imported inside the
commands that need them, so that table output starts quickly.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager

import click

from stpmap.errors import StpmapError

STP_TABLE_COLUMNS = ["code", "name", "population", "region", "nhs_region", "ccg_count"]
STP_CSV_COLUMNS = [  # ods_code: the footprint's or ICB's ODS code where published (2020 to 2022)
    "code", "name", "ods_code", "population", "pop_0_17", "pop_18_64", "pop_65_plus", "pop_85_plus",
    "region", "region_code", "region_share", "regions", "nhs_region", "nhs_region_code",
    "nhs_local_office", "nhs_local_office_code", "ccg_count", "lad_count", "vintage",
]


#: Options people type for a map's format, which is one option: --format.
_FORMAT_FLAGS = ("--html", "--png", "--svg", "--pdf", "--docx", "--pptx")


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except StpmapError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except click.NoSuchOption as exc:
            if exc.option_name in _FORMAT_FLAGS:  # say what works instead of click's plain "no such option"
                raise click.UsageError(f"No such option: {exc.option_name}. The format is one option: "
                                       f"--format {exc.option_name[2:]}.", ctx=exc.ctx) from None
            raise


def _vintage_cb(ctx, param, value):
    if value is None:
        return value
    from stpmap.data.registry import registry
    from stpmap.errors import ChoiceError

    try:
        return registry().check_vintage(value)
    except ChoiceError as exc:
        raise click.BadParameter(str(exc)) from None


def vintage_option(f):
    return click.option(
        "--vintage", "-v", default=None, callback=_vintage_cb, metavar="YEAR",
        help="Vintage of the geography: 2017 (44 footprints, default), 2018 to 2021 (42) or 2022 (the 42 ICBs).",
    )(f)


def mirror_option(f):
    return click.option(
        "--mirror", type=click.Path(file_okay=False), default=None, envvar="STPMAP_MIRROR",
        help="Folder holding an offline copy of the ONS files (env STPMAP_MIRROR).",
    )(f)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stpmap")
def main():
    """Maps and postcode lookups for England's STP footprints, from official ONS data."""
    # one-off work (building the atlas or the postcode index, rebuilding a damaged cache...) is
    # announced on stderr: every stpmap logger is below "stpmap"
    logger = logging.getLogger("stpmap")
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


# ------------------------------------------------------------------ data


@main.group(cls=_Group)
def data():
    """Fetch, build and describe the official source data."""


@data.command("fetch")
@vintage_option
@mirror_option
def data_fetch(vintage, mirror):
    """Find the vintage's files in a mirror, or download them from ONS."""
    from stpmap.data import manage as _manage

    paths = _manage.fetch(vintage, mirror=mirror, progress=sys.stderr.isatty())
    for role, path in paths.items():
        click.echo(f"{role:24} {path}")


@data.command("build")
@vintage_option
@mirror_option
def data_build(vintage, mirror):
    """Compile the atlas (GeoParquet layers) into the cache."""
    import time

    from stpmap.data import manage as _manage

    t = time.perf_counter()
    path = _manage.build(vintage, mirror=mirror, progress=sys.stderr.isatty())
    click.echo(f"Built {path} in {time.perf_counter() - t:.1f} s")


@data.command("info")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def data_info(fmt):
    """Datasets, vintages, sources, cache state and licence."""
    import json

    from stpmap.data import manage as _manage

    info = _manage.info()
    if fmt == "json":
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"Cache:  {info['cache']}")
    click.echo(f"Mirror: {info['mirror'] or '(none: datasets are downloaded from the ONS Open Geography Portal)'}")
    for v, d in info["vintages"].items():
        click.echo(f"\nVintage {v}: {d['description']}\n  atlas: {d['atlas']}")
        for role, ds in d["datasets"].items():
            click.echo(f"  {role:22} {ds['title']}")
            click.echo(f"  {'':22} {ds['count']} rows; {ds['licence']}; {'found: ' + ds['found'] if ds['found'] else 'not found locally'}")
    click.echo(f"\n{info['attribution']}")


@data.command("verify")
@click.option("--repair", is_flag=True, default=False, help="Rebuild the damaged folders (sources from the mirror or ONS).")
def data_verify(repair):
    """Check every cache folder in full: OK, DAMAGED, STALE or MISSING.

    Exits with status 1 when a folder is damaged (after --repair: still damaged).
    """
    import time

    from stpmap import _cache
    from stpmap import verify as _verify

    t = time.perf_counter()
    findings = _verify.verify(repair=repair)
    click.echo(f"Cache: {_cache.root()}")
    for f in findings:
        click.echo(f"{f.state.upper():8} {f.what:22} {f.folder}")
        for problem in f.problems:
            click.echo(f"{'':8} {problem}")
        if f.state == _cache.DAMAGED:
            click.echo(f"{'':8} Fix: {f.fix}")
    damaged = sum(f.state == _cache.DAMAGED for f in findings)
    click.echo(f"{damaged} damaged folder(s); checked in {time.perf_counter() - t:.1f} s.", err=True)
    if damaged:
        sys.exit(1)


# ------------------------------------------------------------ footprints


@main.command("footprints")
@vintage_option
@click.option("--group", "-g", default=None, help='A named group, e.g. "East of England"; `stpmap groups` lists them.')
@click.option("--groups-file", type=click.Path(exists=True, dir_okay=False), default=None, help="TOML/JSON file of your own groups.")
@click.option("--footprint", "-f", "footprints", multiple=True, metavar="NAME",
              help='Only this footprint: a code, ODS code ("QHG"), CCG ODS code ("02M"), name of any year or '
                   'abbreviation ("BLMK", "BNSSG"); repeatable. `stpmap names` lists them.')
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "geojson", "gpkg", "parquet", "hexjson"]), default="table", show_default=True,
              help="hexjson: a hex cartogram, one hex per footprint (or CCG, with --layer ccg).")
@click.option("--layer", type=click.Choice(["stp", "ccg"]), default="stp", show_default=True, help="With --format hexjson: one hex per footprint or per CCG.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="File to write (default: standard output).")
def footprints_cmd(vintage, group, groups_file, footprints, fmt, layer, output):
    """List the STP footprints with population and regions."""
    from stpmap.files import export as _export
    from stpmap.data.registry import registry

    attribution = registry().attribution()
    if layer != "stp" and fmt != "hexjson":
        from stpmap.errors import InputError

        raise InputError(f"--layer {layer} is for --format hexjson; the other formats list footprints (drop --layer).")
    if fmt == "hexjson" and footprints:
        from stpmap.errors import InputError

        raise InputError("--format hexjson lays out a whole layer or a --group; drop --footprint.")
    with _name_warnings():
        if fmt == "hexjson":
            from stpmap.maps import hexes as _hexes

            df = _hexes.hexes(vintage, layer, group, groups_file=groups_file)
        elif fmt in _export.SPATIAL_FORMATS:
            from stpmap.data import layers as _api

            df = _api.footprints(vintage, group, footprint=list(footprints) or None, groups_file=groups_file)
        else:  # attributes only: no geopandas on this path
            df = _footprint_table(vintage, group, groups_file, list(footprints))
    from stpmap import settings as _settings

    v = int(vintage or _settings.default_vintage)
    _export.write(df, fmt, output, attribution, table_columns=STP_TABLE_COLUMNS, vintage=v,
                  population_source=registry().population_note(v), layer="stp")
    if output is not None and str(output) != "-":
        click.echo(f"Wrote {output} ({len(df)} {'CCGs' if layer == 'ccg' else 'footprints'}, vintage {v}, {fmt})", err=True)


def _footprint_table(vintage, group, groups_file, footprints=()):
    from stpmap.data import atlas as _atlas
    from stpmap.data.selection import select_codes
    from stpmap import settings as _settings

    v = vintage or _settings.default_vintage
    t = _atlas.table("stp", v)
    codes = select_codes(v, group or None, groups_file, list(footprints) or None)
    if codes is not None:
        t = t[t["code"].isin(codes)].reset_index(drop=True)
    return t[[c for c in STP_CSV_COLUMNS if c in t.columns]]


@contextmanager
def _name_warnings():
    """Show each fuzzy match of a footprint name as one plain line on stderr."""
    import warnings

    from stpmap.data.aliases import FootprintNameWarning

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", FootprintNameWarning)
        try:
            yield
        finally:
            mine = [w for w in seen if issubclass(w.category, FootprintNameWarning)]
            for w in mine:
                click.echo(f"Note: {w.message}", err=True)
    for w in seen:
        if w not in mine:  # anyone else's warnings as they would have been
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


@main.command("groups")
@vintage_option
@click.option("--groups-file", type=click.Path(exists=True, dir_okay=False), default=None)
def groups_cmd(vintage, groups_file):
    """List the named groups of footprints."""
    from stpmap.data import groups as _groups
    from stpmap import settings as _settings

    v = vintage or _settings.default_vintage
    for g in _groups.all_groups(v, groups_file):
        click.echo(f"{g.qualified:70} {len(g.codes):3} footprints")


@main.command("names")
@click.argument("query", required=False)
@click.option("--vintage", "-v", default=None, callback=_vintage_cb, metavar="YEAR",
              help="Only the names of this vintage (2017 to 2022), with its CCGs' ODS codes. Default: every vintage.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def names_cmd(query, vintage, fmt):
    """The names, abbreviations and codes of the footprints, with their source.

    With QUERY, only the footprints it names (as `--footprint` would find
    them) or whose names contain it; with --vintage, only the names of that
    vintage, and the ODS codes of its CCGs.

    \b
    Examples:
      stpmap names                       # every alias of every vintage
      stpmap names BLMK                  # all the names of one footprint
      stpmap names essex --vintage 2017
      stpmap names "Cumbria and North East" --vintage 2017
    """
    from stpmap.data import aliases as _aliases

    with _name_warnings():
        rows, notes = _aliases.search(query, vintage)
    for note in notes:
        click.echo(f"Note: {note}", err=True)
    click.echo(_aliases.rows_text(rows, fmt), nl=False)


# --------------------------------------------------------------- lineage


@main.command("history")
@click.argument("footprint")
@click.option("--vintage", "-v", "vintages", multiple=True, metavar="YEAR",
              callback=lambda ctx, param, values: [_vintage_cb(ctx, param, v) for v in values],
              help="Only these vintages (repeatable); changes are then read between them. Default: every vintage.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def history_cmd(footprint, vintages, fmt):
    """A footprint through every vintage: code, name, population and what
    changed (merged, split, gained, lost, renamed, renumbered).

    FOOTPRINT is a code or a name of any vintage; it is followed from the
    vintage it names, forwards and backwards, by where most of its people went.

    \b
    Examples:
      stpmap history E54000047                  # West, North and East Cumbria (2017) onwards
      stpmap history "Surrey Heartlands"
      stpmap history E54000050 --format csv > cne.csv
      stpmap history BLMK -v 2017 -v 2021       # from 2017 straight to 2021
    """
    from stpmap.data.history import history
    from stpmap.files import export as _export

    with _name_warnings():
        df = history(footprint, vintages or None)
    a = df.attrs
    click.echo(f"{footprint!r}: {a['resolved_code']} of {a['resolved_vintage']}, followed through each vintage "
               "to the footprint holding most of its people.", err=True)
    if fmt != "table":
        _export.write(df, fmt, None, a["attribution"], query=a["query"], resolved_code=a["resolved_code"],
                      resolved_vintage=a["resolved_vintage"], population_source=a["population_source"])
        return
    click.echo(_history_text(df), nl=False)


def _history_text(df) -> str:
    """A history as an aligned table, each change's details wrapped under its row."""
    import textwrap

    head = ["vintage", "code", "name", "population", "change"]
    rows = [head] + [[str(r.vintage), r.code, r.name, f"{r.population:,}", r.change] for r in df.itertuples()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for i, row in enumerate(rows):
        cells = [c.rjust(w) if k == 3 else c.ljust(w) for k, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        details = df["details"].iloc[i - 1] if i else ""
        lines += textwrap.wrap(details, 110, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines) + f"\n\n{df.attrs['population_source']}\n{df.attrs['attribution']}\n"


@main.command("crosswalk")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--from", "from_vintage", required=True, callback=_vintage_cb, metavar="YEAR",
              help="The vintage of the codes in FILE.")
@click.option("--to", "to_vintage", required=True, callback=_vintage_cb, metavar="YEAR",
              help="The vintage of the footprints to carry the figures to.")
@click.option("--code", default=None, metavar="COLUMN",
              help="The column of footprint (E54) or CCG (E38) codes. Default: the one column holding them.")
@click.option("--value", "values", multiple=True, metavar="COLUMN", help="A column of figures to carry over; repeatable.")
@click.option("--how", type=click.Choice(["sum", "mean"]), default="sum", show_default=True,
              help="sum: counts shared out by population; mean: population-weighted mean (rates, percentages).")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False), default=None, metavar="FILE",
              help="Your own LSOA weights (columns lsoa_code, weight) instead of the population.")
@click.option("--encoding", default=None, metavar="E", help="Encoding of a CSV FILE (default UTF-8), e.g. cp1252.")
@click.option("--sheet", default=None, metavar="S", help="Sheet of an XLSX FILE (default: the first).")
@click.option("--output", "-o", default=None, metavar="FILE.csv", help="CSV file to write (default: standard output).")
def crosswalk_cmd(file, from_vintage, to_vintage, code, values, how, weights, encoding, sheet, output):
    """Carry a table by footprint (or CCG) of one vintage to the footprints of
    another, through the people of each LSOA.

    FILE (CSV, XLSX or Parquet) has one row per footprint or CCG of --from.
    The result has one row per footprint of --to, sorted by code: code, name,
    the values, and coverage (the share of its people the input covers).

    \b
    Examples:
      stpmap crosswalk beds.csv --from 2017 --to 2021 --value beds -o beds-2021.csv
      stpmap crosswalk rates.xlsx --from 2017 --to 2021 --code ccg17cd --value rate --how mean
    """
    import warnings
    from pathlib import Path

    from stpmap.data.crosswalk import CrosswalkWarning, crosswalk
    from stpmap.errors import InputError
    from stpmap.files import export as _export

    to_file = output is not None and str(output) != "-"
    if to_file and not str(output).lower().endswith(".csv"):
        raise InputError(f"stpmap crosswalk writes CSV: give an output name ending in .csv, not {output!r}.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CrosswalkWarning)
        df = crosswalk(file, from_vintage, to_vintage, code=code, value=list(values), how=how, weights=weights,
                       encoding=encoding, sheet=sheet)
    a = df.attrs
    if code is None:
        click.echo(f"Codes from column {a['code_column']!r} ({'CCG' if a['layer'] == 'ccg' else 'footprint'} "
                   f"codes of {from_vintage}).", err=True)
    for w in caught:
        if issubclass(w.category, CrosswalkWarning):
            click.echo(f"Note: {w.message}", err=True)
        else:  # anyone else's warnings as they would have been
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    text = _export.to_csv_text(df)
    if to_file:
        from stpmap.files.write import replaced_at_end

        with replaced_at_end(Path(output)) as tmp:
            tmp.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output} ({len(df)} footprints of {to_vintage}; {how} of "
                   f"{', '.join(a['value_columns'])})", err=True)
    else:
        click.echo(text, nl=False)
    click.echo(f"{a['population_source']}\n{a['attribution']}", err=True)


# ----------------------------------------------------------------- serve


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=8000, show_default=True)
@vintage_option
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="Let web pages from ORIGIN call the API (repeatable; '*' for any). Off by default.")
@click.option("--workers", "-w", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes; each loads the data (start-up time and memory of one server each).")
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
def serve_cmd(host, port, vintage, cors_origins, workers, access_log):
    """Run the postcode API and the searchable footprint map (http://HOST:PORT/, docs at /docs)."""
    try:
        from stpmap.serve import app as _serve
    except ImportError as exc:  # the 'serve' extra is not installed
        from stpmap.errors import InputError

        raise InputError(f"stpmap serve needs FastAPI and uvicorn ({exc}). Install them: pip install 'stpmap[serve]'") from None
    click.echo(f"stpmap serve: loading, then listening on http://{host}:{port}/ (API docs at /docs); Ctrl+C stops it", err=True)
    _serve.serve(host, port, vintage, list(cors_origins) or None, workers=workers, access_log=access_log)


# ---------------------------------------------------------------- lookup

LOOKUP_TABLE = [  # (header, keys joined with a space)
    ("postcode", ("postcode",)), ("status", ("status",)), ("footprint", ("footprint_code", "footprint_name")),
    ("ccg", ("ccg_ods_code", "ccg_name")), ("local authority", ("lad_code", "lad_name")), ("region", ("region",)),
    ("method", ("method",)), ("message", ("message",)),
]


@main.command("lookup")
@click.argument("postcodes", nargs=-1)
@vintage_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default=None,
              help="For postcodes given on the command line: table (default), json (always a list of records) or csv.")
@click.option("--input", "-i", "input_", type=click.Path(), default=None, metavar="FILE",
              help="Look up a whole file: .csv, .csv.gz, .tsv, .txt (tab), .xlsx or .parquet (with --engine dask: a folder or glob).")
@click.option("--column", "-c", default=None, metavar="NAME",
              help="The postcode column of --input (default: the one header containing 'postcode' or 'pcd').")
@click.option("--output", "-o", default=None, metavar="FILE",
              help="File to write, format from its extension (default: <input>-stpmap.<ext> beside the input).")
@click.option("--prefix", default=None, metavar="P",
              help="Put before the added column names, e.g. stp_ (default: none, or stpmap_ when a name clashes with "
                   "a column of --input).")
@click.option("--fields", default=None, metavar="LIST",
              help="Result columns to add to --input, separated by commas (default: postcode, status, message, "
                   "footprint_code, footprint_name, ccg_code, lad_code); 'all' for every one: adds ccg_ods_code, "
                   "ccg_name, lad_name, region, easting, northing, latitude, longitude, method, distance_m.")
@click.option("--encoding", default=None, metavar="E", help="Encoding of a CSV input (default UTF-8), e.g. cp1252.")
@click.option("--sheet", default=None, metavar="S", help="Sheet of an XLSX input (default: the first).")
@click.option("--engine", type=click.Choice(["pandas", "dask"]), default="pandas", show_default=True,
              help="dask: a folder (or glob) of Parquet/CSV files to a folder of Parquet files.")
@click.option("--no-progress", is_flag=True, default=False, help="No progress bar.")
@click.option("--escape-formulas", is_flag=True, default=False,
              help="CSV output: put a ' before text starting with = + - @ (or tab, CR), so that spreadsheets never run "
                   "it as a formula (XLSX: mark such cells as text). Default: cells as they were.")
def lookup_cmd(postcodes, vintage, fmt, input_, column, output, prefix, fields, encoding, sheet, engine, no_progress,
               escape_formulas):
    """Which STP footprint, CCG and local authority a postcode is in.

    \b
    Examples:
      stpmap lookup NG1 5DT                        # "NG1 5DT" or NG15DT: one postcode
      stpmap lookup "NG1 5DT" "LS1 4AP" --format json
      stpmap lookup --input patients.csv --column postcode   # adds stpmap_postcode...
      stpmap lookup -i patients.parquet -c pcd --fields status,footprint_code,region
      stpmap lookup -i gps.xlsx --sheet List -o gps-stp.parquet
      stpmap lookup -i 'extracts/*.parquet' -c pcd -o extracts-stp --engine dask

    Each result has a status: ok, invalid, not_found, outside_england,
    no_coordinates or pseudo. Statuses are data: the exit status is 0 whatever
    they are, and 2 for a usage error. --format json always writes a list.

    With --input, the added columns are compact: message only where the
    status is not ok; Parquet keeps the text columns dictionary-encoded.
    XLSX in or out is slow by nature: prefer CSV or Parquet for big files.
    """
    from stpmap.errors import InputError

    bulk_only = {"--column": column, "--output": output, "--fields": fields, "--encoding": encoding, "--sheet": sheet,
                 "--prefix": prefix, "--engine dask": engine if engine == "dask" else None,
                 "--escape-formulas": escape_formulas or None}
    if input_ is None:
        if not postcodes:
            raise InputError("Give postcodes (stpmap lookup \"NG1 5DT\") or a file (stpmap lookup --input FILE).")
        given = [k for k, val in bulk_only.items() if val is not None]
        if given:
            raise InputError(f"{', '.join(given)} only apply to --input FILE; for postcodes on the command line "
                             "choose the output with --format table|json|csv.")
        _lookup_postcodes(_join_postcodes(postcodes), vintage, fmt or "table")
        return
    if postcodes:
        raise InputError("Give either postcodes or --input FILE, not both. Put the postcodes in a file to look them up with it.")
    if fmt is not None:
        raise InputError("--format is for postcodes on the command line; with --input the output's extension "
                         "sets the format (--output FILE.csv, .xlsx or .parquet).")
    progress = False if no_progress else None
    if engine == "dask":
        if encoding or sheet or escape_formulas:
            raise InputError("--encoding, --sheet and --escape-formulas are for --engine pandas; the dask engine reads "
                             "UTF-8 CSV and Parquet, and writes Parquet, whose cells no spreadsheet runs as formulas.")
        from stpmap.files.lookup_folder import lookup_folder

        with _warnings_on_stderr():
            summary = lookup_folder(input_, column, output, vintage=vintage, prefix=prefix, fields=fields)
    else:
        from stpmap.files.lookup_file import lookup_file

        with _warnings_on_stderr():
            summary = lookup_file(input_, column, output, vintage=vintage, prefix=prefix, progress=progress,
                                  encoding=encoding, sheet=sheet, escape_formulas=escape_formulas, fields=fields)
    _print_summary(summary)


@contextmanager
def _warnings_on_stderr():
    """stpmap's warnings (a prefix chosen, cells cut) printed on stderr as they come, plainly."""
    import warnings

    from stpmap.errors import StpmapWarning

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, StpmapWarning):
            click.echo(f"Warning: {message}", err=True)
        else:
            shown(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.simplefilter("always", StpmapWarning)
        warnings.showwarning = show
        yield


def _join_postcodes(args) -> list[str]:
    """`stpmap lookup NG1 5DT` is one postcode: join an outward code with the inward code after it."""
    import re

    out, i = [], 0
    outward = re.compile(r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]?$")
    inward = re.compile(r"^[0-9][A-Za-z]{2}$")
    while i < len(args):
        a = args[i]
        if i + 1 < len(args) and outward.match(a.strip()) and inward.match(args[i + 1].strip()):
            out.append(f"{a.strip()} {args[i + 1].strip()}")
            i += 2
        else:
            out.append(a)
            i += 1
    return out


def _lookup_postcodes(postcodes, vintage, fmt):
    import json

    from stpmap.postcodes import lookup as _lookup
    from stpmap.data.registry import attribution

    records = [_lookup.lookup(pc, vintage=vintage) for pc in postcodes]
    keys = list(_lookup.RESULT_KEYS)
    if fmt == "json":
        click.echo(json.dumps([{k: r.get(k) for k in keys} for r in records], indent=2, ensure_ascii=False))
        click.echo(attribution(postcodes=True), err=True)
    elif fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(keys)
        for r in records:
            w.writerow(["" if r.get(k) is None else r.get(k) for k in keys])
        click.echo(buf.getvalue(), nl=False)
        click.echo(attribution(postcodes=True), err=True)
    else:
        rows = [[h for h, _ in LOOKUP_TABLE]]
        for r in records:
            rows.append([" ".join(str(r[k]) for k in ks if r.get(k) not in (None, "")) or "-" for _, ks in LOOKUP_TABLE])
        widths = [max(len(row[i]) for row in rows) for i in range(len(LOOKUP_TABLE))]
        for row in rows:
            click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        click.echo(f"\n{attribution(postcodes=True)}")


def _print_summary(s: dict) -> None:
    rows = s["rows"]
    click.echo(f"Looked up {rows:,} postcodes (column {s['column']!r}, vintage {s['vintage']}) "
               f"from {s['input']} in {s['seconds']:.1f} s", err=True)
    width = max(len(k) for k in s["statuses"])
    for status, n in s["statuses"].items():
        pct = 100.0 * n / rows if rows else 0.0
        click.echo(f"  {status:{width}}  {n:>12,}  {pct:5.1f}%", err=True)
    click.echo(s["attribution"], err=True)
    click.echo(f"Wrote {s['output']}")


# ------------------------------------------------------------------- map


_MAP_OPTIONS = [
    vintage_option,
    click.option("--group", "-g", default=None, help='Only the footprints of a named group, e.g. "East of England" (`stpmap groups` lists them).'),
    click.option("--footprint", "-f", "footprints", multiple=True, metavar="NAME",
                 help='Only this footprint: a code, ODS code ("QHG"), CCG ODS code ("02M"), name of any year or '
                      'abbreviation ("BLMK", "BNSSG"); repeatable. `stpmap names` lists them.'),
    click.option("--groups-file", type=click.Path(exists=True, dir_okay=False), default=None, help="TOML/JSON file of your own groups."),
    click.option("--layer", type=click.Choice(["stp", "ccg", "lad"]), default="stp", show_default=True, help="Areas to fill: footprints, CCGs or local authorities."),
    click.option("--overlay", type=click.Choice(["ccg", "lad"]), default=None, help="Areas to outline on top (a layer you can switch off in HTML)."),
    click.option("--colour-by", "--color-by", "colour_by", default=None, metavar="WHAT",
                 help="region (national default), nhs_region, nhs_local_office, footprint (default for selections and CCG/LA layers), population, or any column of the layer or of --data."),
    click.option("--data", type=click.Path(exists=True, dir_okay=False), default=None, help="Your CSV or XLSX to map, one row per footprint, CCG or local authority."),
    click.option("--join-on", default=None, metavar="COLUMN", help="Column of --data naming the areas: codes (E54/E38/ODS/E06...) or names. Default: guessed from the headers."),
    click.option("--value", default=None, metavar="COLUMN", help="Column of --data to map (default: its only numeric column)."),
    click.option("--aggregate", type=click.Choice(["sum", "mean"]), default=None,
                 help="Combine CCG (or LA) figures into footprints: sum (counts) or population-weighted mean (rates)."),
    click.option("--data-encoding", default=None, metavar="E",
                 help="Encoding of a CSV --data file (default UTF-8), e.g. cp1252 for CSV saved by Excel."),
    click.option("--data-vintage", default=None, callback=_vintage_cb, metavar="YEAR", help="Vintage of the codes or names in --data (default: found from them; mapped on its boundaries unless --vintage says otherwise)."),
    click.option("--scheme", default=None, metavar="NAME", help="Classes for numbers (mapclassify): quantiles (default), natural_breaks, equal_interval, fisher_jenks, headtail_breaks, prettybreaks, user_defined..."),
    click.option("--k", type=int, default=5, show_default=True, help="Number of classes."),
    click.option("--bins", default=None, metavar="X,Y,...", help="Class limits for --scheme user_defined."),
    click.option("--ramp", default=None, metavar="NAME", help="Colour ramp for numbers: nhs_blues (default), cividis, viridis or any matplotlib colormap."),
    click.option("--palette", default=None, metavar="NAME", help="Colours: nhs (NHS identity colours, the default) or analysis-function (UK Government Analysis Function; its blues for numbers unless --ramp)."),
    click.option("--labels", type=click.Choice(["name", "code", "none"]), default="name", show_default=True,
                 help="Static maps: names where they fit, numbered with a key where they do not."),
    click.option("--title", default=None, help="Map title (default: says what, where and when)."),
    click.option("--shape", type=click.Choice(["map", "hex"]), default="map", show_default=True,
                 help="map: the areas' boundaries; hex: a hex cartogram, one equal hexagon per footprint or CCG."),
    click.option("--facet", multiple=True, metavar="COLUMNS",
                 help="Small multiples: one map per column (of --data, else of the layer, e.g. pop_0_17,pop_65_plus), "
                      "2 to 6 side by side on one shared scale and legend; commas or repeated. PNG, SVG or PDF."),
    click.option("--facet-vintages", multiple=True, metavar="YEARS",
                 help="Small multiples: one map per vintage (e.g. 2017,2019,2022), each on its own boundaries, "
                      "coloured by --colour-by on one shared scale. PNG, SVG or PDF."),
]


def map_options(f):
    """The options that say what a map shows (shared by `map` and `report`);
    the command gets them as keywords, read by :func:`_map_options_from`."""
    for decorate in reversed(_MAP_OPTIONS):
        f = decorate(f)
    return f


def _map_options_from(kwargs: dict):
    """A MapOptions from the keywords of :func:`map_options` (taken out of
    ``kwargs``): each option's keyword is the MapOptions field of its name
    (``footprints``, given repeatedly, is ``footprint``)."""
    from dataclasses import fields

    from stpmap.maps.options import MapOptions

    o = {f.name: kwargs.pop(f.name) for f in fields(MapOptions) if f.name in kwargs}
    o["footprint"] = list(kwargs.pop("footprints")) or None
    for empty_is_default in ("bins", "ramp"):
        o[empty_is_default] = o.get(empty_is_default) or None
    return MapOptions(**o)


def _report_file(path, messages):
    from pathlib import Path

    for m in messages:
        click.echo(f"Warning: {m}", err=True)
    size_kb = Path(path).stat().st_size / 1024
    click.echo(f"Wrote {path} ({size_kb:,.0f} KB)")


@main.command("map")
@map_options
@click.option("--format", "fmt", type=click.Choice(["png", "html", "svg", "pdf"]), default=None,
              help="png (the default; or taken from -o), html (interactive), svg or pdf.")
@click.option("--offline", is_flag=True, default=False, help="HTML: one self-contained file (Leaflet inlined, no basemap) that opens with no network.")
@click.option("--dpi", type=click.IntRange(50, 1200), default=200, show_default=True, help="PNG resolution.")
@click.option("--size", default=None, metavar="WxH",
              help="Static size (default: 10 in wide, as tall as the map needs; a group takes its area's shape): inches (10x9), 20x15cm, 297x210mm, 1600x1200px, or a name: a4-text (16 cm wide), slide (13.33x7.5 in), a4, a4-landscape.")
@click.option("--output", "-o", type=click.Path(), default=None, help="File to write (default: maps/<what>.<format>). With --recipe: the folder.")
@click.option("--recipe", default=None, metavar="NAME", help="Render recipe(s): a name, 'all' (the standard set, and ./maps/*.toml), or a .toml file.")
@click.option("--alt-text", "alt_text", is_flag=True, default=False,
              help="Also print the map's alternative text (it is written into the file too: PNG/SVG/PDF metadata, HTML description).")
@click.option("--changes", "changes", nargs=2, default=None, metavar="FROM TO",
              help="Draw how the footprints changed from one vintage to another (e.g. 2017 2022): merged, moved, "
                   "renamed, renumbered; default file maps/changes-FROM-TO.<format>.")
def map_cmd(fmt, offline, dpi, size, output, recipe, alt_text, changes, **kwargs):
    """Draw a map of the footprints. With no options: the national map of the
    44 footprints (April 2017) as maps/footprints-2017.png.

    \b
    Examples:
      stpmap map                                     # maps/footprints-2017.png
      stpmap map --format html --overlay ccg         # interactive, with CCGs
      stpmap map --group London --layer ccg --format pdf
      stpmap map --colour-by population --scheme natural_breaks --k 4
      stpmap map --data beds.csv --join-on ccg_code --value beds --aggregate sum
      stpmap map --group "East of England" --size a4-text --alt-text
      stpmap map --vintage 2022 --shape hex --colour-by population   # hex cartogram
      stpmap map --recipe all                        # every standard map, into ./maps
      stpmap map --changes 2017 2022 --format html   # how the footprints changed
    """
    import warnings
    from pathlib import Path

    from stpmap.maps import recipes as _recipes

    if changes:
        return _changes_map(changes, fmt, output, offline, dpi, size, alt_text, recipe, kwargs)
    if recipe:
        for r in _recipes.resolve(recipe):
            click.echo(f"Recipe {r.name}: {r.description}" if r.description else f"Recipe {r.name}", err=True)
            _recipes.render(r, output, on_file=_report_file)
        return
    options = _map_options_from(kwargs)
    if fmt is None:
        suffix = Path(output).suffix.lower().lstrip(".") if output else ""
        fmt = suffix if suffix in _recipes.FORMATS else _recipes.DEFAULT_FORMAT
    path = Path(output) if output else Path("maps") / f"{_recipes.default_name(options)}.{fmt}"
    described = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = _recipes.write_map(path, fmt, options, offline=offline, dpi=dpi, size=size, describe=described.append)
    _report_file(path, [str(w.message) for w in caught if issubclass(w.category, UserWarning)])
    if alt_text:
        click.echo(f"Alt text: {described[0]}")


def _changes_map(pair, fmt, output, offline, dpi, size, alt_text, recipe, kwargs):
    """`stpmap map --changes FROM TO`: the lineage picture (stpmap.maps.changes).
    It is a national map of its own: of the other map options only --title
    and --labels apply, and naming any other is an error."""
    from dataclasses import fields
    from pathlib import Path

    from stpmap.maps import changes as _changes
    from stpmap.maps import recipes as _recipes
    from stpmap.maps.options import MapOptions

    options, default = _map_options_from(kwargs), MapOptions()
    other = [f"--{f.name.replace('_', '-')}" for f in fields(MapOptions)
             if f.name not in ("title", "labels") and getattr(options, f.name) != getattr(default, f.name)]
    if recipe or other:
        raise click.UsageError(f"--changes draws a map of its own: leave out {', '.join(other or ['--recipe'])} "
                               f"(only --title and --labels apply to it).")
    a, b = _changes.check_pair(*pair)
    if fmt is None:
        suffix = Path(output).suffix.lower().lstrip(".") if output else ""
        fmt = suffix if suffix in _recipes.FORMATS else _recipes.DEFAULT_FORMAT
    path = Path(output) if output else Path("maps") / f"{_changes.default_name(a, b)}.{fmt}"
    described = []
    path = _changes.write(path, a, b, fmt, offline=offline, dpi=dpi, size=size, labels=options.labels,
                          title=options.title, describe=described.append)
    _report_file(path, [])
    if alt_text:
        click.echo(f"Alt text: {described[0]}")


@main.command("report")
@map_options
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True,
              help="The report to write: .docx (Word, A4) or .pptx (PowerPoint, 16:9), by its suffix.")
@click.option("--per-footprint", is_flag=True, default=False,
              help="Add a page (slide) for each footprint: its CCGs and local authorities, mapped and tabled.")
@click.option("--dpi", type=click.IntRange(50, 600), default=200, show_default=True, help="Resolution of the map pictures.")
def report_cmd(output, per_footprint, dpi, **kwargs):
    """Write a Word or PowerPoint report: title, map (with alt text), a table
    of the figures shown, source and attribution.

    \b
    Examples:
      stpmap report --group "East of England" --colour-by population -o east.docx
      stpmap report --group London --per-footprint -o london.pptx
    """
    import warnings

    from stpmap.reports import check_format, write_report

    check_format(output)  # before any drawing: a wrong suffix is told at once
    options = _map_options_from(kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = write_report(output, options, per_footprint=per_footprint, dpi=dpi)
    _report_file(path, [str(w.message) for w in caught if issubclass(w.category, UserWarning)])


if __name__ == "__main__":  # pragma: no cover
    main()
