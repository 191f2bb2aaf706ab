"""Reversible model rewrites that make hook-based methods (LRP, Guided Backprop) correct.

Hook-based methods only see modules. A functional ``F.relu`` or ``F.silu``, an
``out += identity`` skip addition, or one ReLU module reused twice in a block are
invisible to them or break their per-module state. :func:`hookable_copy` returns a
deep copy in which every activation and every addition is a module of its own, used
once. The user's model is never modified. Modules whose forward needs no rewrite are
kept as they are, so module paths (such as the Grad-CAM layer) stay valid.

A functional nonlinearity that cannot be turned into a module is reported instead of
ignored: LRP refuses it (:class:`LrpBarrier`), and so does Guided Backprop
(:class:`GuidedGap`), because Captum would otherwise pass a plain gradient through it
and still call the result guided.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from xai_eval.errors import NotApplicable

_ADDITIONS = {operator.add, operator.iadd, torch.add}
_MULTIPLICATIONS = {operator.mul, operator.imul, torch.mul}
_SHAPE_FUNCTIONS = {torch.flatten, torch.reshape, getattr, operator.getitem}
_SHAPE_METHODS = {"view", "reshape", "flatten", "size", "contiguous", "squeeze", "unsqueeze", "dim"}

# Functional activation -> its module and the module's constructor arguments, named in
# the function's positional order after the input (``inplace`` is dropped: the copy
# must not mutate tensors Captum's hooks hold on to).
_ACTIVATION_FUNCTIONS: dict[Callable[..., Any], tuple[type[nn.Module], tuple[str, ...]]] = {
    F.relu: (nn.ReLU, ()),
    torch.relu: (nn.ReLU, ()),
    torch.relu_: (nn.ReLU, ()),
    F.relu6: (nn.ReLU6, ()),
    F.silu: (nn.SiLU, ()),
    F.gelu: (nn.GELU, ("approximate",)),
    F.hardswish: (nn.Hardswish, ()),
    F.hardsigmoid: (nn.Hardsigmoid, ()),
    F.leaky_relu: (nn.LeakyReLU, ("negative_slope",)),
    F.elu: (nn.ELU, ("alpha",)),
    F.celu: (nn.CELU, ("alpha",)),
    F.selu: (nn.SELU, ()),
    F.hardtanh: (nn.Hardtanh, ("min_val", "max_val")),
    F.mish: (nn.Mish, ()),
    F.softplus: (nn.Softplus, ("beta", "threshold")),
    torch.tanh: (nn.Tanh, ()),
    F.tanh: (nn.Tanh, ()),
    torch.sigmoid: (nn.Sigmoid, ()),
    F.sigmoid: (nn.Sigmoid, ()),
}
_ACTIVATION_METHODS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu_": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}
# Rewritten activations LRP has a sound rule for; every other rewrite stays an LRP barrier,
# since Captum would otherwise accept e.g. a rewritten ``nn.Tanh`` as a pass-through layer.
_LRP_SAFE_ACTIVATIONS = (nn.ReLU, nn.ReLU6)

# Nonlinearities with no rewrite: Guided Backprop is not applicable where they appear.
# In-place forms are here because replacing them by a module would drop the mutation.
_UNSUPPORTED_FUNCTIONS: set[Callable[..., Any]] = {
    torch.erf,
    torch.special.erf,
    torch.erfc,
    F.softsign,
    F.glu,
    F.logsigmoid,
    F.tanhshrink,
    F.softshrink,
    F.hardshrink,
    F.threshold,
    F.threshold_,
    F.rrelu,
    F.rrelu_,
    F.prelu,
    F.elu_,
    F.celu_,
    F.selu_,
    F.leaky_relu_,
    F.hardtanh_,
    torch.sigmoid_,
    torch.tanh_,
    torch.clamp,
    torch.clip,
    torch.clamp_min,
    torch.clamp_max,
}
_UNSUPPORTED_METHODS = {
    "erf",
    "erf_",
    "erfc",
    "prelu",
    "sigmoid_",
    "tanh_",
    "clamp",
    "clamp_",
    "clip",
    "clip_",
    "clamp_min",
    "clamp_min_",
    "clamp_max",
    "clamp_max_",
}

ACTIVATION_TYPES = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.CELU,
    nn.SELU,
    nn.SiLU,
    nn.GELU,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Hardtanh,
    nn.Mish,
    nn.Softplus,
    nn.Tanh,
    nn.Sigmoid,
    nn.Softsign,
    nn.LogSigmoid,
    nn.PReLU,
    nn.RReLU,
    nn.Tanhshrink,
    nn.Softshrink,
    nn.Hardshrink,
    nn.Threshold,
)


class _SigmoidGatedSiLU(nn.SiLU):
    """``x * sigmoid(x)`` as written (bit-identical logits), typed as a SiLU so it gets the guided rule."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class _HardsigmoidGatedHardswish(nn.Hardswish):
    """``x * hardsigmoid(x)`` as written (bit-identical logits), typed as a Hardswish so it gets the guided rule."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * F.hardsigmoid(x)


# A self-gate ``x * gate(x)`` is one activation: guiding only the gate would leave the
# ``x`` factor a plain gradient, so the product is fused into one module.
_SELF_GATES: dict[type[nn.Module], tuple[type[nn.Module], str, str]] = {
    nn.Sigmoid: (_SigmoidGatedSiLU, "silu", "x * sigmoid(x)"),
    nn.Hardsigmoid: (_HardsigmoidGatedHardswish, "hardswish", "x * hardsigmoid(x)"),
}


@dataclass(frozen=True)
class LrpBarrier:
    """An operation LRP has no sound rule for, with where it is."""

    module_path: str
    operation: str


@dataclass(frozen=True)
class GuidedGap:
    """A nonlinearity Guided Backprop cannot guide (it would pass a plain gradient), with where it is."""

    module_path: str
    operation: str


@dataclass
class _Findings:
    barriers: list[LrpBarrier] = field(default_factory=list)
    gaps: list[GuidedGap] = field(default_factory=list)

    def refuse(self, path: str, operation: str, *, guided: bool) -> None:
        self.barriers.append(LrpBarrier(path or "<model>", operation))
        if guided:
            self.gaps.append(GuidedGap(path or "<model>", operation))


@dataclass(frozen=True)
class _Replacement:
    node: fx.Node
    module: nn.Module
    stem: str
    inputs: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    also_erase: tuple[fx.Node, ...] = ()


class _ChildrenAsLeaves(fx.Tracer):
    """Trace one module's own forward, treating its direct children as opaque calls."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return "." not in module_qualified_name


