"""Writing an experiment's results: number formatting for reports, tables as CSV and netCDF.

Shared by the papers' pipelines (:mod:`neurosim.experiments.liu2025`,
:mod:`neurosim.experiments.liu2022`); figures are drawn by :mod:`neurosim.plot`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from neurosim.io import atomic_path, save

__all__ = ["fmt", "write_csv", "write_text", "table_to_netcdf"]


def fmt(x, nd: int = 3) -> str:
    """``x`` with ``nd`` decimals, or ``"n/a"`` for None / NaN / inf.

    >>> fmt(0.123456), fmt(float("nan")), fmt(2, 1)
    ('0.123', 'n/a', '2.0')
    """
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def write_csv(df: pd.DataFrame, path) -> None:
    """Write ``df`` without its index to ``path``, atomically."""
    with atomic_path(Path(path)) as tmp:
        df.to_csv(tmp, index=False)


def write_text(text: str, path) -> None:
    """Write ``text`` (UTF-8) to ``path``, atomically."""
    with atomic_path(Path(path)) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def table_to_netcdf(df: pd.DataFrame, path, attrs: dict) -> None:
    """Write a tidy table as a netCDF Dataset with one ``row`` dimension (booleans as int8,
    nullable ints as float64, objects as strings) and ``attrs`` as global attributes."""
    flat = df.copy()
    for col in flat.columns:
        if str(flat[col].dtype) in ("Int64", "boolean"):
            flat[col] = flat[col].astype("float64")
        elif flat[col].dtype == bool:
            flat[col] = flat[col].astype(np.int8)
        elif flat[col].dtype == object:
            flat[col] = flat[col].astype(str)
    ds = xr.Dataset.from_dataframe(flat.reset_index(drop=True).rename_axis("row"))
    ds.attrs.update(attrs)
    save(ds, path)
