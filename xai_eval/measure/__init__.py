"""What is measured: metrics (and their registry), sanity checks, spreads and distances, as functions of explainers and tensors."""
