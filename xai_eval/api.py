"""The Python API: the numbers the gate trusts, one function call away.

    import xai_eval

    run = xai_eval.evaluate(model="efficientnet_lite0", methods=["IG", "Occlusion"], profile="quick")
    run.table()                                   # pandas DataFrame, one row per (model, method, image)
    run.check(baselines="fixtures/baselines")     # the gate's verdicts, as a DataFrame
    run.save("results.json")                      # the results file ``xai-eval report`` reads

It is the gate's own engine (:mod:`xai_eval.engine`): the same cases, paired draws, metrics, sanity checks
and comparisons, so a value here is the value ``pytest suites/`` records at the same seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xai_eval.config.images import SHIPPED_IMAGES
from xai_eval.config.settings import Settings, baselines_file, tool_table
from xai_eval.engine.session import XaiSession
from xai_eval.errors import NotApplicable, XaiEvalError
from xai_eval.measure.change import POLICIES
from xai_eval.records.keys import CaseKey
from xai_eval.records.results import CaseResult, SanityRecord, SnapshotResult

from xai_eval.stores.known_failures import KnownFailures, is_strict

if TYPE_CHECKING:
    import pandas

    from xai_eval.engine.cases import CaseRun
    from xai_eval.models.bundle import ModelBundle

DEFAULT_NAME = "model"
"""The id of a model given as an ``nn.Module`` or ``ModelBundle`` without a ``name``."""


@dataclass
class Run:
    """What :func:`evaluate` computed: every case's metrics, sanity checks and seconds; :meth:`check` adds the
    gate's verdicts against recorded baselines."""

    session: XaiSession = field(repr=False)
    cases: dict[CaseKey, CaseRun] = field(default_factory=dict, repr=False)
    results: list[CaseResult] = field(default_factory=list, repr=False)
    sanity: list[SanityRecord] = field(default_factory=list, repr=False)
    snapshots: list[SnapshotResult] = field(default_factory=list, repr=False)
    not_applicable: dict[CaseKey, str] = field(default_factory=dict, repr=False)
    """Cases whose method cannot be applied soundly to the model (LRP on a layer with no rule), and why."""

    def table(self) -> pandas.DataFrame:
        """One row per (model, method, image): every metric's value, each sanity check's outcome, the seconds the
        case took, and why a case did not run (``not_applicable``)."""
        import pandas

        rows: dict[CaseKey, dict[str, Any]] = {}
        for key in self.session.case_keys():
            rows[key] = {"model": key.model, "method": key.method, "image": key.image}
        for r in self.results:
            rows[r.key][r.metric] = r.value
        for s in self.sanity:
            rows[s.key][f"sanity {s.check}"] = s.outcome
        for key, case in self.cases.items():
            rows[key]["seconds"] = round(case.total_seconds, 3)
        for key, reason in self.not_applicable.items():
            rows[key]["not_applicable"] = reason
        return pandas.DataFrame(list(rows.values()))

    def check(self, baselines: str | Path, snapshots: str | Path | None = None, *,
              fail_on: str | None = None) -> pandas.DataFrame:
        """Every recorded number against ``baselines`` (a baselines folder, or max sensitivity's ``.json`` file in
        it) and the snapshots (default: ``snapshots/`` beside it), as the gate decides: one row per (case, check)
        with its verdict (``pass``, ``fail``, ``missing``, ``invalid``, ``inconclusive``), what a change means,
        the values compared and the gate's message. The run's records take the verdicts, so :meth:`save` then
        writes what a gate run writes. ``fail_on`` is the policy (default: the project's, else ``change``). The
        sanity checks' outcomes and the cases that could not run (``not applicable``) are rows too, so a clean table
        is a clean gate."""
        import pandas

        from xai_eval.engine import comparison

        session = self.session
        fail_on = session.settings.fail_on if fail_on is None else fail_on
        if fail_on not in POLICIES:
            raise XaiEvalError(f"check(fail_on=...): expected one of {', '.join(map(repr, POLICIES))}, got {fail_on!r}")
        file = baselines_file(Path(baselines))
        session.settings = replace(session.settings, baselines=file, fail_on=fail_on,
                                   snapshots=None if snapshots is None else Path(snapshots))
        session.load_stores(file, session.settings.snapshots_folder)
        self._rejudge_sanity(KnownFailures.load(session.settings.known_failures_file))
        outcomes: list[tuple[CaseKey, str, comparison.Outcome]] = []
        for key, case in self.cases.items():
            for metric in session.profile.metrics:
                outcomes.append((key, metric, comparison.check_metric(session, case, metric, suite_nodeid(case.id, metric))))
            outcomes.append((key, "fingerprint", comparison.check_fingerprint(session, case, suite_nodeid(case.id, "fingerprint"))))
            outcomes.append((key, "snapshot", comparison.check_snapshot(session, case, suite_nodeid(case.id, "snapshot"))))
        self.results = [o.record for _, _, o in outcomes if isinstance(o.record, CaseResult)]
        self.snapshots = [o.record for _, _, o in outcomes if isinstance(o.record, SnapshotResult)]
        rows = []
        for key, check, o in outcomes:
            r = o.record
            row: dict[str, Any] = {"model": key.model, "method": key.method, "image": key.image, "check": check,
                                   "verdict": o.kind, "meaning": "" if r is None else r.meaning, "message": o.message}
            if isinstance(r, CaseResult):
                row |= {"value": r.value, "baseline": r.baseline}
            rows.append(row)
        verdict = {"passed": "pass", "xfailed": "pass", "xpassed": "pass", "failed": "fail", "skipped": "inconclusive"}
        for s in self.sanity:
            rows.append({"model": s.key.model, "method": s.key.method, "image": s.key.image, "check": f"sanity {s.check}",
                         "verdict": verdict.get(s.outcome, s.outcome), "meaning": "", "message": s.outcome})
        for key, reason in self.not_applicable.items():
            rows.append({"model": key.model, "method": key.method, "image": key.image, "check": "case",
                         "verdict": "not applicable", "meaning": "", "message": reason})
        return pandas.DataFrame(rows)

    def _rejudge_sanity(self, known: KnownFailures) -> None:
        """The sanity outcomes under the known failures beside ``baselines``, as a gate run against them gives."""
        old = self.session.known
        rejudged = []
        for record in self.sanity:
            was = bool(old.reason(record.key, record.check)[0])
            failed = record.outcome in ("failed", "xfailed") if not was else record.outcome == "xfailed"
            reason, where = known.reason(record.key, record.check)
            word = record.outcome if record.outcome == "skipped" else (
                ("xfailed" if failed else "failed" if is_strict(where) else "xpassed") if reason else ("failed" if failed else "passed"))
            rejudged.append(replace(record, outcome=word))
        self.sanity = rejudged
        self.session.known = known

    def save(self, path: str | Path) -> Path:
        """Write the results file (the format ``xai-eval report`` and ``xai-eval compare`` read); returns its path."""
        from xai_eval.records.results import write_results

        target = Path(path)
        write_results(target, self.results, self.sanity, self.session.run_info(), self.snapshots)
        return target


