"""The phonics screening check: what is the check's own (its rules on the mark and the outcome
code); its codes, dates, threshold and settings are data in `engine/definitions/phonics-*.toml`."""

COLLECTION = "PHONICS"  # the definitions' `[collection] collection`
