"""The gate's per-run state: settings, loaded models, cached cases and results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xai_eval.gate.baselines import BaselineStore
from xai_eval.records.keys import CaseKey
from xai_eval.records.results import CaseResult, SanityRecord
from xai_eval.gate.cases import CaseRun
from xai_eval.errors import DeviceUnavailable, XaiEvalError
from xai_eval.gate.images import ImageEntry, load_manifest
from xai_eval.explain.methods import get_method
from xai_eval.models.registry import load_model, model_id, validate_model_name
from xai_eval.gate.profiles import Profile, get_profile
from xai_eval.gate.settings import Settings

if TYPE_CHECKING:
    from xai_eval.explain.explainer import Explainer
    from xai_eval.models.bundle import ModelBundle


class XaiSession:
    """Created once per pytest run; validates inputs lazily, on first use by a suite."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._prepared = False
        self.profile: Profile
        self.images: tuple[ImageEntry, ...] = ()
        self.baselines: BaselineStore
        self._bundles: dict[str, ModelBundle | XaiEvalError] = {}
        self._explainers: dict[tuple[str, str], Explainer] = {}
        self._runs: dict[CaseKey, CaseRun] = {}
        self._batches: dict[tuple[str, str], Any] = {}
        self.results: list[CaseResult] = []
        self.sanity: list[SanityRecord] = []
        self.update_counts: tuple[int, int] | None = None

    def prepare(self) -> None:
        """Validate names, the manifest, the images and the baselines file (one-line errors)."""
        if self._prepared:
            return
        s = self.settings
        self.profile = get_profile(s.profile)
        for spec in s.models:
            validate_model_name(spec)
        for name in s.methods:
            get_method(name)
        self.images = load_manifest(s.images)
        for entry in self.images:
            entry.load()
        self.baselines = BaselineStore.load(s.baselines)
        self._prepared = True

    @property
    def method_names(self) -> tuple[str, ...]:
        from xai_eval.explain.methods import METHODS

        return self.settings.methods or tuple(METHODS)

    def case_keys(self) -> list[CaseKey]:
        self.prepare()
        return [
            CaseKey(self.profile.name, model_id(spec), method, image.id)
            for spec in self.settings.models
            for method in self.method_names
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

        device = self.device()
        bundle = load_model(spec, self.profile.image_size, resnet18_weights=self.settings.resnet18_weights)
        model = copy.deepcopy(bundle.model).eval().to(device)
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
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise DeviceUnavailable(f"--xai-device {name}: MPS is not available here; run on Apple silicon or use --xai-device cpu")
        return device

    def explainer(self, model: str, method: str) -> Explainer:
        from xai_eval.explain.explainer import Explainer

        if (model, method) not in self._explainers:
            bundle = self.bundle(model)
            self._explainers[model, method] = Explainer(get_method(method), bundle.model, bundle.gradcam_layer, self.profile.name)
        return self._explainers[model, method]

    def run(self, key: CaseKey) -> CaseRun:
        """The cached :class:`CaseRun` for ``key``."""
        if key not in self._runs:
            bundle = self.bundle(key.model)
            image = next(entry for entry in self.images if entry.id == key.image)
            self._runs[key] = CaseRun(
                key, image, self._inputs(bundle, key.model, image), self.explainer(key.model, key.method), self.profile,
                bundle.randomization_block,
            )
        return self._runs[key]

    def _inputs(self, bundle: ModelBundle, model: str, image: ImageEntry) -> Any:
        """The preprocessed image batch, loaded and label-checked once per (model, image)."""
        if (model, image.id) not in self._batches:
            inputs = bundle.transform(image.load()).unsqueeze(0).to(self.device())
            self._check_label(bundle, image, inputs)
            self._batches[model, image.id] = inputs
        return self._batches[model, image.id]

    def _check_label(self, bundle: ModelBundle, image: ImageEntry, inputs: Any) -> None:
        import torch

        with torch.no_grad():
            n_classes = bundle.model(inputs).shape[-1]
        if image.label >= n_classes:
            raise XaiEvalError(
                f"{self.settings.images / 'manifest.toml'}: entry {image.id!r} has label {image.label}, "
                f"but model {bundle.name} has {n_classes} classes; use a label in 0..{n_classes - 1}"
            )
