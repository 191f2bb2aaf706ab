"""The bottom layer: case keys, result records and the map encoding every other layer shares."""
