"""Print the oldest pytest, pytest-xdist and pytest-benchmark that pyproject.toml allows, as pip pins.

The plugin hooks into these three (xdist's node ids and scheduling, pytest-benchmark's JSON), so CI runs
the tests once more with them (`.ci/run`). Each must be declared with a lower bound (``name>=X``).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PLUGIN_HOSTS = ("pytest", "pytest-xdist", "pytest-benchmark")


def oldest(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    pins = []
    for name in PLUGIN_HOSTS:
        bounds = [m.group(1) for r in requirements if (m := re.fullmatch(rf"{re.escape(name)}\s*>=\s*([\w.]+)", r.strip()))]
        if len(bounds) != 1:
            raise SystemExit(f"{pyproject}: declare {name} once as '{name}>=X' (found {len(bounds)})")
        pins.append(f"{name}=={bounds[0]}")
    return pins


if __name__ == "__main__":
    print(" ".join(oldest(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("pyproject.toml"))))