def _op_name(node: fx.Node) -> str:
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", repr(target))
    return name.lstrip("_")


def _activation_type(node: fx.Node) -> type[nn.Module] | None:
    """The module a functional activation node becomes, if it has one."""
    if node.op == "call_function" and node.target in _ACTIVATION_FUNCTIONS:
        return _ACTIVATION_FUNCTIONS[node.target][0]
    if node.op == "call_method" and node.target in _ACTIVATION_METHODS:
        return _ACTIVATION_METHODS[node.target]
    return None


def _input_of(node: fx.Node) -> Any:
    return node.args[0] if node.args else node.kwargs.get("input")


def _activation_module(node: fx.Node, module_type: type[nn.Module]) -> nn.Module | None:
    """The module computing ``node``, or ``None`` when an argument is a tensor or unknown."""
    params = _ACTIVATION_FUNCTIONS[node.target][1] if node.op == "call_function" else ()
    extra = node.args[1:]
    if len(extra) > len(params) + 1:  # at most one trailing positional, ``inplace``
        return None
    values = dict(zip(params, extra))
    for key, value in node.kwargs.items():
        if key in params:
            values[key] = value
        elif key not in ("input", "inplace"):
            return None
    if any(isinstance(value, fx.Node) for value in values.values()):
        return None
    return module_type(**values)


