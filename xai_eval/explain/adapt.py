"""Reversible model rewrites that make hook-based methods (LRP, Guided Backprop) correct.

Hook-based methods only see modules. A functional ``F.relu``, an ``out += identity``
skip addition, or one ReLU module reused twice in a block are invisible to them or
break their per-module state. :func:`hookable_copy` returns a deep copy in which
every activation and every addition is a module of its own, used once. The user's
model is never modified. Modules whose forward needs no rewrite are kept as they
are, so module paths (such as the Grad-CAM layer) stay valid.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from xai_eval.errors import NotApplicable

_ADDITIONS = {operator.add, operator.iadd, torch.add}
_RELU_FUNCTIONS = {F.relu, torch.relu, torch.relu_}
_RELU6_FUNCTIONS = {F.relu6}
_RELU_METHODS = {"relu", "relu_"}
_SHAPE_FUNCTIONS = {torch.flatten, torch.reshape, getattr, operator.getitem}
_SHAPE_METHODS = {"view", "reshape", "flatten", "size", "contiguous", "squeeze", "unsqueeze", "dim"}
ACTIVATION_TYPES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.GELU, nn.Hardswish, nn.Hardtanh, nn.Mish)


@dataclass(frozen=True)
class LrpBarrier:
    """An operation LRP has no sound rule for, with where it is."""

    module_path: str
    operation: str


class _ChildrenAsLeaves(fx.Tracer):
    """Trace one module's own forward, treating its direct children as opaque calls."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return "." not in module_qualified_name


def _op_name(node: fx.Node) -> str:
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", repr(target))


def _rewrite(module: nn.Module, path: str, barriers: list[LrpBarrier]) -> nn.Module:
    for name, child in list(module.named_children()):
        module._modules[name] = _rewrite(child, f"{path}.{name}" if path else name, barriers)
    if not list(module.children()) or isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return module
    tracer = _ChildrenAsLeaves()
    try:
        graph = tracer.trace(module)
    except Exception as exc:  # noqa: BLE001 - untraceable forward: LRP cannot be trusted there
        barriers.append(LrpBarrier(path or "<model>", f"untraceable forward ({type(exc).__name__})"))
        return module
    used: dict[str, int] = {}
    replacements: list[tuple[fx.Node, nn.Module, str]] = []
    for node in graph.nodes:
        if node.op == "call_module":
            used[node.target] = used.get(node.target, 0) + 1
            if used[node.target] > 1:
                replacements.append((node, copy.deepcopy(module.get_submodule(node.target)), f"{node.target}_use{used[node.target]}"))
        elif node.op == "call_function" and node.target in _ADDITIONS and all(isinstance(a, fx.Node) for a in node.args[:2]):
            from captum.attr._utils.custom_modules import Addition_Module

            replacements.append((node, Addition_Module(), "add"))
        elif (node.op == "call_function" and node.target in _RELU_FUNCTIONS) or (
            node.op == "call_method" and node.target in _RELU_METHODS
        ):
            replacements.append((node, nn.ReLU(), "relu"))
        elif node.op == "call_function" and node.target in _RELU6_FUNCTIONS:
            replacements.append((node, nn.ReLU6(), "relu6"))
        elif node.op == "call_function" and node.target not in _SHAPE_FUNCTIONS or (
            node.op == "call_method" and node.target not in _SHAPE_METHODS
        ):
            barriers.append(LrpBarrier(path or "<model>", _op_name(node)))
    if not replacements:
        return module
    gm = fx.GraphModule(module, graph, type(module).__name__)
    for node, new_module, stem in replacements:
        name = stem
        index = 1
        while hasattr(gm, name):
            index += 1
            name = f"{stem}_{index}"
        gm.add_submodule(name, new_module)
        inputs = node.args[:2] if node.op == "call_function" and node.target in _ADDITIONS else node.args[:1]
        with gm.graph.inserting_before(node):
            new_node = gm.graph.call_module(name, args=tuple(inputs))
        node.replace_all_uses_with(new_node)
        gm.graph.erase_node(node)
    gm.graph.lint()
    gm.recompile()
    return gm


def hookable_copy(model: nn.Module) -> tuple[nn.Module, tuple[LrpBarrier, ...]]:
    """A deep copy of ``model`` in which every activation and addition is a module used once.

    Also returns the operations LRP has no rule for (empty when LRP is sound).
    """
    barriers: list[LrpBarrier] = []
    return _rewrite(copy.deepcopy(model), "", barriers), tuple(barriers)


class GuidedActivation(nn.ReLU):
    """Wraps any activation so Captum's guided hooks (which match ``nn.ReLU``) apply to it."""

    def __init__(self, activation: nn.Module) -> None:
        super().__init__()
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(x)


def guided_copy(model: nn.Module) -> nn.Module:
    """A hookable copy in which every activation gets the guided-backprop rule (ReLU6 included)."""
    adapted, _ = hookable_copy(model)
    for parent in list(adapted.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ACTIVATION_TYPES) and type(child) is not nn.ReLU:
                parent._modules[name] = GuidedActivation(child)
    return adapted


def _lrp_rule_factories() -> dict[type, Callable[[], Any]]:
    from captum.attr._utils.lrp_rules import EpsilonRule, IdentityRule

    from xai_eval.models.efficientnet_lite import SamePadConv2d

    return {nn.ReLU6: IdentityRule, nn.Identity: IdentityRule, SamePadConv2d: EpsilonRule}


def lrp_copy(model: nn.Module) -> tuple[nn.Module, dict[str, Callable[[], Any]]]:
    """A hookable copy for LRP and the rules to attach before every call.

    Captum deletes ``rule`` attributes after each ``attribute()``, so the rules are
    returned as factories keyed by module path. Raises :class:`NotApplicable`
    naming the first layer or operation that has no sound rule.
    """
    from captum.attr._core.lrp import SUPPORTED_LAYERS_WITH_RULES, SUPPORTED_NON_LINEAR_LAYERS

    adapted, barriers = hookable_copy(model)
    if barriers:
        first = barriers[0]
        raise NotApplicable(f"LRP has no sound rule for {first.operation!r} in {first.module_path}")
    extra = _lrp_rule_factories()
    rules: dict[str, Callable[[], Any]] = {}
    for path, layer in adapted.named_modules():
        if list(layer.children()):
            continue
        user_rule = getattr(layer, "rule", None)
        if user_rule is not None:
            rules[path] = lambda rule=user_rule: copy.deepcopy(rule)
        elif type(layer) in SUPPORTED_LAYERS_WITH_RULES or type(layer) in SUPPORTED_NON_LINEAR_LAYERS:
            continue
        elif type(layer) in extra:
            rules[path] = extra[type(layer)]
        else:
            raise NotApplicable(
                f"LRP has no sound rule for layer {path} ({type(layer).__name__}); "
                "set a captum.attr._utils.lrp_rules rule on it as `module.rule`"
            )
    return adapted, rules
