"""xai-eval: a pytest-native regression gate for attribution methods.

Importing this package is cheap: torch and Captum are only imported by the
submodules that need them, so ``pytest --help`` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