def _mutates_a_live_input(node: fx.Node, order: dict[fx.Node, int]) -> bool:
    """An in-place activation whose input is read after it: a module (never in place) would change the logits."""
    params = _ACTIVATION_FUNCTIONS[node.target][1] if node.op == "call_function" else ()
    in_place = (
        node.kwargs.get("inplace") is True
        or node.args[len(params) + 1 : len(params) + 2] == (True,)
        or node.target is torch.relu_
        or (node.op == "call_method" and str(node.target).endswith("_"))
    )
    source = _input_of(node)
    return in_place and isinstance(source, fx.Node) and any(order[user] > order[node] for user in source.users)


def _fusable_product(gate: fx.Node) -> fx.Node | None:
    """The product ``x * gate(x)`` that is the only use of ``gate``, if there is one."""
    gate_type = _activation_type(gate)
    if gate_type not in _SELF_GATES or len(gate.users) != 1 or _activation_module(gate, gate_type) is None:
        return None
    (product,) = gate.users
    if product.op != "call_function" or product.target not in _MULTIPLICATIONS or product.kwargs:
        return None
    if len(product.args) != 2 or product.args[0] is product.args[1]:
        return None
    other = product.args[1] if product.args[0] is gate else product.args[0]
    return product if other is _input_of(gate) else None


def _is_self_gate(node: fx.Node) -> bool:
    """``x * act(x)`` that could not be fused: guiding ``act`` alone would leave ``x`` plain."""
    if node.op != "call_function" or node.target not in _MULTIPLICATIONS or len(node.args) != 2:
        return False
    a, b = node.args
    return any(
        isinstance(gate, fx.Node) and _activation_type(gate) is not None and _input_of(gate) is other
        for gate, other in ((a, b), (b, a))
    )


def _is_tensor_addition(node: fx.Node) -> bool:
    return node.op == "call_function" and node.target in _ADDITIONS and all(isinstance(a, fx.Node) for a in node.args[:2])


def _is_custom_leaf(module: nn.Module) -> bool:
    return not type(module).__module__.startswith("torch.") and not isinstance(module, ACTIVATION_TYPES)