def _bundle(model: Any, transform: Callable[..., Any] | None, gradcam_layer: str | None, name: str) -> ModelBundle:
    from torch import nn

    from xai_eval.models.bundle import ModelBundle

    if isinstance(model, ModelBundle):
        if transform is not None or gradcam_layer is not None:
            raise XaiEvalError("evaluate(model=ModelBundle(...)): the bundle carries its transform and gradcam_layer; "
                               "don't pass them again")
        return model
    if isinstance(model, nn.Module):
        if transform is None or not gradcam_layer:
            raise XaiEvalError("evaluate(model=nn.Module): pass its preprocessing (transform=...) and the layer Guided "
                               "Grad-CAM explains (gradcam_layer=...), or pass a ModelBundle")
        return ModelBundle(model, transform, gradcam_layer, name=name)
    raise XaiEvalError(f"evaluate(model=...): expected a built-in name, 'module:callable', a ModelBundle or an nn.Module, "
                       f"got {type(model).__name__}")


LABELS = {"--xai-model": "evaluate(model=...)", "--xai-method": "evaluate(methods=...)", "--xai-profile": "evaluate(profile=...)",
          "--xai-device": "evaluate(device=...)", "--xai-seed": "evaluate(seed=...)", "--xai-threads": "evaluate(threads=...)"}
"""How :func:`evaluate`'s arguments are named in the configuration's one-line errors."""


