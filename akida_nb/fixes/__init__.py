"""Automatic fixes: BrainChip's ``create_from_model`` helper, made visible — and extended.

``fix(model, target)`` applies named fixes in a stated order, each a documented function
``(model, target, variables) -> (new model, change rows, new variables)`` (see
:mod:`akida_nb.fixes.catalogue`), and returns a :class:`FixResult` with the new model,
one row per change (with its exactness), a fresh check before and after, and what no fix
could solve, with the reason. ``list_fixes()`` lists them; ``applicable_fixes()`` says
which would change something on a model.

Examples
--------
>>> import akida_nb as ak
>>> res = ak.fix(ak.example("gxnor_mnist"), "nsoc_v1")
>>> res.applied
('input_conv_to_conv', 'stride_to_maxpool', 'clamp_bits', 'split_maxpool')
>>> sorted(set(res.unsolved["rule"]))
['conv.avgpool_d0', 'conv.avgpool_d1']
>>> ak.applicable_fixes(ak.example("vgg_utk_face"), "nsoc_v1")
['input_conv_to_conv', 'split_maxpool']
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..check import check
from ..model import Model, ensure_model
from ..report import CompatibilityReport
from ..sim.variables import attach_variables
from ..targets import Target, get_target
from . import catalogue  # noqa: F401  (the composition root: importing the catalogue registers the fixes)
from .edit import Change, normalize_variables
from .registry import Fix, Refusal, get_fix, order_rationale, registry
from .result import FixResult, Unsolved

__all__ = ["ORDER_RATIONALE", "Change", "FixResult", "Unsolved", "applicable_fixes", "fix", "list_fixes"]

ORDER_RATIONALE = order_rationale()
"""Why the fixes run in their order, as text derived from each fix's declared ``after`` dependencies.

