"""Internal batch sizes follow the device: unchanged on the CPU, grown to the device's room on a GPU, and
no value moves beyond float rounding whatever the room."""

from __future__ import annotations

import pytest
import torch

from tests.test_paired import ALL_METHODS, _explainer, _inputs, _model, _sensitivity
from xai_eval.explain import batching
from xai_eval.explain.batching import MAX_EXAMPLES, room_on, sized


def test_the_cpu_keeps_the_profiles_sizes() -> None:
    assert room_on(torch.device("cpu")) is None
    kwargs = {"n_steps": 32, "internal_batch_size": 8}
    assert sized(kwargs, None) == kwargs and sized(kwargs, None) is not kwargs


@pytest.mark.parametrize(
    ("kwargs", "room", "expected"),
    [
        ({"n_steps": 32, "internal_batch_size": 8}, 64, {"internal_batch_size": 32}),  # capped by the steps
        ({"n_steps": 32, "internal_batch_size": 8}, 16, {"internal_batch_size": 16}),
        ({"n_steps": 32, "internal_batch_size": 8}, 2, {"internal_batch_size": 8}),  # never below the profile
        ({"internal_batch_size": 4}, 64, {"internal_batch_size": 50}),  # Captum's default 50 steps
        ({"nt_samples": 10, "nt_samples_batch_size": 2, "n_steps": 50, "internal_batch_size": 50}, 64,
         {"nt_samples_batch_size": 10, "internal_batch_size": 64}),  # the inner method bounds the pass
        ({"nt_samples": 10, "nt_samples_batch_size": 2}, 4, {"nt_samples_batch_size": 4}),  # a NoiseTunnel alone
        ({"n_samples": 8, "n_samples_batch_size": 4}, 64, {"n_samples_batch_size": 8}),
        ({"perturbations_per_eval": 4}, 64, {"perturbations_per_eval": 64}),
        ({"n_steps": 32, "internal_batch_size": None}, 16, {"internal_batch_size": None}),  # already all at once
        ({"n_steps": 32}, 16, {}),  # no batch argument: none is added
    ],
)
def test_batch_arguments_grow_to_the_room(kwargs: dict[str, object], room: int, expected: dict[str, object]) -> None:
    assert sized(kwargs, room) == kwargs | expected


def test_the_room_is_measured_once_per_device_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(batching, "_ROOM", {})
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: calls.append(device) or (40 * 2**30, 80 * 2**30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 2 * 2**30)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 2**30)
    cuda = torch.device("cuda:0")
    assert room_on(cuda) == MAX_EXAMPLES and room_on(cuda) == MAX_EXAMPLES and len(calls) == 1
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (3 * batching.BYTES_PER_EXAMPLE - 2**30, 0))
    assert room_on(torch.device("cuda:1")) == 3  # 1 GiB cached by torch counts as free
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (0, 0))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 0)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 0)
    assert room_on(torch.device("cuda:2")) == 1  # a full device still runs, one example a pass


@pytest.mark.parametrize("method", ALL_METHODS)
def test_a_grown_room_moves_no_value(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The explainer asks for the room of its inputs' device on every call: a GPU's room, pretended on the
    CPU, gives the CPU's numbers."""
    model, inputs = _model(), _inputs(2)
    reference = _sensitivity(_explainer(method, model), inputs)
    seen = []
    monkeypatch.setattr(batching, "room_on", lambda device: seen.append(device) or MAX_EXAMPLES)
    grown = _sensitivity(_explainer(method, model), inputs)
    assert seen, "the explainer never asked for the device's room"
    torch.testing.assert_close(grown, reference, rtol=1e-5, atol=1e-7)


def test_the_grown_sizes_reach_captum(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without this, the test above would pass with the room ignored."""
    explainer = _explainer("IG", _model())
    seen = []
    original = type(explainer.attributor).attribute
    monkeypatch.setattr(type(explainer.attributor), "attribute",
                        lambda self, *a, **k: seen.append(k.get("internal_batch_size")) or original(self, *a, **k))
    monkeypatch.setattr(batching, "room_on", lambda device: 24)
    explainer(_inputs(), target=2)
    assert seen == [24]
