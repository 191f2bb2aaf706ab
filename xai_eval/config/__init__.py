"""Configuration: settings, run profiles, thresholds and image manifests (validated against the registries)."""
