"""Key stage 1 teacher assessment: what is KS1's own (its outcome rules, its subject lists);
its codes, dates and settings are data in `engine/definitions/ks1-*.toml`."""

COLLECTION = "KS1"  # the definitions' `[collection] collection`
