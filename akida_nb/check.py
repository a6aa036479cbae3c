"""``check(model, target)`` and ``compare(model, targets)``: run every rule, collect every violation.

:func:`check` is a loop over the target's rules. Each layer's context (see
:func:`akida_nb.rules.layer_context`) is completed by *context providers*, each adding
the fields it knows for the targets whose rules read them, and its notes: the variables
provider (value ranges of ``threshold``, ``act_step`` … when ``variables`` are given) and
the neural-processor provider (the NP estimate of targets with a device model).

Examples
--------
>>> import akida_nb as ak
>>> rep = ak.check(ak.example("ds_cnn_kws"), "nsoc_v1")
>>> rep.ok, len(rep.violations) > 0
(False, True)
>>> ak.compare(ak.example("ds_cnn_kws"), ["nsoc_v1", "nsoc_v2"]).ok
{'nsoc_v1': False, 'nsoc_v2': True}
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import SpecError, brief
from .model import Model, ensure_model
from .nps import np_contexts_and_estimate
from .report import Comparison, CompatibilityReport, LayerVerdict, Violation
from .rules import NP_FIELDS, VARIABLE_FIELDS, Rule, layer_context
from .sim.variables import variable_ranges
from .targets import Target, distinct_targets, get_target

__all__ = ["check", "compare"]

Provided = tuple["list[dict[str, Any]] | None", "list[str]"]
"""What a context provider returns: per-layer fields (or ``None``) and report notes."""


def _variable_ranges(model: Model, variables) -> list[dict[str, tuple]]:
    """Per layer, (min, max) of each variable given, validated as the Simulator validates them (partial allowed)."""
    return variable_ranges(model, variables)


def _reads(target: Target, fields: Iterable[str]) -> bool:
    fields = set(fields)
    return any(r.field in fields or any(k in fields for k, _ in r.when) for r in target.rules)


def needs_nps(target: Target) -> bool:
    """Whether a target has a device model or rules on neural-processor use (then the NP estimate runs).

    Examples
    --------
    >>> import akida_nb as ak
    >>> needs_nps(ak.get_target("akd1000")), needs_nps(ak.get_target("nsoc_v2"))
    (True, False)
    """
    return target.device is not None or _reads(target, NP_FIELDS)


def _np_note(df: Any, target: Target) -> str:
    """The device total in one line: NPs, passes and the mapper's verdict on them.

    ``Needs 22 of 78 NPs (fits: one pass on the AKD1000)``, ``Needs 38 NPs: maps in 2 passes
    on the AKD1500 (32 NPs)`` or ``Needs 19 NPs (does not map on the AKD1000: …)``; the
    verdict is the whole-model estimate's ``maps`` (see :func:`akida_nb.estimate_nps`), which the
    resource rules report as violations.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m, t = ak.example("akidanet_edge_imagenet_a05_160"), ak.get_target("akd1500")
    >>> _np_note(ak.estimate_nps(m, t), t)[:60]
    'Needs 38 NPs: maps in 2 passes on the AKD1500 (32 NPs); each'
    """
    a = df.attrs
    total, available, device = a["total"], a["available"], a["device"]
    refused = df[df["refused"] != ""]
    if a["fits"]:
        head = f"Needs {total} of {available} NPs (fits: one pass on the {device})"
    elif a["maps"]:
        head = (f"Needs {total} NPs: maps in {a['passes']} passes on the {device} ({available} NPs); each pass "
                "reprograms the NPs")
    else:
        first = refused.iloc[0]
        more = f" and {len(refused) - 1} more layer{'s' if len(refused) > 2 else ''}" if len(refused) > 1 else ""
        head = (f"Needs {total} {'of ' + str(available) + ' ' if not a['multipass'] else ''}NPs (does not map on "
                f"the {device}: refused at layer {first['layer']!r}{more})")
    return (f"{head}; estimated from BrainChip's mapper measurements, the InputConvolutional runs on the HRC and "
            f"is not counted. Details: ak.estimate_nps(model, {target.name!r}).")


# ---------------------------------------------------------------------------- context providers
def _variables_provider(model: Model, target: Target, variables) -> Provided:
    """``threshold``, ``act_step`` …: (min, max) over each layer, when variables are given."""
    if variables is not None:
        return _variable_ranges(model, variables), []
    unchecked = sorted({r.field for layer in model.layers for r in target.rules_for(layer.type)
                        if r.field in VARIABLE_FIELDS})
    if not unchecked:
        return None, []
    return None, [(f"Not checked (no variables given): the value ranges of {', '.join(unchecked)}. "
                   "Pass variables= (as the Simulator takes them) to check them.")]


def _np_provider(model: Model, target: Target, variables) -> Provided:
    """``nps``, ``np_refused``, ``cumulative_nps`` and the device total, for targets with a device model."""
    if not needs_nps(target):
        return None, []
    contexts, estimate = np_contexts_and_estimate(model, target)  # one estimate serves the rules and the note
    return contexts, [_np_note(estimate, target)]


PROVIDERS: tuple[Callable[[Model, Target, Any], Provided], ...] = (_variables_provider, _np_provider)
"""The context providers :func:`check` runs, in order (their notes come first in the report)."""


# ---------------------------------------------------------------------------- check
def _violation(rule: Rule, ctx: Mapping[str, Any], value: str) -> Violation:
    return Violation(
        layer_index=ctx["index"], layer=ctx["name"], layer_type=ctx["type"], rule=rule.id, parameter=rule.field,
        value=value, allowed=rule.allowed_text() + (f" {rule.condition_text()}" if rule.when else ""),
        message=rule.message_for(ctx, value), fix=rule.fix_text(), note=rule.note, source=rule.source,
        severity=rule.severity)


def _target_list(targets, what: str) -> list[Target]:
    if isinstance(targets, (str, Target)):
        targets = [targets]
    items = list(targets) if isinstance(targets, Iterable) and not isinstance(targets, (bytes, Mapping)) else []
    if not items:
        raise SpecError(what, f"expected a list of target names (e.g. ['nsoc_v1', 'nsoc_v2']), got {brief(targets)}")
    return distinct_targets([get_target(t) for t in items], what)


def _refinement_note(model: Model, base: CompatibilityReport, other: Target, other_rep: CompatibilityReport) -> str:
    """What ``other`` refuses besides ``base``'s violations, in plain words (empty when nothing)."""
    errors = [v for v in base.entries if v.severity == "error"]
    own = {(v.layer_index, v.rule) for v in errors}
    extra = [v for v in other_rep.entries if v.severity == "error" and (v.layer_index, v.rule) not in own]
    if not extra:
        return ""
    shown = "; ".join(f"layer {v.layer!r}: {v.parameter} = {v.value} (allowed {v.allowed})" for v in extra[:5])
    more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
    head = "passes" if not errors else "besides the violations above, passes the other cells of"
    return (f"{model.name!r} {head} the {base.target_title} table but {other.refuser} refuses it: "
            f"{shown}{more}. Check against {other.name!r} for details.")


