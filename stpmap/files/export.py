"""Writing tables and layers in the formats the CLI offers, with attribution.

Every output carries the licence attribution, where the format has room for
it: a field of JSON and GeoJSON, the metadata of Parquet and GeoPackage, the
footer of the text table. CSV has no such place, and a comment line would
break ``pandas.read_csv``, R's ``read.csv``, Excel and DuckDB with their
defaults, so a CSV is plain (header on line 1) and the attribution and notes
go to standard error, for the person running the command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

FORMATS = ("table", "csv", "json", "geojson", "gpkg", "parquet", "hexjson")
SPATIAL_FORMATS = ("geojson", "gpkg", "parquet")
BINARY_FORMATS = ("gpkg", "parquet")


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(df.drop(columns=[c for c in ("geometry",) if c in df.columns]))


def to_csv_text(df: pd.DataFrame) -> str:
    """Plain CSV: the header on line 1, no comment lines (see the module docstring)."""
    return _plain(df).to_csv(index=False, lineterminator="\n")


def to_json_text(df: pd.DataFrame, attribution: str, **meta) -> str:
    records = json.loads(_plain(df).to_json(orient="records"))
    return json.dumps({**meta, "attribution": attribution, "count": len(records), "data": records}, indent=2, ensure_ascii=False) + "\n"


def to_geojson_text(gdf, attribution: str, **meta) -> str:
    fc = json.loads(gdf.to_crs(4326).to_json(drop_id=True))
    fc = {"type": "FeatureCollection", **meta, "attribution": attribution, "features": fc["features"]}
    return json.dumps(fc, ensure_ascii=False) + "\n"


def to_hexjson_text(hexes, attribution: str) -> str:
    """HexJSON of a frame from :func:`stpmap.maps.hexes.hexes` (one hex per
    area), with the attribution in a top-level ``attribution`` key."""
    from stpmap.maps.hexes import to_hexjson

    return to_hexjson(hexes, attribution=attribution)


def to_table_text(df: pd.DataFrame, attribution: str, columns=None, notes=()) -> str:
    plain = _plain(df)
    if columns:
        plain = plain[[c for c in columns if c in plain.columns and plain[c].notna().any()]]
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 60):
        body = plain.to_string(index=False)
    extra = "".join(f"{n}\n" for n in notes if n)
    return f"{body}\n\n{len(plain)} rows. {extra}{attribution}\n"


def write(df, fmt: str, output: str | Path | None, attribution: str, table_columns=None, **meta) -> None:
    """Write ``df`` in ``fmt`` to ``output`` (a path) or standard output.

    For CSV the attribution and notes are printed to standard error."""
    if fmt in BINARY_FORMATS and output is None:
        from stpmap.errors import InputError

        raise InputError(f"--format {fmt} writes a binary file: give one with -o FILE.")
    if fmt == "gpkg":
        md = {"attribution": attribution, **{k: str(v) for k, v in meta.items() if k != "layer"}}
        df.to_file(output, driver="GPKG", layer=meta.get("layer", "stpmap"), metadata=md)
        return
    if fmt == "parquet":
        import pyarrow.parquet as pq

        df.to_parquet(output, index=False)
        t = pq.read_table(output)
        md = dict(t.schema.metadata or {})
        md[b"attribution"] = attribution.encode()
        md.update({k.encode(): str(v).encode() for k, v in meta.items() if k != "layer"})
        pq.write_table(t.replace_schema_metadata(md), output)
        return
    notes = [meta["population_source"]] if meta.get("population_source") else []
    text = {
        "csv": lambda: to_csv_text(df),
        "json": lambda: to_json_text(df, attribution, **meta),
        "geojson": lambda: to_geojson_text(df, attribution, **meta),
        "table": lambda: to_table_text(df, attribution, table_columns, notes),
        "hexjson": lambda: to_hexjson_text(df, attribution),
    }[fmt]()
    if output is None or str(output) == "-":
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
    if fmt == "csv":
        sys.stderr.write("".join(f"{line}\n" for line in (*notes, attribution) if line))
