"""The stores of recorded numbers: baselines files, snapshots folders, and recording into them."""
