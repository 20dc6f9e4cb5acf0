"""Registers every data-manager command with the app's command line."""

from __future__ import annotations

from flask import Flask

from app.imports import (
    crews,
    critical_sites,
    demo,
    demo_scenario,
    facilities,
    feed_links,
    population,
    regions,
    service_areas,
    switches,
)

COMMANDS = (facilities.import_facilities, feed_links.import_feeds, feed_links.infer_feeds,
            service_areas.import_service_areas, service_areas.derive_service_areas,
            critical_sites.import_critical_sites, population.import_population, population.recompute_population,
            crews.import_crews, switches.import_switches, demo.load_demo_command, demo_scenario.demo_scenario_command,
            regions.region_group)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
