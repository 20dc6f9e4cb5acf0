"""Population per service area from a population layer, with a conservation check."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd


@dataclass(frozen=True)
class Assignment:
    """People per service area, and the totals that prove nobody was counted twice or lost."""

    population: pd.Series  # indexed like the service areas, people
    inside_total: float  # people of the layer inside the union of the service areas
    outside_total: float  # people of the layer outside every service area

    @property
    def assigned_total(self) -> float:
        return float(self.population.sum())


def sum_points(areas: gpd.GeoSeries, points: gpd.GeoDataFrame, *, column: str) -> Assignment:
    """Sum point counts per area; a point on a shared edge counts once, for the first area in index order."""
    joined = gpd.sjoin(points[[column, points.geometry.name]], gpd.GeoDataFrame(geometry=areas),
                       how="inner", predicate="intersects")
    order = {label: position for position, label in enumerate(areas.index)}
    joined["__order"] = joined["index_right"].map(order)
    first = joined.sort_values("__order", kind="stable")
    first = first[~first.index.duplicated(keep="first")]
    population = first.groupby("index_right")[column].sum().reindex(areas.index, fill_value=0).astype(float)
    inside = float(points.loc[first.index, column].sum())
    return Assignment(population=population, inside_total=inside,
                      outside_total=float(points[column].sum()) - inside)
