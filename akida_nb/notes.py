"""Notes a report adds beyond its violations: what the tables do not say but users must know.

- When a target is refined by another (a data file with ``base: <this target>``,
  such as the AKD1000 as its current mapper enforces it), a model that passes the
  base table but fails the refinement gets a plain-words warning, so nobody is
  misled by either source.
- On the pre-production chip, a SeparableConvolutional with average pooling whose
  filter count is not a multiple of 8 hits an engine quirk the table does not
  state (the ``pad_avgpool_filters`` fix works around it).

Examples
--------
>>> import akida_nb as ak
>>> m = ak.Model.from_dict({"input": {"shape": [8, 8, 8], "bits": 4}, "layers": [
...     {"type": "SeparableConvolutional", "kernel_size": 3, "filters": 12, "weights_bits": 2,
...      "act_bits": 2, "pool_type": "average"},
...     {"type": "FullyConnected", "units": 2, "weights_bits": 2, "activation": False}]})
>>> any("multiple of 8" in n for n in ak.check(m, "nsoc_v1").notes)
True
"""
from __future__ import annotations

__all__ = ["notes_for"]


def _refinement_notes(model, target, violations) -> list[str]:
    from .check import check
    from .targets import _registry

    notes = []
    for other in _registry().values():
        if other.base != target.name:
            continue
        own = {(v.layer_index, v.rule) for v in violations}
        extra = [v for v in check(model, other).entries if (v.layer_index, v.rule) not in own]
        if not extra:
            continue
        shown = "; ".join(f"layer {v.layer!r}: {v.parameter} = {v.value} (allowed {v.allowed})"
                          for v in extra[:5])
        more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
        head = "passes" if not violations else "besides the violations above, passes the other cells of"
        notes.append(f"{model.name!r} {head} the {target.title} table but {other.refuser} refuses it: "
                     f"{shown}{more}. Check against {other.name!r} for details.")
    return notes


def _avgpool_quirk_notes(model, target) -> list[str]:
    if target.name != "nsoc_v1":
        return []
    notes = []
    for layer in model.layers:
        if layer.type == "SeparableConvolutional" and layer.pool_type == "average" and layer.filters % 8:
            notes.append(f"Layer {layer.name!r}: on the pre-production engine, a SeparableConvolutional with "
                         f"average pooling wants a filter count that is a multiple of 8 (it has "
                         f"{layer.filters}); the table does not state it. Fix: pad_avgpool_filters.")
    return notes


def _np_notes(model, target) -> list[str]:
    from .check import needs_nps

    if not needs_nps(target):
        return []
    from .nps import estimate_nps

    df = estimate_nps(model)
    refused = int((df["refused"] != "").sum())
    verdict = "fits" if df.attrs["fits"] else "does not fit"
    extra = f", {refused} layer{'s' if refused != 1 else ''} refused" if refused else ""
    return [f"Needs {df.attrs['total']} of {df.attrs['available']} NPs ({verdict}{extra}); estimated from "
            "BrainChip's mapper measurements, the InputConvolutional runs on the HRC and is not counted. "
            "Details: ak.estimate_nps(model)."]


def notes_for(model, target, violations) -> list[str]:
    """All notes for a checked model (see the module docstring).

    Examples
    --------
    >>> import akida_nb as ak
    >>> notes_for(ak.example("ds_cnn_kws"), ak.get_target("nsoc_v1"), [])
    []
    """
    return (_refinement_notes(model, target, violations) + _avgpool_quirk_notes(model, target)
            + _np_notes(model, target))
