"""The exceptions of xai-eval: bad input (one line), and a check that could not decide.

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


class Inconclusive(Exception):
    """A check that ran and could not decide. The pytest plugin reports it as a skip whose reason starts with
    ``inconclusive:``, counted in the summary, never a pass; ``--xai-strict`` fails skipped *cases* (cases that
    did not run) and leaves these visible rather than failing them."""
