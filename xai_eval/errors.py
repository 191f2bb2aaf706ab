"""The one exception type xai-eval raises for bad input.

Its message is a single line that names what was wrong, where (file, option or
entry) and how to fix it. The plugin shows it without a traceback.
"""

from __future__ import annotations


class XaiEvalError(Exception):
    """Bad input or configuration, reported to the user as one line."""


class NotApplicable(XaiEvalError):
    """The method cannot be applied soundly to this model (the message names the layer)."""


class DeviceUnavailable(XaiEvalError):
    """The requested device is not on this machine (cases are skipped)."""
