"""Boundaries, lookups and population: the registry of sources, fetching and
reading them, building the atlas of each vintage and reading it, the public
frames (layers), groups and names of footprints, and lineage between vintages."""
