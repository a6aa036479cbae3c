"""``check(model, target)`` and ``compare(model, targets)``: run every rule, collect every violation.

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

from typing import Iterable

from .errors import SpecError
from .model import Model
from .notes import notes_for
from .report import CompatibilityReport, Comparison, LayerVerdict, Violation
from .rules import layer_context
from .sim.variables import variable_ranges
from .targets import get_target

__all__ = ["check", "compare"]


def _variable_ranges(model: Model, variables) -> list[dict[str, tuple]]:
    """Per layer, (min, max) of each variable given, validated as the Simulator validates them (partial allowed)."""
    return variable_ranges(model, variables)


NP_FIELDS = frozenset({"nps", "np_refused", "cumulative_nps"})


def needs_nps(target) -> bool:
    """Whether a target has rules on neural-processor use (then the NP estimate runs).

    Examples
    --------
    >>> import akida_nb as ak
    >>> needs_nps(ak.get_target("akd1000")), needs_nps(ak.get_target("nsoc_v2"))
    (True, False)
    """
    return any(r.field in NP_FIELDS or any(k in NP_FIELDS for k, _ in r.when) for r in target.rules)


def _np_contexts(model: Model) -> list[dict]:
    """Per layer: estimated ``nps``, the mapper's refusal (``np_refused``) and ``cumulative_nps``."""
    from .nps import estimate_layer_nps

    out, running = [], 0
    for layer in model.layers:
        est = estimate_layer_nps(layer)
        # the mapper's message without its "Cannot map layer '…'. " prefix: the report names the layer
        reason = est.refused.split(". ", 1)[1] if est.refused.startswith("Cannot map layer") else est.refused
        ctx = {"nps": est.nps, "np_refused": reason}
        if est.mapped:
            running += est.nps
            ctx["cumulative_nps"] = running
        out.append(ctx)
    return out


def check(model: Model, target="nsoc_v2", variables=None) -> CompatibilityReport:
    """Check every layer of ``model`` against every rule of ``target``.

    Parameters
    ----------
    model : Model
    target : str or Target
    variables : list of dict, dict by layer name, or Simulator, optional
        When given, value-range rules (threshold, act_step …) of the target are
        judged too; otherwise the report notes that they were not checked.

    Returns
    -------
    CompatibilityReport
        Every violation (not only the first), in layer then table order.

    Examples
    --------
    >>> import akida_nb as ak
    >>> rep = ak.check(ak.example("broken"), "nsoc_v2")
    >>> sorted(set(rep.violations["rule"]))[:3]
    ['conv.act_bits', 'conv.input_bits', 'conv.kernel_size']
    """
    if not isinstance(model, Model):
        raise SpecError("model", f"expected an akida_nb.Model, got {type(model).__name__} "
                                 "(load one with ak.load_model or ak.Model.from_dict)")
    t = get_target(target)
    ranges = _variable_ranges(model, variables) if variables is not None else None
    violations: list[Violation] = []
    verdicts: list[LayerVerdict] = []
    unchecked: set[str] = set()
    np_ctx = _np_contexts(model) if needs_nps(t) else None
    reported_once: set[str] = set()
    for i, layer in enumerate(model.layers):
        ctx = layer_context(model, i)
        if np_ctx is not None:
            ctx.update(np_ctx[i])
        count = 0
        if not t.supports(layer.type) and not t.rules_for(layer.type):
            violations.append(Violation(
                layer_index=i, layer=layer.name, layer_type=layer.type, rule="layer_type", parameter="type",
                value=layer.type, allowed="[" + ", ".join(t.layer_types) + "]",
                message=f"Layer {layer.name!r} ({layer.type}): the {layer.type} layer type is not in the "
                        f"{t.title} table.",
                fix="Replace the layer with a supported type.", note="The target's table lists no such layer.",
                source=f"{t.name} layer types"))
            count += 1
        for rule in t.rules_for(layer.type):
            if rule.kind == "variable_range":
                if ranges is None:
                    unchecked.add(rule.field)
                    continue
                ctx[rule.field] = ranges[i].get(rule.field)
            if not rule.applies(ctx):
                continue
            value = rule.judge(ctx)
            if value is None or (rule.once and rule.field in reported_once):
                continue
            if rule.once:
                reported_once.add(rule.field)
            count += 1
            violations.append(Violation(
                layer_index=i, layer=layer.name, layer_type=layer.type, rule=rule.id,
                parameter=rule.field, value=value, allowed=rule.allowed_text() + (
                    f" {rule.condition_text()}" if rule.when else ""),
                message=rule.message_for(ctx, value), fix=rule.fix + (
                    f" (automatic fix: {', '.join(rule.fixes)})" if rule.fixes else ""),
                note=rule.note, source=rule.source))
        verdicts.append(LayerVerdict(index=i, name=layer.name, type=layer.type,
                                     input_shape=layer.input_shape, output_shape=layer.output_shape,
                                     violations=count))
    notes = []
    if unchecked:
        notes.append(f"Not checked (no variables given): the value ranges of {', '.join(sorted(unchecked))}. "
                     "Pass variables= (as the Simulator takes them) to check them.")
    notes.extend(notes_for(model, t, violations))
    return CompatibilityReport(model_name=model.name, target=t.name, target_title=t.title,
                               layer_verdicts=tuple(verdicts), entries=tuple(violations), notes=tuple(notes),
                               unmapped=tuple(str(u) for u in model.unmapped))


def compare(model: Model, targets: Iterable = ("nsoc_v1", "nsoc_v2"), variables=None) -> Comparison:
    """Check one model against several targets at once.

    Examples
    --------
    >>> import akida_nb as ak
    >>> cmp = ak.compare(ak.example("vgg_utk_face"), ["nsoc_v1", "nsoc_v2"])
    >>> cmp.verdicts.columns.tolist()[-2:]
    ['nsoc_v1', 'nsoc_v2']
    """
    if isinstance(targets, str):
        targets = [targets]
    reports = tuple(check(model, t, variables=variables) for t in targets)
    if not reports:
        raise SpecError("targets", "compare needs at least one target")
    return Comparison(model_name=model.name, reports=reports)