Kept for compatibility: the declarations themselves are ``Fix.after`` (see
:func:`akida_nb.fixes.registry.get_fix`); ``list_fixes()`` gives the resulting ``order``.
"""


def _select(fixes: Iterable[str] | str | None, target: Target) -> list[Fix[Any]]:
    if fixes is None:
        return [f for f in registry() if f.applies_to(target)]
    if isinstance(fixes, str):
        fixes = [fixes]
    chosen = {get_fix(name).name for name in fixes}
    return [f for f in registry() if f.name in chosen]


def _unsolved(model: Model, target: Target, report: CompatibilityReport,
              chosen: list[Fix[Any]]) -> tuple[Unsolved, ...]:
    rules = {r.id: r for r in target.rules}
    names = {f.name for f in chosen}
    out = []
    for v in report.entries:
        rule = rules.get(v.rule)
        addressing = [f for f in registry() if rule is not None and f.addresses(rule)]
        tried = [f for f in addressing if f.name in names]
        if not addressing:
            manual = rule.fix if rule is not None else v.fix
            reason = f"no automatic fix for this rule; by hand: {manual}"
        elif not tried:
            reason = f"not attempted: {', '.join(f.name for f in addressing)} not among the chosen fixes"
        else:
            why = []
            for f in tried:
                plan = f.plan(model, target, v.layer_index)
                why.append(f"{f.name}: {plan.reason}" if isinstance(plan, Refusal) else
                           f"{f.name} would change this layer now: the violation arose after it ran (from a "
                           f"later fix); ak.fix(res.model, …) again addresses it")
            reason = "; ".join(why)
        out.append(Unsolved(layer_index=v.layer_index, layer=v.layer, layer_type=v.layer_type, rule=v.rule,
                            parameter=v.parameter, value=v.value, allowed=v.allowed,
                            fixes=", ".join(f.name for f in addressing), reason=reason))
    return tuple(out)


def fix(model: Model, target="nsoc_v2", fixes: Iterable[str] | str | None = None, variables=None) -> FixResult:
    """Apply automatic fixes to make ``model`` fit ``target``, and check the result again.

    Parameters
    ----------
    model : Model
        Left untouched.
    target : str or Target
    fixes : list of str, str, or None
        The fixes to try (names from :func:`list_fixes`); ``None`` tries every fix that
        can act on ``target`` (its ``targets`` column).
        They run in the registry's order whatever the order given here, each once,
        each on the model the previous one returned (so a fix sees what earlier fixes
        did); a fix with nothing to do changes nothing.
    variables : list of dict, dict by layer name, or Simulator, optional
        Layer variables as the :class:`~akida_nb.sim.Simulator` takes them. They are
        carried over (``res.variables``): exactly where a change is exact, so that
        ``Simulator(res.model, res.variables)`` gives bit-identical outputs when
        ``res.exact``; rescaled approximately (and marked so) where it is not. The
        checks before and after then judge the value-range rules too. Without them,
        the variables ``model`` carries (``model.variables``) are used; an explicit
        argument wins. ``res.model`` carries ``res.variables``.

    Returns
    -------
    FixResult
        ``model``, ``changes``, ``before``, ``after`` (a fresh check, never assumed),
        ``unsolved`` (what remains and why), ``variables``.

    Raises
    ------
    FixError
        For an unknown fix name, listing the known ones.
    UnknownTargetError, SpecError, SimulationError
        For an unknown target, a non-model, or variables that do not fit the model.

    Examples
    --------
    >>> import akida_nb as ak
    >>> res = ak.fix(ak.example("ds_cnn_kws"), "nsoc_v1", fixes=["input_conv_to_conv", "clamp_bits"])
    >>> for row in res.changes[["fix", "layer", "what", "before", "after", "exact"]].values.tolist()[:2]:
    ...     print(row)
    ['input_conv_to_conv', 'conv_0', 'type', 'InputConvolutional', 'Convolutional', True]
    ['input_conv_to_conv', 'input', 'input bits', '8', '4', False]
    >>> ak.fix(ak.example("ds_cnn_kws"), "nsoc_v1", fixes=["no_such_fix"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akida_nb.errors.FixError: fix 'no_such_fix': unknown fix; known fixes: input_conv_to_conv, valid_to_same, ...
    """
    ensure_model(model)
    t = get_target(target)
    chosen = _select(fixes, t)
    current_vars = normalize_variables(model, model.variables if variables is None else variables)
    before = check(model, t, variables=current_vars)
    current, changes, applied = model, [], []
    for f in chosen:
        attempt = f.attempt(current, t, current_vars)
        if attempt.changes:
            applied.append(f.name)
            changes.extend(attempt.changes)
            current, current_vars = attempt.model, attempt.variables
    after = check(current, t, variables=current_vars)
    current = attach_variables(current, current_vars)  # res.model carries res.variables (or none)
    return FixResult(model=current, original=model, target=t.name, target_title=t.title,
                     fixes=tuple(f.name for f in chosen), applied=tuple(applied), change_rows=tuple(changes),
                     before=before, after=after, unsolved_entries=_unsolved(current, t, after, chosen),
                     variables=current_vars)


def applicable_fixes(model: Model, target="nsoc_v2", variables=None) -> list[str]:
    """Names of the fixes that would change something on ``model`` for ``target``, in order.

    Each fix is judged on ``model`` itself (not after the others): a fix that only
    becomes useful after another one (``split_maxpool`` after ``stride_to_maxpool``) is
    listed only when it already has work here; :func:`fix` runs them all in order.

    Examples
    --------
    >>> import akida_nb as ak
    >>> ak.applicable_fixes(ak.example("ds_cnn_kws"), "nsoc_v1")
    ['input_conv_to_conv', 'clamp_bits', 'pad_avgpool_filters']
    >>> ak.applicable_fixes(ak.example("ds_cnn_kws"), "nsoc_v2")
    []
    """
    ensure_model(model)
    t = get_target(target)
    v = normalize_variables(model, model.variables if variables is None else variables)
    return [f.name for f in registry() if f.applies_to(t) and f.attempt(model, t, v).changes]


def list_fixes():
    """DataFrame of every fix: name, description, exact, exact_when, targets, order.

    ``exact`` is ``"yes"`` (outputs stay bit-identical), ``"no"`` or ``"conditional"``
    (``exact_when`` says when; each change row of a :class:`FixResult` says whether that
    change is exact). ``targets`` lists the registered targets where the fix can act.
    ``order`` is the position in the application order: a topological order of the
    fixes' declared dependencies (``get_fix(name).after``, each with its reason).

    Examples
    --------
    >>> import akida_nb as ak
    >>> df = ak.list_fixes()
    >>> df.loc[df["name"] == "identity_after_maxpool", ["exact", "targets"]].values.tolist()
    [['yes', 'nsoc_v1, nsoc_v2, akd1000, akd1500']]
    >>> df["name"].tolist()[:3]
    ['input_conv_to_conv', 'valid_to_same', 'pad_kernel']
    """
    import pandas as pd

    return pd.DataFrame([{"name": f.name, "description": f.description, "exact": f.exact,
                          "exact_when": f.exact_when, "targets": ", ".join(f.targets()), "order": k}
                         for k, f in enumerate(registry(), start=1)],
                        columns=["name", "description", "exact", "exact_when", "targets", "order"])
