"""The fix registry: every automatic fix as a named, documented function with its metadata.

A fix is a function ``(model, target, variables=None) -> (new model, change rows, new
variables)`` registered with :func:`register`, which records

- ``order``: fixes compose in ascending order (see :data:`ORDER_RATIONALE`);
- ``exact``: ``"yes"`` (outputs stay bit-identical), ``"no"``, or ``"conditional"``
  (with ``exact_when`` saying when; each change row says whether *it* is exact);
- which rules it addresses: the rules of a target that name it in their ``fixes`` list,
  plus rules matched by an optional predicate (for table rows that name no fix);
- ``quirk_of``: for workarounds of an engine quirk the table does not state, the targets
  (and every target refining them through ``base``) where it applies;
- ``plan``: ``(model, target, layer_index) -> str | object`` — what the fix would do to one
  layer, or a string saying why it cannot (used to explain what stays unsolved).

Examples
--------
>>> from akida_nb.fixes.registry import registry
>>> [f.name for f in registry()][:3]
['input_conv_to_conv', 'valid_to_same', 'pad_kernel']
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

from ..errors import FixError
from ..model import Model
from ..rules import Rule
from ..targets import Target, _registry as _targets

__all__ = ["Fix", "register", "registry", "get_fix", "ORDER_RATIONALE"]

ORDER_RATIONALE = (
    "input_conv_to_conv first (later fixes treat the new Convolutional); valid_to_same and pad_kernel "
    "before stride_to_maxpool (which needs 'same' padding); widen_pool_to_stride after the pools exist; "
    "clamp_bits before any identity layer is inserted (identities copy the bits around them); "
    "pool_before_fc, then fix_avgpool_size (which may need the pooling just added); split_maxpool after "
    "every max pooling exists, then identity_after_maxpool (also after the split's pooling layer); "
    "pad_avgpool_filters last, when the average-pooled layers and their successors are final."
)
"""Why the fixes run in their ``order``."""


@dataclass(frozen=True)
class Fix:
    """One registered fix and its metadata (see the module docstring).

    Examples
    --------
    >>> from akida_nb.fixes.registry import get_fix
    >>> f = get_fix("identity_after_maxpool")
    >>> f.exact, f.targets()[:2]
    ('yes', ('nsoc_v1', 'nsoc_v2'))
    """

    name: str
    function: Callable
    plan: Callable
    order: int
    exact: str
    exact_when: str
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


def _descends(target: Target, names: tuple[str, ...]) -> bool:
    seen = set()
    while target is not None and target.name not in seen:
        if target.name in names:
            return True
        seen.add(target.name)
        target = _targets().get(target.base) if target.base else None
    return False


_FIXES: dict[str, Fix] = {}


def register(*, order: int, exact: str, exact_when: str, plan: Callable,
             matches: Callable[[Rule], bool] | None = None, quirk_of: tuple[str, ...] = ()) -> Callable:
    """Decorator registering a fix function under its own name.

    Examples
    --------
    >>> from akida_nb.fixes.registry import register
    >>> callable(register(order=0, exact="yes", exact_when="always", plan=lambda m, t, i: "n/a"))
    True
    """
    if exact not in ("yes", "no", "conditional"):
        raise ValueError(f"exact must be 'yes', 'no' or 'conditional', got {exact!r}")

    def decorate(function: Callable) -> Callable:
        _FIXES[function.__name__] = Fix(name=function.__name__, function=function, plan=plan, order=order,
                                        exact=exact, exact_when=exact_when, matches=matches, quirk_of=quirk_of)
        return function

    return decorate


def registry() -> list[Fix]:
    """Every registered fix, in application order.

    Examples
    --------
    >>> from akida_nb.fixes.registry import registry
    >>> registry()[-1].name
    'pad_avgpool_filters'
    """
    from . import catalogue  # noqa: F401  (registers the fixes)

    return sorted(_FIXES.values(), key=lambda f: f.order)


def get_fix(name: str) -> Fix:
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
        raise FixError(str(name), "unknown fix; known fixes: " + ", ".join(known))
    return known[name]


def violated_layers(model: Model, target: Target, fix: Fix) -> dict[int, list[str]]:
    """Layers with violations of rules ``fix`` addresses: ``{layer index: [rule ids]}``.

    Examples
    --------
    >>> import akida_nb as ak
    >>> from akida_nb.fixes.registry import get_fix, violated_layers
    >>> violated_layers(ak.example("ds_cnn_kws"), ak.get_target("nsoc_v1"), get_fix("clamp_bits"))
    {5: ['fc.input_bits', 'fc.weights_bits']}
    """
    from ..check import check

    ids = fix.rule_ids(target)
    out: dict[int, list[str]] = {}
    if not ids:
        return out
    for v in check(model, target).entries:
        if v.rule in ids:
            out.setdefault(v.layer_index, []).append(v.rule)
    return out
