"""The damage vocabulary: facility kinds, severities, operational status, hazards and components per kind."""

from __future__ import annotations

FACILITY_KINDS = ("power_plant", "chp_plant", "heat_plant", "substation", "transformer", "line", "gas_facility",
                  "other")
SEVERITIES = ("minor", "moderate", "severe", "destroyed")
OPERATIONAL_STATUSES = ("operating", "degraded", "out_of_service")
HAZARDS = ("uxo", "fire", "structural", "live_wires", "access_blocked")

_PLANT = ("turbine", "generator", "boiler", "step_up_transformer", "switchyard", "cooling", "fuel_supply",
          "control_room", "building")
# Damaged components a crew can tick, by facility kind; "other" is always allowed.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "power_plant": _PLANT,
    "chp_plant": (*_PLANT, "heat_exchanger", "district_heating_pump"),
    "heat_plant": ("boiler", "heat_exchanger", "district_heating_pump", "pipework", "fuel_supply", "control_room",
                   "building"),
    "substation": ("transformer", "breaker", "disconnector", "busbar", "protection_relay", "scada", "cable",
                   "control_room", "building", "fence"),
    "transformer": ("windings", "bushing", "tap_changer", "cooling", "oil_tank", "breaker", "cable"),
    "line": ("tower", "pole", "conductor", "insulator", "crossarm", "cable", "earth_wire"),
    "gas_facility": ("compressor", "pipework", "valve", "metering", "control_room", "building"),
    "other": (),
}


def allowed_components(kind: str) -> tuple[str, ...]:
    """The components a report on a facility of this kind may name."""
    return (*COMPONENTS.get(kind, ()), "other")
