"""GridTriage's pure domain: service areas, population, feed topology, triage and file formats."""
