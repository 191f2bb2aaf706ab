"""The core that runs a case: the case computation, the per-run session, its verdicts and provenance."""
