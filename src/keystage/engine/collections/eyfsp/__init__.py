"""The early years foundation stage profile (EYFSP): what is the profile's own (its rules on the
17 early learning goals, its measures, reports and synthetic children); its goals, areas,
codes, dates and settings are data in `engine/definitions/eyfsp-*.toml`."""

COLLECTION = "EYFSP"  # the definitions' `[collection] collection`
