"""The product's vocabulary: facility and site kinds, damage terms, case statuses, report progress, roles.

The database enums of the same names hold exactly these values (a test compares them).
"""

from __future__ import annotations

FACILITY_KINDS = ("power_plant", "chp_plant", "heat_plant", "substation", "transformer", "line", "gas_facility",
                  "other")
SEVERITIES = ("minor", "moderate", "severe", "destroyed")
OPERATIONAL_STATUSES = ("operating", "degraded", "out_of_service")
HAZARDS = ("uxo", "fire", "structural", "live_wires", "access_blocked")
SITE_KINDS = ("hospital", "water_pumping", "wastewater_pumping", "heat_plant", "shelter", "telecom", "other")
POPULATION_METHODS = ("point_sum", "areal_weighting", "raster_exact", "given")
LINK_ORIGINS = ("given", "inferred")

CASE_STATUSES = ("reported", "confirmed", "assigned", "in_repair", "temporarily_restored", "repaired", "rejected",
                 "duplicate")
OPEN_CASE_STATUSES = ("reported", "confirmed", "assigned", "in_repair", "temporarily_restored")
CLOSED_CASE_STATUSES = ("repaired", "rejected", "duplicate")
# Cases drawn on the map and exported as damage: everything but what turned out not to be damage.
DAMAGE_CASE_STATUSES = tuple(s for s in CASE_STATUSES if s not in ("rejected", "duplicate"))
PROGRESS = ("repair_started", "temporarily_restored", "restored")
# May a crew start at the site: needs clearance (e.g. unexploded ordnance, by the military or emergency service),
# cleared, or blocked.
ACCESS_STATES = ("needs_clearance", "cleared", "blocked")
ROLES = ("crew", "coordinator", "admin")

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


# A crew's skills (a crew only takes work its skills allow) and where it stands: free, on its way, at a site, or
# outside its shift.
CREW_SKILLS = ("line", "substation", "generation", "hv")
CREW_STATUSES = ("available", "en_route", "on_site", "off_shift")

# The crew skill a repair of each facility kind needs (None: any crew); planning defaults for dispatch.
SKILL_FOR_KIND: dict[str, str | None] = {
    "power_plant": "generation", "chp_plant": "generation", "heat_plant": "generation", "substation": "substation",
    "transformer": "substation", "line": "line", "gas_facility": None, "other": None,
}
