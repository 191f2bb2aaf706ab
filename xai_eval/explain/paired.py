"""NoiseTunnel and GradientSHAP with paired (common) random numbers.

Captum's ``NoiseTunnel`` and ``GradientShap`` draw their noise, baselines and interpolation points from
the global RNGs, on the input's device, in amounts that depend on the batch. These two small classes
keep Captum's mathematics and Captum's attribution code (the wrapped method, ``Saliency`` for the
gradients) but take every random number from the case's :class:`~xai_eval.explain.randomness.MethodDraws`:
each input in a batch gets the same draws, whatever the batch sizes or the device. Results are
accumulated sample by sample in a fixed order, so ``nt_samples_batch_size`` and ``n_samples_batch_size``
change no value beyond float rounding.

Differences from Captum, on purpose:

* GradientSHAP's baselines are *balanced* (sample ``i`` uses baseline ``i mod B`` of the ``B`` given, the
  uniform distribution Captum draws from) and its interpolation points are *stratified* per baseline
  (one in each of equal strata of [0, 1), in random order) instead of independent: the same
  expectation, a much smaller Monte-Carlo spread.
* Examples of one batch share a sample's draws (Captum draws per example).
"""

from __future__ import annotations

from typing import Any

import torch

from xai_eval.explain.randomness import MethodDraws

NT_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")


def _repeat_target(target: Any, n: int, k: int) -> Any:
    """The target for a batch of ``n`` examples, each repeated ``k`` times (example-major)."""
    if target is None or isinstance(target, int):
        return target
    if isinstance(target, torch.Tensor):
        if target.numel() == 1:
            return int(target)
        return target.repeat_interleave(k, dim=0)
    if isinstance(target, list) and len(target) == n:
        return [t for t in target for _ in range(k)]
    return target


def _chunks(total: int, size: int | None) -> list[tuple[int, int]]:
    size = total if not size or size < 1 else size
    return [(start, min(start + size, total)) for start in range(0, total, size)]


class PairedNoiseTunnel:
    """Captum's NoiseTunnel (smoothgrad, smoothgrad_sq, vargrad) over any attribution method."""

    def __init__(self, attribution_method: Any, draws: MethodDraws) -> None:
        self.attribution_method = attribution_method
        self.draws = draws

    def attribute(
        self,
        inputs: torch.Tensor,
        target: Any = None,
        *,
        nt_type: str = "smoothgrad",
        nt_samples: int = 5,
        nt_samples_batch_size: int | None = None,
        stdevs: float = 1.0,
        **kwargs: Any,
    ) -> torch.Tensor:
        if nt_type not in NT_TYPES:
            raise ValueError(f"nt_type must be one of {NT_TYPES}, got {nt_type!r}")
        n, shape = inputs.shape[0], tuple(inputs.shape[1:])
        noise = self.draws.normal("noise_tunnel", (nt_samples, *shape), inputs) * stdevs
        baselines = kwargs.pop("baselines", None)
        samples: list[torch.Tensor] = []
        for start, stop in _chunks(nt_samples, nt_samples_batch_size):
            k = stop - start
            noisy = (inputs.unsqueeze(1) + noise[start:stop].unsqueeze(0)).reshape(n * k, *shape)
            call = dict(kwargs)
            if isinstance(baselines, torch.Tensor) and baselines.dim() == inputs.dim() and baselines.shape[0] == n:
                call["baselines"] = baselines.repeat_interleave(k, dim=0)
            elif baselines is not None:
                call["baselines"] = baselines
            attribution = self.attribution_method.attribute(noisy, target=_repeat_target(target, n, k), **call)
            attribution = attribution.detach().reshape(n, k, *shape)
            samples.extend(attribution[:, j].double() for j in range(k))
        # In float64 and in a fixed sample order, whatever the chunking; VarGrad in two passes
        # (mean of squared deviations), which keeps float rounding from cancelling into the variance.
        mean = _ordered_sum(samples) / nt_samples
        if nt_type == "smoothgrad":
            result = mean
        elif nt_type == "smoothgrad_sq":
            result = _ordered_sum([s * s for s in samples]) / nt_samples
        else:
            result = _ordered_sum([(s - mean) ** 2 for s in samples]) / nt_samples
        return result.to(inputs.dtype)


