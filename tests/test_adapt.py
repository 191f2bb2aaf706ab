"""Model adaptation: same logits, user's model untouched, every activation guided, LRP conserves."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
import torchvision
from captum.attr import LRP, GuidedBackprop
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
