"""Model adaptation: same logits, user's model untouched, every activation guided, LRP conserves."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
import torchvision
from captum.attr import LRP, GuidedBackprop, Saliency
from captum.attr._utils.lrp_rules import EpsilonRule
from torch import nn

from xai_eval.explain.adapt import GuidedActivation, guided_copy, hookable_copy, lrp_copy
from xai_eval.errors import NotApplicable
from xai_eval.measure.sanity import CONSERVATION_RTOL, bias_free_copy, relative_error


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def _lrp_sum_and_logit(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        logits = model(x)
    target = logits.argmax(1)
    relevance = LRP(model).attribute(x.clone(), target=target)
    return relevance.sum(dim=(1, 2, 3)), logits.gather(1, target[:, None]).squeeze(1)


def test_adapted_resnet_gives_the_same_logits_and_leaves_the_original_alone(resnet: nn.Module, image: torch.Tensor) -> None:
    before = copy.deepcopy(resnet.state_dict())
    adapted, barriers = hookable_copy(resnet)
    assert barriers == ()
    with torch.no_grad():
        torch.testing.assert_close(adapted(image), resnet(image), rtol=0, atol=0)
    block = adapted.layer1[0]
    names = dict(block.named_children())
    assert "add" in names and "relu_use2" in names, "skip addition and second ReLU use must become modules"
    assert type(resnet.layer1[0]).__name__ == "BasicBlock" and not hasattr(resnet.layer1[0], "add")
    for key, value in resnet.state_dict().items():
        assert torch.equal(value, before[key])
    adapted.fc.weight.data.zero_()
    assert not torch.equal(resnet.fc.weight, adapted.fc.weight)


def test_adapted_efficientnet_gives_the_same_logits(image: torch.Tensor) -> None:
    from xai_eval.models.registry import efficientnet_lite0

    model = efficientnet_lite0(64).model
    for maker in (lambda m: hookable_copy(m)[0], guided_copy, lambda m: lrp_copy(m)[0]):
        with torch.no_grad():
            torch.testing.assert_close(maker(model)(image), model(image), rtol=0, atol=0)


def test_raw_resnet_fails_conservation_and_adapted_passes(resnet: nn.Module, image: torch.Tensor) -> None:
    """The study's LRP bug: skip additions invisible, ReLU modules reused. This is what the gate catches."""
    bias_free = bias_free_copy(resnet)
    raw_sum, raw_logit = _lrp_sum_and_logit(bias_free, image)
    raw_errors = [relative_error(s, l) for s, l in zip(raw_sum, raw_logit)]
    assert min(raw_errors) > 1.0, raw_errors

    adapted, _ = lrp_copy(bias_free)
    fixed_sum, fixed_logit = _lrp_sum_and_logit(adapted, image)
    errors = [relative_error(s, l) for s, l in zip(fixed_sum, fixed_logit)]
    assert max(errors) <= CONSERVATION_RTOL, errors


class _Relu6Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 6)
        self.act = nn.ReLU6()
        self.fc2 = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def test_guided_backprop_applies_the_guided_rule_to_relu6() -> None:
    torch.manual_seed(3)
    model = _Relu6Net()
    x = torch.randn(1, 4)
    pre = model.fc1(x)
    upstream = model.fc2.weight[0]
    expected = (torch.relu(upstream * ((pre > 0) & (pre < 6)).float()) @ model.fc1.weight).detach()
    plain_gradient = ((upstream * ((pre > 0) & (pre < 6)).float()) @ model.fc1.weight).detach()
    assert not torch.allclose(expected, plain_gradient), "the example must have negative upstream signals"

    raw = GuidedBackprop(model).attribute(x, target=0)
    torch.testing.assert_close(raw, plain_gradient.unsqueeze(0).reshape_as(raw))  # Captum skips ReLU6 as is
    guided = guided_copy(model)
    assert isinstance(guided.act, GuidedActivation)
    torch.testing.assert_close(GuidedBackprop(guided).attribute(x, target=0), expected.reshape(1, 4))
    assert type(model.act) is nn.ReLU6


class _FunctionalNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc1(x))
        return self.fc2(h + x)


def test_functional_relu_and_addition_become_modules() -> None:
    torch.manual_seed(0)
    model = _FunctionalNet()
    adapted, barriers = hookable_copy(model)
    assert barriers == ()
    kinds = {type(m).__name__ for m in adapted.modules()}
    assert {"ReLU", "Addition_Module"} <= kinds
    x = torch.randn(3, 4)
    torch.testing.assert_close(adapted(x), model(x), rtol=0, atol=0)


