"""Root conftest: the xai-eval plugin itself is loaded through its pytest11 entry point."""
