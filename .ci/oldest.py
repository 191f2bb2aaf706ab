"""Print the oldest pytest, pytest-xdist, pytest-benchmark and pytest-split that pyproject.toml allows, as pip pins.

The plugin hooks into these four (xdist's node ids and scheduling, pytest-benchmark's JSON, pytest-split's
collection hook), so CI runs the tests once more with them (`.ci/run`). Each must be declared with one lower
bound (``name>=X``; the same bound in several extras counts once).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PLUGIN_HOSTS = ("pytest", "pytest-xdist", "pytest-benchmark", "pytest-split")


def oldest(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    pins = []
    for name in PLUGIN_HOSTS:
        bounds = {m.group(1) for r in requirements if (m := re.fullmatch(rf"{re.escape(name)}\s*>=\s*([\w.]+)", r.strip()))}
        if len(bounds) != 1:
            raise SystemExit(f"{pyproject}: declare {name} with one lower bound '{name}>=X' (found {len(bounds)})")
        pins.append(f"{name}=={bounds.pop()}")
    return pins


if __name__ == "__main__":
    print(" ".join(oldest(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("pyproject.toml"))))
