"""What is measured: max sensitivity and the sanity checks, as functions of explainers and tensors."""
