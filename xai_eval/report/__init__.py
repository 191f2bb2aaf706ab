"""What is reported: reading benchmark JSON, Table I / Fig. 1, comparing runs, the ``xai-eval`` CLI."""