class _CatNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.cat([x, x * 2], dim=1))


def test_lrp_not_applicable_names_the_operation() -> None:
    with pytest.raises(NotApplicable, match=r"LRP has no sound rule for 'mul' in <model>"):
        lrp_copy(_CatNet())


def test_lrp_not_applicable_names_the_layer() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.SiLU(), nn.Linear(4, 2))
    with pytest.raises(NotApplicable, match=r"layer 1 \(SiLU\)"):
        lrp_copy(model)


class _PaddedConv(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (1, 1, 1, 1)))


class _PaddedNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = _PaddedConv(3, 4, 3, bias=False)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.relu(self.conv(x))), 1)


def test_a_rule_attribute_on_a_custom_layer_is_honoured_on_every_call() -> None:
    from xai_eval.explain.explainer import Explainer
    from xai_eval.explain.methods import get_method
    from xai_eval.explain.randomness import MethodDraws

    torch.manual_seed(0)
    model = _PaddedNet()
    with pytest.raises(NotApplicable, match=r"layer conv \(_PaddedConv\)"):
        lrp_copy(model)
    model.conv.rule = EpsilonRule()
    _, rules = lrp_copy(model)
    assert set(rules) == {"conv"}
    explain = Explainer(get_method("LRP"), model, "conv", {}, MethodDraws(0))
    x = torch.rand(1, 3, 8, 8)
    logit = model(x)[0, 1]
    for _ in range(2):  # Captum deletes rules after each call; they must be re-attached
        relevance = explain(x, target=1)
        assert relative_error(relevance.sum(), logit) <= CONSERVATION_RTOL
    assert isinstance(model.conv.rule, EpsilonRule), "the user's own rule stays on the user's model"


def _gated_silu(h: torch.Tensor) -> torch.Tensor:
    return h * torch.sigmoid(h)


def _gate_first_silu(h: torch.Tensor) -> torch.Tensor:
    return torch.mul(h.sigmoid(), h)


