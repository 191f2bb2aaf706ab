"""A run's state: settings, loaded models, cached cases and results (the gate's and the API's alike)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xai_eval.stores.baselines import BaselineStore, metric_baselines_path
from xai_eval.stores.known_failures import KnownFailures
from xai_eval.stores.snapshots import SnapshotStore
from xai_eval.records.keys import CaseKey
from xai_eval.records.results import CaseResult, SanityRecord, SnapshotResult
from xai_eval.engine.cases import CaseRun, ModelOnPhoto
from xai_eval.measure.metrics import MAX_SENSITIVITY
from xai_eval.errors import DeviceUnavailable, XaiEvalError
from xai_eval.files import check_readable
from xai_eval.config.images import ImageEntry, load_manifest
from xai_eval.explain.methods import get_method
from xai_eval.models.registry import load_model, model_id, validate_model_name
from xai_eval.config.profiles import Profile, get_profile, resolve_profiles
from xai_eval.config.settings import Settings
from xai_eval.config.thresholds import Thresholds, parse_thresholds

if TYPE_CHECKING:
    from xai_eval.explain.explainer import Explainer
    from xai_eval.models.bundle import ModelBundle


class XaiSession:
    """Created once per run (in ``pytest_configure``, or by :func:`xai_eval.evaluate`); validates inputs lazily, on first use."""

    def __init__(self, settings: Settings, workers: int = 1, shard: dict[str, int] | None = None,
                 bundles: Mapping[str, ModelBundle] | None = None) -> None:
        self.settings = settings
        self._code: dict[str, Any] | None = None
        self.given = dict(bundles or {})
        self.model_option = "--xai-model"
        """How messages name where the models come from (the Python API names its argument)."""
        """Models given as objects (the Python API), by the name in ``settings.models``: loaded from here, not
        from the registry."""
        self.workers = workers
        self.shard = shard
        """``{"group": i, "splits": N}`` when this run is one shard of N (pytest-split), else None."""
        self._threads_applied = False
        self._prepared = False
        self.profile: Profile
        self.profiles: dict[str, Profile] = {}
        self.images: tuple[ImageEntry, ...] = ()
        self.baselines: BaselineStore
        """Max sensitivity's baselines (``--xai-baselines``)."""
        self.metric_baselines: dict[str, BaselineStore] = {}
        """Every metric's baselines (max sensitivity's included), for the profile's metrics."""
        self.snapshots: SnapshotStore
        self.known = KnownFailures(settings.known_failures_file)
        """The sanity checks known to fail, and why (the project's and the shipped ones)."""
        self.thresholds: Thresholds = Thresholds({})
        self.snapshot_results: list[SnapshotResult] = []
        self.snapshot_counts: tuple[int, int] | None = None
        self._bundles: dict[str, ModelBundle | XaiEvalError] = {}
        self._explainers: dict[tuple[str, str], Explainer] = {}
        self._runs: dict[CaseKey, CaseRun] = {}
        self._photos: dict[tuple[str, str], ModelOnPhoto] = {}
        self.results: list[CaseResult] = []
        self.sanity: list[SanityRecord] = []
        self.update_counts: dict[str, tuple[Path, int, int]] = {}
        """Per metric whose baselines were written: the file, and its updated and new entries."""

    def prepare(self, *, stores: bool = True) -> None:
        """Validate names, the manifest, the images and (unless ``stores`` is false: the API before a check) the
        baselines and snapshots (one-line errors)."""
        if self._prepared:
            return
        s = self.settings
        self.profiles = resolve_profiles(s.profile_tables, s.config_file)
        self.profile = get_profile(s.profile, self.profiles)
        for spec in s.models:
            if spec not in self.given:
                validate_model_name(spec, self.model_option, root=s.root)
        for name in s.methods:
            get_method(name)
        for model, methods in s.exclude.items():
            for method in methods:
                get_method(method, where=f"{s.config_file} [tool.xai_eval.exclude.\"{model}\"] {method}")
        self.images = load_manifest(s.images)
        for entry in self.images:
            entry.load()
        if stores:
            self.load_stores(s.baselines, s.snapshots_folder)
        self.known = KnownFailures.load(s.known_failures_file)
        from xai_eval.explain.methods import METHODS

        self.thresholds = parse_thresholds(s.thresholds, profiles=self.profiles, methods=METHODS, models=self.model_ids,
                                           config_file=s.config_file)
        self._prepared = True

    @property
    def model_ids(self) -> tuple[str, ...]:
        """The ids a baselines entry or a threshold may name: the built-in models and this run's."""
        from xai_eval.models.registry import MODEL_NAMES

        return (*MODEL_NAMES, *(model_id(m) for m in self.settings.models))

    def load_stores(self, baselines: Path, snapshots: Path) -> None:
        """Load and validate the baselines of the profile's metrics (max sensitivity's at ``baselines``, every other
        metric's beside it) and the snapshots folder ``snapshots``."""
        from xai_eval.explain.methods import METHODS

        if baselines.is_file():
            check_readable(baselines, "a baselines file", "fix --xai-baselines (or baselines)")
        self.baselines = BaselineStore.load(baselines)
        self.metric_baselines = {MAX_SENSITIVITY: self.baselines}
        for metric in self.profile.metrics:
            path = metric_baselines_path(baselines, metric)
            if metric != MAX_SENSITIVITY:
                if path.is_file():
                    check_readable(path, f"the {metric} baselines file", "make it readable or delete it")
                self.metric_baselines[metric] = BaselineStore.load(path, metric)
        self.snapshots = SnapshotStore.load(snapshots)
        for store in self.metric_baselines.values():
            store.validate(self.profiles, METHODS, self.model_ids)

    def calibration_seeds(self) -> list[int]:
        """The K seeds calibration recomputes each case under: never the small integers a user passes to
        ``--xai-seed``; recorded beside every number, they are the seeds a paired rerun repeats."""
        return [10_000 + 1_000 * self.settings.seed + i for i in range(1, self.settings.calibrate + 1)]

    @property
    def usable_cores(self) -> int:
        import os

        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    @property
    def threads(self) -> int:
        """torch threads for this process: ``--xai-threads``, else usable cores / xdist workers (>= 1)."""
        return self.settings.threads or max(1, self.usable_cores // self.workers)

    def threads_line(self) -> str:
        why = "--xai-threads" if self.settings.threads else f"{self.usable_cores} usable core(s) / {self.workers} worker(s)"
        return f"{self.threads} torch thread(s) per process ({why})"

    def run_info(self) -> dict[str, Any]:
        """How this run computed its numbers, for the results file and the benchmark JSON: what ``xai-eval merge``
        requires its shards to share, and which shard of how many it was."""
        from xai_eval.engine.provenance import versions

        info = {"profile": self.settings.profile, "seed": self.settings.seed, "device": self.settings.device,
                "threads": self.threads, "workers": self.workers, "calibration_seeds": self.settings.calibrate,
                "versions": versions(), "code": self.code()}
        return info if self.shard is None else {**info, "shard": self.shard}

    def code(self) -> dict[str, Any]:
        """The run's code identity (:func:`xai_eval.engine.provenance.code_identity` of the resolved profile's
        settings), made once per session; resolved here, so an xdist controller, which never prepares, records
        what its workers do."""
        from xai_eval.engine.provenance import code_identity, profile_settings

        if self._code is None:
            s = self.settings
            self._code = code_identity(profile_settings(get_profile(s.profile, resolve_profiles(s.profile_tables, s.config_file))))
        return self._code

    def work_info(self) -> dict[str, Any]:
        """What this run was asked to compute (:func:`xai_eval.engine.provenance.work_info`); after :meth:`prepare`."""
        from xai_eval.engine.provenance import work_info

        return work_info(self.profile, self.settings.models, self.method_names, self.images)

    def apply_threads(self) -> None:
        if not self._threads_applied:
            import torch

            torch.set_num_threads(self.threads)
            self._threads_applied = True

    @property
    def method_names(self) -> tuple[str, ...]:
        from xai_eval.explain.methods import METHODS

        return self.settings.methods or tuple(METHODS)

    def case_keys(self) -> list[CaseKey]:
        """Every case of the run: each model with each method (less those excluded for it) on each image."""
        self.prepare()
        return [
            CaseKey(self.profile.name, model_id(spec), method, image.id)
            for spec in self.settings.models
            for method in self.method_names if method not in self.settings.exclude.get(model_id(spec), {})
            for image in self.images
        ]

    def _model_spec(self, model: str) -> str:
        return next(spec for spec in self.settings.models if model_id(spec) == model)

    def bundle(self, model: str) -> ModelBundle:
        """The loaded model (once per run), on the configured device, in eval mode."""
        if model not in self._bundles:
            try:
                self._bundles[model] = self._load(self._model_spec(model))
            except XaiEvalError as exc:
                self._bundles[model] = exc
        loaded = self._bundles[model]
        if isinstance(loaded, XaiEvalError):
            raise loaded
        return loaded

    def _load(self, spec: str) -> ModelBundle:
        import copy
        from dataclasses import replace

        self.apply_threads()
        device = self.device()
        if device.type == "cuda":
            _gated_numbers_on_cuda()
        if spec in self.given:
            bundle = self.given[spec].with_name(spec)
        else:
            bundle = load_model(spec, self.profile.image_size, resnet18_weights=self.settings.resnet18_weights,
                                root=self.settings.root, where=self.model_option)
        _refuse_training_mode(spec, bundle.model)
        model = copy.deepcopy(bundle.model).eval().to(device)
        if bundle.channels_last:
            import torch

            model = model.to(memory_format=torch.channels_last)
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        return replace(bundle, model=model)

    def device(self) -> Any:
        import torch

        name = self.settings.device
        try:
            device = torch.device(name)
        except RuntimeError:
            raise XaiEvalError(f"--xai-device: {name!r} is not a device; use cpu, cuda, cuda:N or mps") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise DeviceUnavailable(f"--xai-device {name}: no CUDA device on this machine; run on a GPU machine or use --xai-device cpu")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailable(
                f"--xai-device {name}: this machine has {torch.cuda.device_count()} CUDA device(s), numbered from 0; "
                "use --xai-device cuda:0"
            )
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise DeviceUnavailable(f"--xai-device {name}: MPS is not available here; run on Apple silicon or use --xai-device cpu")
        return device

    def explainer(self, model: str, method: str) -> Explainer:
        from xai_eval.explain.explainer import Explainer

        from xai_eval.engine.cases import method_draws

        if (model, method) not in self._explainers:
            bundle = self.bundle(model)
            spec = get_method(method)
            key = CaseKey(self.profile.name, model, method, "")
            self._explainers[model, method] = Explainer(
                spec, bundle.model, bundle.gradcam_layer, self.profile.method_kwargs(spec),
                method_draws(self.settings.seed, key),
            )
        return self._explainers[model, method]

    def run(self, key: CaseKey) -> CaseRun:
        """The cached :class:`CaseRun` for ``key``."""
        if key not in self._runs:
            bundle = self.bundle(key.model)
            image = next(entry for entry in self.images if entry.id == key.image)
            photo = self._photo(bundle, key.model, image)
            self._runs[key] = CaseRun(
                key, image, photo.inputs, self.explainer(key.model, key.method), self.profile, bundle.last_block,
                self.settings.seed, photo,
            )
        return self._runs[key]

    def _photo(self, bundle: ModelBundle, model: str, image: ImageEntry) -> ModelOnPhoto:
        """The preprocessed image batch with the model's passes on it, loaded and label-checked once per (model, image)."""
        if (model, image.id) not in self._photos:
            # Inputs stay NCHW even for a channels_last model: measured on 2 cores, Lite0's IG takes 1.6 s with
            # NCHW inputs and 2.5 s with channels_last ones (the gradient w.r.t. the input is the slow part).
            inputs = bundle.transform(image.load()).unsqueeze(0).to(self.device())
            self._check_label(bundle, image, inputs)
            self._photos[model, image.id] = ModelOnPhoto(bundle.model, inputs, image.label)
        return self._photos[model, image.id]

    def _check_label(self, bundle: ModelBundle, image: ImageEntry, inputs: Any) -> None:
        import torch

        with torch.no_grad():
            n_classes = bundle.model(inputs).shape[-1]
        if image.label >= n_classes:
            raise XaiEvalError(
                f"{self.settings.images / 'manifest.toml'}: entry {image.id!r} has label {image.label}, "
                f"but model {bundle.name} has {n_classes} classes; use a label in 0..{n_classes - 1}"
            )


def _refuse_training_mode(spec: str, model: Any) -> None:
    """One line if a module whose output depends on the mode (batch norm, dropout) is in training mode:
    the gate would explain another model than the one the team ships, and setting eval() here would hide
    that the factory returns it untrained-for-inference."""
    from torch import nn

    def depends_on_mode(module: nn.Module) -> bool:
        if isinstance(module, nn.modules.dropout._DropoutNd):
            return module.p > 0
        if isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)):
            return bool(module.track_running_stats)  # without running stats both modes use the batch's
        return False

    for path, module in model.named_modules():
        if module.training and depends_on_mode(module):
            raise XaiEvalError(
                f"model {spec}: {type(module).__name__} {path or '(root)'!r} is in training mode, so its output depends on "
                "the batch and dropout draws; return model.eval() from the model factory"
            )


def _gated_numbers_on_cuda() -> None:
    """Gated numbers stay fp32 on CUDA (no TF32 matmuls or convolutions) and cuDNN picks deterministic
    algorithms without autotuning (the determinism check recomputes explanations bit for bit). This is
    cuDNN's flag only, not ``torch.use_deterministic_algorithms``; the H100 run passed the determinism
    check for every case."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
