"""A power flow on a switched pandapower network: does it stay within line and transformer loading limits and
voltage bounds?

The check runs pandapower's Newton-Raphson power flow (`pandapower.runpp`) on a copy of the network with the
damaged elements out of service and the proposed switches closed. Limits: each line's and transformer's
`max_loading_percent` where the network gives one, else 100 %; each bus's `min_vm_pu` / `max_vm_pu` where given,
else 0.9-1.1 pu (EN 50160's +-10 % for supply voltage). Only energised buses and elements are judged. Without
the electrical data it needs (or without pandapower) the check is reported as not possible, with the reason.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

WITHIN, OUTSIDE, NOT_POSSIBLE = "within_limits", "outside_limits", "not_possible"
VM_BOUNDS_PU = (0.9, 1.1)
LOADING_LIMIT_PERCENT = 100.0
NEEDED = {"line": ("length_km", "r_ohm_per_km", "x_ohm_per_km", "max_i_ka"),
          "trafo": ("sn_mva", "vn_hv_kv", "vn_lv_kv", "vk_percent", "vkr_percent"),
          "ext_grid": ("vm_pu",), "load": ("p_mw",)}
TABLES = {"line", "trafo", "trafo3w", "bus", "gen", "ext_grid", "load", "sgen"}


@dataclass(frozen=True)
class Breach:
    """One limit a power flow breaks: a line or transformer loaded over its limit (percent), or a bus outside its
    voltage bounds (pu); `element` is 'line 7 (name)'."""

    table: str  # 'line', 'trafo' or 'bus'
    element: str
    value: float
    low: float | None  # the lower bound (buses), else None
    high: float  # the loading limit, or the upper voltage bound


@dataclass(frozen=True)
class FlowCheck:
    """The verdict of a power flow on a switched network, the figures behind it, and each limit it breaks."""

    status: str  # WITHIN, OUTSIDE or NOT_POSSIBLE
    reason: str  # one sentence a coordinator reads
    max_line_loading_percent: float | None = None
    max_trafo_loading_percent: float | None = None
    min_vm_pu: float | None = None
    max_vm_pu: float | None = None
    violations: tuple[str, ...] = ()
    breaches: tuple[Breach, ...] = ()
    converged: bool | None = None  # None: no power flow ran

    def as_json(self) -> dict[str, Any]:
        """The check as JSON values."""
        return {"status": self.status, "reason": self.reason, "violations": list(self.violations),
                "max_line_loading_percent": self.max_line_loading_percent,
                "max_trafo_loading_percent": self.max_trafo_loading_percent,
                "min_vm_pu": self.min_vm_pu, "max_vm_pu": self.max_vm_pu, "converged": self.converged}


def missing_data(net: Any) -> str | None:
    """Why a power flow cannot run on this network (the first missing electrical value), or None."""
    if not len(net.ext_grid) and not len(net.get("gen", ())):
        return "the network has no external grid or generator to balance it"
    for table, columns in NEEDED.items():
        frame = net[table]
        for column in columns:
            if len(frame) and (column not in frame.columns or frame[column].isna().any()):
                count = len(frame) if column not in frame.columns else int(frame[column].isna().sum())
                return f"{count} {table} rows have no {column}"
    return None


def check_switching(net: Any, *, close: Iterable[int], out_of_service: Iterable[str]) -> FlowCheck:
    """Run a power flow with switches `close` (switch indices) closed and elements `out_of_service`
    ('line:7', 'trafo:1', 'bus:12', ...) taken out, and judge it against the limits."""
    try:
        import pandapower
    except ImportError:
        return FlowCheck(NOT_POSSIBLE, "the power-flow check was not possible: pandapower is not installed")
    reason = missing_data(net)
    if reason:
        return FlowCheck(NOT_POSSIBLE, f"the power-flow check was not possible: {reason}")
    switched = copy.deepcopy(net)
    for element in out_of_service:
        table, _, number = element.partition(":")
        if table in TABLES and int(number) in switched[table].index:
            switched[table].loc[int(number), "in_service"] = False
        elif table == "switch" and int(number) in switched.switch.index:
            switched.switch.loc[int(number), "closed"] = False  # a damaged switch cannot be closed
    for index in close:
        switched.switch.loc[int(index), "closed"] = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandapower's notes (numba missing) are not results
            pandapower.runpp(switched, numba=False)
    except Exception as exc:  # noqa: BLE001 - pandapower signals non-convergence and bad data by exceptions
        name = type(exc).__name__
        if "Converge" in name or "converge" in str(exc):
            return FlowCheck(OUTSIDE, "the power flow does not converge: the switched network cannot carry the "
                                      "load (voltage collapse)", violations=("no convergence",), converged=False)
        return FlowCheck(NOT_POSSIBLE, f"the power-flow check was not possible: {name}: {str(exc)[:160]}")
    return _judge(switched)


def _limit(frame: pd.DataFrame, column: str, default: float) -> pd.Series:
    values = frame[column] if column in frame.columns else pd.Series(default, index=frame.index)
    return values.fillna(default).astype(float)


def _judge(net: Any) -> FlowCheck:
    violations: list[str] = []
    breaches: list[Breach] = []
    peaks: dict[str, float | None] = {}
    for table in ("line", "trafo"):
        result = net[f"res_{table}"]
        loading = result["loading_percent"].dropna() if len(result) else pd.Series(dtype=float)
        limit = _limit(net[table], "max_loading_percent", LOADING_LIMIT_PERCENT)
        peaks[table] = round(float(loading.max()), 1) if len(loading) else None
        for index, value in loading.items():
            if value > limit[index]:
                breaches.append(Breach(table, _name(net, table, int(index)), round(float(value), 1), None,
                                       float(limit[index])))
                violations.append(f"{table} {_name(net, table, int(index))} loaded {value:.0f} % "
                                  f"(limit {limit[index]:g} %)")
    vm = net.res_bus["vm_pu"].dropna()
    low, high = _limit(net.bus, "min_vm_pu", VM_BOUNDS_PU[0]), _limit(net.bus, "max_vm_pu", VM_BOUNDS_PU[1])
    for index, value in vm.items():
        if not low[index] <= value <= high[index]:
            breaches.append(Breach("bus", _name(net, "bus", int(index)), round(float(value), 3), float(low[index]),
                                   float(high[index])))
            violations.append(f"bus {_name(net, 'bus', int(index))} at {value:.3f} pu "
                              f"(bounds {low[index]:g}-{high[index]:g} pu)")
    vmin = round(float(vm.min()), 3) if len(vm) else None
    vmax = round(float(vm.max()), 3) if len(vm) else None
    if violations:
        more = f" and {len(violations) - 3} more" if len(violations) > 3 else ""
        reason = f"the power flow breaks limits: {'; '.join(violations[:3])}{more}"
    else:
        reason = (f"the power flow stays within limits (lines up to {_figure(peaks['line'])} %, transformers up to "
                  f"{_figure(peaks['trafo'])} %, voltages {_figure(vmin)}-{_figure(vmax)} pu)")
    return FlowCheck(OUTSIDE if violations else WITHIN, reason, peaks["line"], peaks["trafo"], vmin, vmax,
                     tuple(violations), tuple(breaches), converged=True)


def _figure(value: float | None) -> str:
    return "?" if value is None or math.isnan(value) else f"{value:g}"


def _name(net: Any, table: str, index: int) -> str:
    name = net[table].at[index, "name"] if "name" in net[table].columns else None
    return f"{index} ({name})" if isinstance(name, str) and name else str(index)
