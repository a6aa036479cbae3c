"""The fix registry and the one driver every fix runs through.

A fix is declared once, with :func:`register`, from

- the public function ``(model, target, variables=None) -> (new model, change rows, new
  variables)`` that documents it (its docstring's first paragraph is the description);
- ``plan``: ``(model, target, layer index) -> plan | Refusal`` — what the fix would do to
  one layer, or a :class:`Refusal` saying why it cannot (also used to explain what stays
  unsolved);
- ``apply``: ``(edit, model, layer index, plan) -> None`` — the edits for one planned layer,
  made on an :class:`~akida_nb.fixes.edit.Edit` of ``model``;
- ``after``: the fixes it must run after, each with its one-line reason; the application
  order is a topological order of these declarations (ties go to the fix registered first);
- ``exact``: ``"yes"`` (outputs stay bit-identical), ``"no"``, or ``"conditional"``
  (with ``exact_when`` saying when; each change row says whether *it* is exact);
- which rules it addresses: the rules of a target that name it in their ``fixes`` list,
  plus rules matched by an optional predicate (for table rows that name no fix);
- ``quirk_of``: for workarounds of an engine quirk the table does not state, the targets
  (and every target refining them through ``base``) where it applies: there it considers
  every layer, not only those violating a rule.

:meth:`Fix.attempt` is the driver: it selects the layers (those violating a rule the fix
addresses, or every layer for a quirk, last first so that edits by name stay valid),
plans each one on the unchanged model, records the refusals, applies the plans to one
:class:`~akida_nb.fixes.edit.Edit` and finishes it. The catalogue of fixes registers
itself when :mod:`akida_nb.fixes` is imported (the package is the composition root).

Examples
--------
>>> from akida_nb.fixes.registry import registry
>>> [f.name for f in registry()][:3]
['input_conv_to_conv', 'valid_to_same', 'pad_kernel']
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any, Generic, NamedTuple, TypeVar

from ..check import check
from ..errors import FixError, did_you_mean
from ..model import Model, ensure_model
from ..rules import Rule
from ..targets import Target, _registry as _targets, get_target
from .edit import Change, Edit, Variables, normalize_variables

__all__ = ["After", "Attempt", "Fix", "Refusal", "get_fix", "order_rationale", "register", "registry",
           "violated_layers"]

P = TypeVar("P")
EXACTNESS = ("yes", "no", "conditional")


@dataclass(frozen=True)
class Refusal:
    """Why a fix cannot change one layer (what a plan step returns instead of a plan).

    Examples
    --------
    >>> Refusal("the layer has stride 1").reason
    'the layer has stride 1'
    """

    reason: str


class After(NamedTuple):
    """A declared dependency: the fix named ``fix`` runs first, for ``reason``.

    Examples
    --------
    >>> from akida_nb.fixes.registry import get_fix
    >>> get_fix("widen_pool_to_stride").after[0].fix
    'stride_to_maxpool'
    """

    fix: str
    reason: str


@dataclass(frozen=True)
class Attempt:
    """What one run of a fix gave: the new model, change rows and variables, and the refused layers.

    ``output`` is the triple the fix functions return.

    Examples
    --------
    >>> import akida_nb as ak
    >>> from akida_nb.fixes.registry import get_fix
    >>> a = get_fix("stride_to_maxpool").attempt(ak.example("gxnor_mnist"), "nsoc_v1")
    >>> len(a.changes), a.refusals
    (2, ())
    """

    model: Model
    changes: list[Change]
    variables: Variables | None
    refusals: tuple[tuple[str, Refusal], ...] = ()
    """``(layer name, refusal)`` for each selected layer the fix could not change."""

    @property
    def output(self) -> tuple[Model, list[Change], Variables | None]:
        """``(model, changes, variables)``, as the fix functions return them."""
        return self.model, self.changes, self.variables


@dataclass(frozen=True)
class Fix(Generic[P]):
    """One registered fix: its declarations (see the module docstring) and the driver running it.

    Examples
    --------
    >>> from akida_nb.fixes.registry import get_fix
    >>> f = get_fix("identity_after_maxpool")
    >>> f.exact, f.targets()[:2], [a.fix for a in f.after][:1]
    ('yes', ('nsoc_v1', 'nsoc_v2'), ['clamp_bits'])
    """

    name: str
    function: Callable[..., tuple[Model, list[Change], Variables | None]]
    plan: Callable[[Model, Target, int], P | Refusal]
    apply: Callable[[Edit, Model, int, P], None]
    exact: str
    exact_when: str
    after: tuple[After, ...] = ()
    matches: Callable[[Rule], bool] | None = None
    quirk_of: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """The first paragraph of the fix function's docstring.

        Examples
        --------
        >>> from akida_nb.fixes.registry import get_fix
        >>> get_fix("clamp_bits").description
        'Move weight, activation and input bit widths to the nearest width the target supports.'
        """
        doc = inspect.getdoc(self.function) or ""
        return " ".join(doc.split("\n\n")[0].split())

    def addresses(self, rule: Rule) -> bool:
        """Whether the fix works on violations of ``rule``.

        Examples
        --------
        >>> import akida_nb as ak
        >>> from akida_nb.fixes.registry import get_fix
        >>> get_fix("clamp_bits").addresses(ak.get_target("nsoc_v1").rule("fc.weights_bits"))
        True
        """
        return self.name in rule.fixes or (self.matches is not None and self.matches(rule))

    def rule_ids(self, target: Target) -> frozenset[str]:
        """Ids of the rules of ``target`` this fix addresses.

        Examples
        --------
        >>> import akida_nb as ak
        >>> from akida_nb.fixes.registry import get_fix
        >>> sorted(get_fix("valid_to_same").rule_ids(ak.get_target("nsoc_v1")))
        ['conv.padding', 'sepconv.padding']
        """
        return frozenset(r.id for r in target.rules if self.addresses(r))

    def applies_to(self, target: Target) -> bool:
        """Whether the fix can do anything on ``target`` (a rule it addresses, or its quirk).

        Examples
        --------
        >>> import akida_nb as ak
        >>> from akida_nb.fixes.registry import get_fix
        >>> get_fix("split_maxpool").applies_to(ak.get_target("nsoc_v2"))
        False
        """
        return bool(self.rule_ids(target)) or _descends(target, self.quirk_of)

    def targets(self) -> tuple[str, ...]:
        """Names of the registered targets the fix can do anything on.

        Examples
        --------
        >>> from akida_nb.fixes.registry import get_fix
        >>> get_fix("pad_avgpool_filters").targets()
        ('nsoc_v1',)
        """
        return tuple(name for name, t in _targets().items() if self.applies_to(t))

    def sites(self, model: Model, target: Target) -> list[int]:
        """Indices of the layers the fix plans for, last first: every layer for a quirk, else the violating ones.

        Examples
        --------
        >>> import akida_nb as ak
        >>> from akida_nb.fixes.registry import get_fix
        >>> get_fix("clamp_bits").sites(ak.example("ds_cnn_kws"), ak.get_target("nsoc_v1"))
        [5]
        """
        if _descends(target, self.quirk_of):
            return list(reversed(range(len(model.layers))))
        return sorted(violated_layers(model, target, self), reverse=True)

    def attempt(self, model: Model, target: Target | str, variables: Any = None) -> Attempt:
        """Run the fix: plan every selected layer of ``model``, apply the plans, finish the edit.

        Plans are made on ``model`` as given; edits go by layer name, so inserting layers
        does not disturb the plans of the layers before them.

        Raises
        ------
        SpecError, UnknownTargetError, SimulationError
            For a non-model, an unknown target, or variables that do not fit the model.

        Examples
        --------
        >>> import akida_nb as ak
        >>> from akida_nb.fixes.registry import get_fix
        >>> a = get_fix("identity_after_maxpool").attempt(ak.example("broken"), "nsoc_v2")
        >>> [c.layer for c in a.changes], a.refusals
        (['conv_pool_identity'], ())
        """
        ensure_model(model)
        t = get_target(target)
        edit = Edit(model, normalize_variables(model, variables), self.name)
        refusals = []
        for i in self.sites(model, t):
            plan = self.plan(model, t, i)
            if isinstance(plan, Refusal):
                refusals.append((model.layers[i].name, plan))
            else:
                self.apply(edit, model, i, plan)
        new_model, changes, new_variables = edit.finish()
        return Attempt(new_model, changes, new_variables, tuple(refusals))


def _descends(target: Target, names: tuple[str, ...]) -> bool:
    """Whether ``target`` is one of ``names`` or refines one of them through ``base``."""
    seen = set()
    current: Target | None = target
    while current is not None and current.name not in seen:
        if current.name in names:
            return True
        seen.add(current.name)
        current = _targets().get(current.base) if current.base else None
    return False


_FIXES: dict[str, Fix[Any]] = {}
_ORDER: list[Fix[Any]] = []


def register(function: Callable[..., tuple[Model, list[Change], Variables | None]], *,
             plan: Callable[[Model, Target, int], P | Refusal], apply: Callable[[Edit, Model, int, P], None],
             exact: str, exact_when: str, after: Mapping[str, str] | None = None,
             matches: Callable[[Rule], bool] | None = None, quirk_of: tuple[str, ...] = ()) -> Fix[P]:
    """Register the fix documented by ``function`` (under its name) and return its :class:`Fix`.

    ``after`` maps each fix that must run first to the reason. ``function`` usually
    just calls the returned fix's :meth:`Fix.attempt`.

    Examples
    --------
    >>> from akida_nb.fixes import catalogue
    >>> catalogue.PAD_KERNEL.name, catalogue.PAD_KERNEL.function is catalogue.pad_kernel
    ('pad_kernel', True)
    """
    if exact not in EXACTNESS:
        raise ValueError(f"exact must be 'yes', 'no' or 'conditional', got {exact!r}")
    fix = Fix(name=function.__name__, function=function, plan=plan, apply=apply, exact=exact,
              exact_when=exact_when, after=tuple(After(name, reason) for name, reason in (after or {}).items()),
              matches=matches, quirk_of=quirk_of)
    _FIXES[fix.name] = fix
    _ORDER.clear()
    return fix


def _topological(fixes: Mapping[str, Fix[Any]]) -> list[Fix[Any]]:
    """The fixes in an order respecting every ``after``; among fixes ready together, the first registered."""
    for f in fixes.values():
        for dep in f.after:
            if dep.fix not in fixes:
                raise FixError(f.name, f"declared to run after {dep.fix!r}, which is not a registered fix")
    sorter = TopologicalSorter({name: [d.fix for d in f.after] for name, f in fixes.items()})
    try:
        sorter.prepare()
    except CycleError as e:
        raise FixError(e.args[1][0], "the fixes' 'after' declarations form a cycle: "
                                     + " → ".join(e.args[1])) from None
    position = {name: k for k, name in enumerate(fixes)}
    ready: list[str] = []
    out = []
    while sorter.is_active():
        ready = sorted([*ready, *sorter.get_ready()], key=position.__getitem__)
        name = ready.pop(0)
        out.append(fixes[name])
        sorter.done(name)
    return out


def registry() -> list[Fix[Any]]:
    """Every registered fix, in application order (topological in the ``after`` declarations).

    Examples
    --------
    >>> from akida_nb.fixes.registry import registry
    >>> registry()[-1].name
    'pad_avgpool_filters'
    """
    if not _ORDER:
        _ORDER.extend(_topological(_FIXES))
    return list(_ORDER)


def get_fix(name: str) -> Fix[Any]:
    """A fix by name.

    Raises
    ------
    FixError
        Naming the unknown fix and listing the known ones.

    Examples
    --------
    >>> from akida_nb.fixes.registry import get_fix
    >>> get_fix("clamp_bits").exact
    'conditional'
    """
    known = {f.name: f for f in registry()}
    if not isinstance(name, str) or name not in known:
        raise FixError(str(name), f"unknown fix; {did_you_mean(name, known)}known fixes: " + ", ".join(known))
    return known[name]


def order_rationale() -> str:
    """Why the fixes run in their order: each fix's declared ``after`` dependencies with their reasons.

    Examples
    --------
    >>> from akida_nb.fixes.registry import order_rationale
    >>> order_rationale().split("; ")[0]
    'input_conv_to_conv (no prerequisite)'
    """
    parts = []
    for f in registry():
        deps = ", ".join(f"{d.fix} ({d.reason})" for d in f.after)
        parts.append(f"{f.name} after {deps}" if deps else f"{f.name} (no prerequisite)")
    return "; ".join(parts)


def violated_layers(model: Model, target: Target, fix: Fix[Any]) -> dict[int, list[str]]:
    """Layers with violations of rules ``fix`` addresses: ``{layer index: [rule ids]}``.

    Examples
    --------
    >>> import akida_nb as ak
    >>> from akida_nb.fixes.registry import get_fix, violated_layers
    >>> violated_layers(ak.example("ds_cnn_kws"), ak.get_target("nsoc_v1"), get_fix("clamp_bits"))
    {5: ['fc.input_bits', 'fc.weights_bits']}
    """
    ids = fix.rule_ids(target)
    out: dict[int, list[str]] = {}
    if not ids:
        return out
    for v in check(model, target).entries:
        if v.rule in ids:
            out.setdefault(v.layer_index, []).append(v.rule)
    return out