def _rewrite(module: nn.Module, path: str, found: _Findings, guided: bool) -> nn.Module:
    """``module`` with its functional activations, additions and reused children made modules.

    With ``guided``, custom leaf modules are traced too (a ``Swish`` module written as
    ``x * torch.sigmoid(x)`` would otherwise stay a plain gradient), but only their
    activations are rewritten; without it, leaves are left to LRP's per-layer check.
    """
    for name, child in list(module.named_children()):
        module._modules[name] = _rewrite(child, f"{path}.{name}" if path else name, found, guided)
    if isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return module
    leaf = not list(module.children())
    if leaf and not (guided and _is_custom_leaf(module)):
        return module
    try:
        graph = _ChildrenAsLeaves().trace(module)
    except Exception as exc:  # noqa: BLE001 - untraceable forward: LRP cannot be trusted there
        if not leaf:
            found.barriers.append(LrpBarrier(path or "<model>", f"untraceable forward ({type(exc).__name__})"))
        return module
    order = {node: index for index, node in enumerate(graph.nodes)}
    used: dict[str, int] = {}
    fused: dict[fx.Node, fx.Node] = {}  # product -> its gate
    replacements: list[_Replacement] = []
    for node in graph.nodes:
        activation = _activation_type(node)
        if node.op == "call_module":
            used[node.target] = used.get(node.target, 0) + 1
            if used[node.target] > 1:
                reused = copy.deepcopy(module.get_submodule(node.target))
                stem = f"{node.target}_use{used[node.target]}"
                replacements.append(_Replacement(node, reused, stem, node.args, dict(node.kwargs)))
        elif activation is not None and (product := _fusable_product(node)) is not None:
            fused[product] = node
        elif node in fused:
            gate = fused[node]
            gated, stem, operation = _SELF_GATES[_activation_type(gate)]
            replacements.append(_Replacement(node, gated(), stem, (_input_of(gate),), also_erase=(gate,)))
            found.refuse(path, operation, guided=False)
        elif activation is not None:
            new_module = _activation_module(node, activation)
            if new_module is None:
                found.refuse(path, f"{_op_name(node)} with a tensor or unknown argument", guided=True)
                continue
            if _mutates_a_live_input(node, order):
                found.refuse(path, f"{_op_name(node)} in place on a tensor read later", guided=True)
                continue
            stem = activation.__name__.lower()
            replacements.append(_Replacement(node, new_module, stem, (_input_of(node),)))
            if not isinstance(new_module, _LRP_SAFE_ACTIVATIONS):
                found.refuse(path, _op_name(node), guided=False)
        elif _is_tensor_addition(node):
            from captum.attr._utils.custom_modules import Addition_Module

            if not leaf:
                replacements.append(_Replacement(node, Addition_Module(), "add", node.args[:2]))
        elif (node.op == "call_function" and node.target in _UNSUPPORTED_FUNCTIONS) or (
            node.op == "call_method" and node.target in _UNSUPPORTED_METHODS
        ):
            found.refuse(path, _op_name(node), guided=True)
        elif _is_self_gate(node):
            found.refuse(path, f"{_op_name(node)} of x by a gate of x that is used elsewhere", guided=True)
        elif node.op == "call_function" and node.target not in _SHAPE_FUNCTIONS or (
            node.op == "call_method" and node.target not in _SHAPE_METHODS
        ):
            found.barriers.append(LrpBarrier(path or "<model>", _op_name(node)))
    if not replacements:
        return module
    gm = fx.GraphModule(module, graph, type(module).__name__)
    new_nodes: dict[fx.Node, fx.Node] = {}  # inputs were read before earlier replacements
    for replacement in replacements:
        name = replacement.stem
        index = 1
        while hasattr(gm, name):
            index += 1
            name = f"{replacement.stem}_{index}"
        gm.add_submodule(name, replacement.module)
        with gm.graph.inserting_before(replacement.node):
            args, kwargs = fx.node.map_arg(
                (tuple(replacement.inputs), replacement.kwargs), lambda n: new_nodes.get(n, n)
            )
            new_node = gm.graph.call_module(name, args=args, kwargs=kwargs)
        replacement.node.replace_all_uses_with(new_node)
        new_nodes[replacement.node] = new_node
        gm.graph.erase_node(replacement.node)
        for node in replacement.also_erase:
            gm.graph.erase_node(node)
    gm.graph.lint()
    gm.recompile()
    return gm


def hookable_copy(model: nn.Module) -> tuple[nn.Module, tuple[LrpBarrier, ...]]:
    """A deep copy of ``model`` in which every activation and addition is a module used once.

    Also returns the operations LRP has no rule for (empty when LRP is sound).
    """
    found = _Findings()
    return _rewrite(copy.deepcopy(model), "", found, guided=False), tuple(found.barriers)


class GuidedActivation(nn.ReLU):
    """Wraps any activation so Captum's guided hooks (which match ``nn.ReLU``) apply to it."""

    def __init__(self, activation: nn.Module) -> None:
        super().__init__()
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(x)


def guided_copy(model: nn.Module) -> nn.Module:
    """A hookable copy in which every activation gets the guided-backprop rule (ReLU6, SiLU, ... included).

    Raises :class:`NotApplicable` naming the first functional nonlinearity that could
    not be made a module: Captum would pass a plain gradient through it, so the
    attribution would be part guided, part plain, and still be called guided.
    """
    found = _Findings()
    adapted = _rewrite(copy.deepcopy(model), "", found, guided=True)
    if found.gaps:
        first = found.gaps[0]
        raise NotApplicable(
            f"Guided Backprop has no rewrite for {first.operation!r} in {first.module_path}; "
            "write it as a torch.nn activation module (e.g. nn.GELU, nn.Softsign) or skip this method for the model"
        )
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