def evaluate(
    model: Any = None,
    images: str | Path | None = None,
    methods: Sequence[str] | None = None,
    profile: str | None = None,
    device: str | None = None,
    seed: int | None = None,
    *,
    transform: Callable[..., Any] | None = None,
    gradcam_layer: str | None = None,
    name: str = "",
    sanity: bool = True,
    pyproject: str | Path | None = None,
    threads: int | None = None,
    paired_reruns: bool | None = None,
    progress: bool = True,
) -> Run:
    """Compute every (model, method, image) case as the gate does: each metric of the profile, the sanity checks
    (``sanity=False`` leaves them out) and the seconds each case took.

    ``model`` is a built-in name (``efficientnet_lite0``, ``resnet18``), a ``"module:callable"`` returning a
    ``ModelBundle``, a ``ModelBundle``, or an ``nn.Module`` in eval mode with its ``transform`` and
    ``gradcam_layer`` (named ``name``, default ``model``; the module is deep-copied, never changed). ``images`` is
    a folder with a ``manifest.toml`` (default: the three photos shipped with xai-eval). ``pyproject`` reads a
    project's ``[tool.xai_eval]`` as the gate does (the arguments given here win over it; a ``module:callable``
    is imported from its folder). Bad arguments raise :class:`~xai_eval.errors.XaiEvalError` with the gate's
    one-line messages. ``paired_reruns`` makes :meth:`Run.check` rerun a changed case on its recorded seeds, as
    ``--xai-paired-reruns`` does. A progress bar (tqdm) shows the cases unless ``progress=False``. Like the gate, it sets
    torch's thread count (``threads``, default: the usable cores) for the process.
    """
    from xai_eval.config.settings import resolve
    from xai_eval.engine.sanity import CHECKS, ONE_IMAGE, applies

    given: dict[str, ModelBundle] = {}
    if model is not None and not isinstance(model, str):
        spec = name or getattr(model, "name", "") or DEFAULT_NAME
        given[spec] = _bundle(model, transform, gradcam_layer, spec)
        model = spec
    elif transform is not None or gradcam_layer is not None:
        raise XaiEvalError(f"evaluate(model={model!r}): transform and gradcam_layer go with an nn.Module, not a name")
    path = None if pyproject is None else Path(pyproject)
    if path is not None and not path.is_file():
        raise XaiEvalError(f"evaluate(pyproject=...): {path}: no such file; give the project's pyproject.toml")
    options = {"--xai-model": None if model is None else [model], "--xai-profile": profile, "--xai-device": device,
               "--xai-method": [methods] if isinstance(methods, str) else None if methods is None else list(methods),
               "--xai-images": None if images is None else str(images), "--xai-seed": seed, "--xai-threads": threads,
               "--xai-paired-reruns": paired_reruns}
    settings = resolve(options, path, Path.cwd(), LABELS)
    session = XaiSession(settings, bundles=given)
    session.model_option = LABELS["--xai-model"]
    session.prepare(stores=False)
    run = Run(session)
    keys = session.case_keys()
    first_image = session.images[0].id
    for key in _progress(keys, progress):
        case = _case(session, key, run)
        if case is None:
            continue
        run.cases[key] = case
        for metric in session.profile.metrics:
            value = case.metric(metric)
            run.results.append(CaseResult(key, suite_nodeid(case.id, metric), value.value, None, "measured",
                                          case.seconds_of(metric), metric=metric, details=dict(value.details),
                                          seed=case.run_seed, undefined=value.undefined))
        for check in CHECKS if sanity else ():
            if applies(check, key.method) and (check not in ONE_IMAGE or key.image == first_image):
                run.sanity.append(_sanity(case, check, session.known))
    return run


def suite_nodeid(case_id: str, check: str) -> str:
    """The node id of ``check`` of a case in the shipped suites (``xai-eval init`` writes them): what a message's
    accept command names."""
    if check == "max_sensitivity":
        return f"suites/test_sensitivity.py::test_max_sensitivity[{case_id}]"
    if check in ("snapshot", "fingerprint"):
        return f"suites/test_snapshot.py::test_{check}[{case_id}]"
    return f"suites/test_metrics.py::test_metric[{case_id}-{check}]"


def _case(session: XaiSession, key: CaseKey, run: Run) -> CaseRun | None:
    try:
        case = session.run(key)
        case.explainer.attributor  # builds the Captum object and the adapted model copy
        return case
    except NotApplicable as exc:
        run.not_applicable[key] = str(exc)
        return None


def _sanity(case: CaseRun, check: str, known: KnownFailures) -> SanityRecord:
    """A sanity check's record, with the outcome word the gate's results file records for it."""
    from xai_eval.engine.sanity import outcome_word, run_check

    reason, where = known.reason(case.key, check)
    outcome = run_check(case, check, reason, strict=is_strict(where))
    record = SanityRecord(case.key, check, dict(outcome.values), outcome_word(outcome))
    return record


def _progress(keys: list[CaseKey], show: bool) -> Any:
    if not show:
        return keys
    from tqdm.auto import tqdm

    return tqdm(keys, desc="xai-eval cases", unit="case")