def _leaky_relu(h: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(h, 0.2)


def _elu(h: torch.Tensor) -> torch.Tensor:
    return F.elu(h, alpha=0.5)


def _gelu_tanh(h: torch.Tensor) -> torch.Tensor:
    return F.gelu(h, approximate="tanh")


class _ActNet(nn.Module):
    """Linear, a functional activation, linear: the activation is only visible to fx."""

    def __init__(self, act: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.fc2 = nn.Linear(16, 3)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _Swish(nn.Module):
    """A custom leaf activation, as many EfficientNet ports write it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


FUNCTIONAL_ACTIVATIONS = {
    "silu": (F.silu, nn.SiLU),
    "gelu": (F.gelu, nn.GELU),
    "gelu_tanh": (_gelu_tanh, lambda: nn.GELU(approximate="tanh")),
    "hardswish": (F.hardswish, nn.Hardswish),
    "leaky_relu": (_leaky_relu, lambda: nn.LeakyReLU(0.2)),
    "elu": (_elu, lambda: nn.ELU(alpha=0.5)),
    "x_times_sigmoid_x": (_gated_silu, nn.SiLU),
    "sigmoid_x_times_x": (_gate_first_silu, nn.SiLU),
    "swish_leaf_module": (_Swish(), nn.SiLU),
}


@pytest.mark.parametrize("name", FUNCTIONAL_ACTIVATIONS)
def test_guided_backprop_applies_the_guided_rule_to_functional_activations(name: str) -> None:
    functional, module_activation = FUNCTIONAL_ACTIVATIONS[name]
    torch.manual_seed(0)
    model = _ActNet(functional).eval()
    before = copy.deepcopy(model.state_dict())
    reference = nn.Sequential(copy.deepcopy(model.fc1), module_activation(), copy.deepcopy(model.fc2)).eval()
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([0, 1, 2, 0])

    plain = Saliency(model).attribute(x, target=target, abs=False)
    torch.testing.assert_close(GuidedBackprop(model).attribute(x, target=target), plain)  # the silent bug, raw
    guided_model = guided_copy(model)
    with torch.no_grad():
        assert torch.equal(guided_model(x), model(x)), "the rewrite must not change the logits"
    guided = GuidedBackprop(guided_model).attribute(x, target=target)
    assert not torch.allclose(guided, plain), f"{name}: Guided Backprop fell back to the plain gradient"
    torch.testing.assert_close(guided, GuidedBackprop(guided_copy(reference)).attribute(x, target=target))

    assert model.act is functional and set(dict(model.named_children())) <= {"fc1", "fc2", "act"}
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])


class _SoftsignBlock(nn.Module):
    def __init__(self, op: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(self.fc(x))


class _Outer(nn.Module):
    def __init__(self, op: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Linear(4, 4), _SoftsignBlock(op))
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(x))


def _clamp_method(h: torch.Tensor) -> torch.Tensor:
    return h.clamp(min=0.1)


def _glu(h: torch.Tensor) -> torch.Tensor:
    return F.glu(torch.cat([h, h], dim=1))


def _shared_gate(h: torch.Tensor) -> torch.Tensor:
    gate = torch.sigmoid(h)
    return h * gate + gate


def _data_dependent_beta(h: torch.Tensor) -> torch.Tensor:
    return F.softplus(h, beta=h.detach().abs().mean().item() + 1.0)


@pytest.mark.parametrize(
    ("op", "name"),
    [
        (F.softsign, "softsign"),
        (torch.erf, "erf"),
        (lambda h: torch.clamp(h, 0, 1), "clamp"),
        (_clamp_method, "clamp"),
        (_glu, "glu"),
        (_shared_gate, "mul of x by a gate of x that is used elsewhere"),
    ],
)
def test_guided_not_applicable_names_an_unsupported_nonlinearity(
    op: Callable[[torch.Tensor], torch.Tensor], name: str
) -> None:
    model = _Outer(op)
    with pytest.raises(NotApplicable, match=rf"Guided Backprop has no rewrite for '{name}' in block\.1; "):
        guided_copy(model)
    assert isinstance(model.block[1], _SoftsignBlock)


class _BenignNet(nn.Module):
    """Squeeze-excitation gating, scaling, cat, pooling and shape ops: no nonlinearity to guide beyond modules."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.act = nn.SiLU()
        self.squeeze = nn.Conv2d(4, 2, 1)
        self.excite = nn.Conv2d(2, 4, 1)
        self.gate = nn.Sigmoid()
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.conv(x))
        scale = self.gate(self.excite(F.relu(self.squeeze(F.adaptive_avg_pool2d(h, 1)))))
        h = h * scale * 0.5
        pooled = torch.cat([h.mean(dim=(2, 3)), torch.flatten(F.max_pool2d(h, h.shape[-1]), 1)], dim=1)
        return self.fc(F.dropout(pooled, 0.1, self.training).view(x.shape[0], -1))


def test_benign_functional_ops_keep_guided_applicable(resnet: nn.Module, image: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = _BenignNet().eval()
    x = torch.randn(2, 3, 8, 8)
    guided = guided_copy(model)
    assert isinstance(guided.gate, GuidedActivation) and isinstance(guided.act, GuidedActivation)
    with torch.no_grad():
        assert torch.equal(guided(x), model(x))
        assert torch.equal(guided_copy(resnet)(image), resnet(image))


@pytest.mark.parametrize("act", [F.silu, torch.tanh, _gated_silu, _Swish()], ids=["silu", "tanh", "gated", "swish"])
def test_lrp_still_refuses_rewritten_activations(act: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Captum passes relevance through ``nn.Tanh``; a rewritten ``torch.tanh`` must not sneak in that way."""
    with pytest.raises(NotApplicable, match=r"LRP has no sound rule for .*(silu|tanh|sigmoid|Swish)"):
        lrp_copy(_ActNet(act))


def test_activation_with_tensor_arguments_is_not_guided_silently() -> None:
    model = _Outer(_data_dependent_beta)
    model(torch.randn(2, 4))  # a working model: only the rewrite cannot fix beta at trace time
    with pytest.raises(NotApplicable, match=r"no rewrite for 'softplus with a tensor or unknown argument' in block\.1"):
        guided_copy(model)


class _InPlaceNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)
        return F.silu(h, inplace=True) + h  # h is read after it was overwritten


def test_in_place_activation_read_later_is_not_rewritten_into_other_logits() -> None:
    """A module is never in place; rewriting this one would silently change the logits."""
    with pytest.raises(NotApplicable, match=r"no rewrite for 'silu in place on a tensor read later' in <model>"):
        guided_copy(_InPlaceNet())
