"""How pytest gates it: the plugin, its settings and session, cases, baselines and the summary."""
