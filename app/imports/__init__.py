"""The data manager's commands: facilities, feeds, service areas, population, critical sites, the demo."""