class PairedGradientShap:
    """GradientSHAP (expected gradients): E over baselines b, input noise e and points a of
    grad f(b + a (x + e - b)) * (x + e - b), estimated with ``n_samples`` paired draws."""

    def __init__(self, forward_func: Any, draws: MethodDraws) -> None:
        from captum.attr import Saliency

        self.forward_func = forward_func
        self.saliency = Saliency(forward_func)
        self.draws = draws

    def attribute(
        self,
        inputs: torch.Tensor,
        baselines: torch.Tensor,
        target: Any = None,
        *,
        n_samples: int = 5,
        stdevs: float = 0.0,
        n_samples_batch_size: int | None = None,
        return_convergence_delta: bool = False,
        draw_name: str = "gradient_shap",
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Mean attribution over the samples; with ``return_convergence_delta`` also each sample's
        ``sum(attribution) - (f(x + e) - f(b))``, shaped ``[n_examples, n_samples]``."""
        n, shape = inputs.shape[0], tuple(inputs.shape[1:])
        n_baselines = baselines.shape[0]
        index = torch.arange(n_samples, device=inputs.device) % n_baselines
        alphas = torch.empty(n_samples, device=inputs.device, dtype=inputs.dtype)
        for b in range(min(n_baselines, n_samples)):
            group = torch.arange(b, n_samples, n_baselines, device=inputs.device)
            alphas[group] = self.draws.stratified(f"{draw_name}/alpha/{b}", len(group), inputs)
        noise = self.draws.normal(f"{draw_name}/noise", (n_samples, *shape), inputs) * stdevs
        total: torch.Tensor | None = None
        deltas: list[torch.Tensor] = []
        for start, stop in _chunks(n_samples, n_samples_batch_size):
            k = stop - start
            noisy = inputs.unsqueeze(1) + noise[start:stop].unsqueeze(0)
            base = baselines[index[start:stop]].unsqueeze(0).expand(n, k, *shape)
            alpha = alphas[start:stop].reshape(1, k, *([1] * len(shape)))
            points = (base + alpha * (noisy - base)).reshape(n * k, *shape)
            target_k = _repeat_target(target, n, k)
            grads = self.saliency.attribute(points, target=target_k, abs=False).detach().reshape(n, k, *shape)
            attribution = grads * (noisy - base)
            for j in range(k):
                total = attribution[:, j].clone() if total is None else total + attribution[:, j]
            if return_convergence_delta:
                with torch.no_grad():
                    f_in = _select(self.forward_func(noisy.reshape(n * k, *shape)), target_k)
                    f_base = _select(self.forward_func(base.reshape(n * k, *shape)), target_k)
                sums = attribution.reshape(n * k, -1).sum(dim=1)
                deltas.append((sums - (f_in - f_base)).reshape(n, k))
        assert total is not None
        mean = total / n_samples
        if return_convergence_delta:
            return mean, torch.cat(deltas, dim=1)
        return mean


def _ordered_sum(tensors: list[torch.Tensor]) -> torch.Tensor:
    total = tensors[0].clone()
    for tensor in tensors[1:]:
        total += tensor
    return total


def _select(outputs: torch.Tensor, target: Any) -> torch.Tensor:
    if target is None:
        return outputs.reshape(outputs.shape[0], -1)[:, 0]
    if isinstance(target, int):
        return outputs[:, target]
    index = torch.as_tensor(target, device=outputs.device).reshape(-1, 1)
    return outputs.gather(1, index).squeeze(1)