def _with_notes(report: CompatibilityReport, notes: Iterable[str]) -> CompatibilityReport:
    notes = tuple(n for n in notes if n)
    return dataclasses.replace(report, notes=report.notes + notes) if notes else report


def check(model: Model, target="nsoc_v2", variables=None, also: Iterable = ()) -> CompatibilityReport:
    """Check every layer of ``model`` against every rule of ``target``.

    Parameters
    ----------
    model : Model
    target : str or Target
    variables : list of dict, dict by layer name, or Simulator, optional
        When given (or carried by the model, ``model.variables``), value-range rules
        (threshold, act_step …) of the target are judged too; otherwise the report notes
        that they were not checked. An explicit argument wins over the carried variables.
    also : list of str or Target, optional
        Other targets to mention: for each, a note says what it refuses that
        ``target`` accepts (e.g. ``also=["akd1000"]`` on ``"nsoc_v2"``: what the current
        mapper refuses although the 2021 table allows it). The verdict is ``target``'s only.

    Returns
    -------
    CompatibilityReport
        Every violation (not only the first), in layer then table order. Rules of
        severity ``note`` add their message to the notes instead.

    Examples
    --------
    >>> import akida_nb as ak
    >>> rep = ak.check(ak.example("broken"), "nsoc_v2")
    >>> sorted(set(rep.violations["rule"]))[:3]
    ['conv.act_bits', 'conv.input_bits', 'conv.kernel_size']
    """
    ensure_model(model)
    variables = model.variables if variables is None else variables  # explicit variables win over carried ones
    if isinstance(target, (list, tuple)):
        raise SpecError("target", f"expected one target name, got {brief(target)} "
                                  "(use ak.compare(model, targets) for several)")
    t = get_target(target)
    others = _target_list(also, "also") if also else []
    contexts = [layer_context(model, i) for i in range(len(model.layers))]
    notes: list[str] = []
    for provide in PROVIDERS:
        fields, provided_notes = provide(model, t, variables)
        notes += provided_notes
        for ctx, extra in zip(contexts, fields or ()):
            ctx.update(extra)
    entries: list[Violation] = []
    verdicts: list[LayerVerdict] = []
    spent: set[str] = set()
    for i, (layer, ctx) in enumerate(zip(model.layers, contexts)):
        found = [_violation(r, ctx, value) for r in t.rules_for(layer.type)
                 if (value := r.violated(ctx, spent)) is not None]
        entries += [v for v in found if v.severity != "note"]
        notes += [v.message for v in found if v.severity == "note"]
        verdicts.append(LayerVerdict(index=i, name=layer.name, type=layer.type, input_shape=layer.input_shape or (),
                                     output_shape=layer.output_shape or (),
                                     violations=sum(v.severity == "error" for v in found)))
    report = CompatibilityReport(model_name=model.name, target=t.name, target_title=t.title,
                                 layer_verdicts=tuple(verdicts), entries=tuple(entries), notes=tuple(notes),
                                 unmapped=tuple(str(u) for u in model.unmapped))
    return _with_notes(report, (_refinement_note(model, report, o, check(model, o, variables)) for o in others))


def compare(model: Model, targets: Iterable = ("nsoc_v1", "nsoc_v2"), variables=None) -> Comparison:
    """Check one model against several targets at once.

    When one of the targets refines another (``akd1000`` is ``nsoc_v2`` as the current
    mapper enforces it), the refined target's report notes what the refinement refuses
    that its table allows.

    Examples
    --------
    >>> import akida_nb as ak
    >>> cmp = ak.compare(ak.example("vgg_utk_face"), ["nsoc_v1", "nsoc_v2"])
    >>> cmp.verdicts.columns.tolist()[-2:]
    ['nsoc_v1', 'nsoc_v2']
    """
    ts = _target_list(targets, "targets")
    reports = {t.name: check(model, t, variables=variables) for t in ts}
    return Comparison(model_name=model.name, reports=tuple(
        _with_notes(reports[t.name], (_refinement_note(model, reports[t.name], o, reports[o.name])
                                      for o in ts if o.base == t.name))
        for t in ts))
