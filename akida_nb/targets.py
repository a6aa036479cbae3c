"""Targets: the constraint tables of each Akida chip, loaded from data files.

Every ``*.yaml`` file in the packaged ``data/targets`` folder is one target. A file
holds ``name``, ``title``, ``description``, ``layer_types`` (the layer types its
table lists) and ``rules`` (see :mod:`akida_nb.rules` for the rule schema); it may
also say ``base: other_target`` with ``replace`` (rule ids dropped from the base)
to state a target as a difference from another. A new target needs a data file,
not code: drop it in the folder, or call :func:`register_target` with its path.

Examples
--------
>>> import akida_nb as ak
>>> list(ak.targets()["name"])[:2]
['nsoc_v1', 'nsoc_v2']
>>> ak.constraints("nsoc_v2", "FullyConnected")["allowed"].tolist()[:3]
['[1]', '[1]', '<= 81920']
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from .errors import SpecError, UnknownTargetError
from .resources import data_dir
from .rules import Rule

__all__ = ["Target", "targets", "get_target", "constraints", "compare_constraints", "register_target"]

CONSTRAINT_COLUMNS = ["target", "layer_type", "section", "parameter", "allowed", "axis", "note", "source",
                      "rule", "field", "condition"]
_TARGET_KEYS = ("name", "title", "description", "layer_types", "rules", "base", "replace", "order", "refuser",
                "device")


@dataclass(frozen=True)
class Target:
    """A chip's constraint table: named rules per layer type.

    Examples
    --------
    >>> import akida_nb as ak
    >>> t = ak.get_target("nsoc_v1")
    >>> t.title, t.supports("InputConvolutional")
    ('Akida NSoC (Pre-production)', False)
    """

    name: str
    title: str
    description: str
    layer_types: tuple[str, ...]
    rules: tuple[Rule, ...]
    base: str | None = None
    order: int = 100
    refuser: str = ""  # how a refinement's verdict is named in other reports' notes
    device: Mapping | None = None  # the device block (NP mesh and NP model, read by akida_nb.nps), or None

    def __post_init__(self):
        if not self.refuser:
            object.__setattr__(self, "refuser", self.title)

    def supports(self, layer_type: str) -> bool:
        """Whether the target's table lists this layer type at all.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.get_target("nsoc_v2").supports("InputConvolutional")
        True
        """
        return layer_type in self.layer_types

    def rule(self, rule_id: str) -> Rule:
        """A rule by id.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.get_target("nsoc_v2").rule("fc.weights_bits").values
        (1, 2, 4)
        """
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise SpecError(f"{self.name}.rules", f"no rule {rule_id!r}")

    def rules_for(self, layer_type: str) -> tuple[Rule, ...]:
        """The rules that judge one layer type, in table order.

        Examples
        --------
        >>> import akida_nb as ak
        >>> len(ak.get_target("nsoc_v1").rules_for("InputConvolutional"))
        1
        """
        return tuple(r for r in self.rules if r.layer_type == layer_type)


def _parse_target(raw: Mapping, where: str, known: Mapping[str, Target]) -> Target:
    if not isinstance(raw, Mapping):
        raise SpecError(where, "a target file must hold a mapping")
    for key in raw:
        if key not in _TARGET_KEYS:
            raise SpecError(f"{where}: {key}", f"unknown key (allowed: {', '.join(_TARGET_KEYS)})")
    for key in ("name", "title", "rules"):
        if key not in raw:
            raise SpecError(f"{where}: {key}", "missing")
    rules: list[Rule] = []
    layer_types = raw.get("layer_types")
    if raw.get("base"):
        base = known.get(raw["base"])
        if base is None:
            raise SpecError(f"{where}: base", f"unknown base target {raw['base']!r}")
        dropped = set(raw.get("replace", ()))
        missing = dropped - {r.id for r in base.rules}
        if missing:
            raise SpecError(f"{where}: replace", f"no such rules in {base.name}: {', '.join(sorted(missing))}")
        rules = [r for r in base.rules if r.id not in dropped]
        layer_types = layer_types or base.layer_types
    added = [Rule.from_dict(r, f"{where}: rules[{i}]") for i, r in enumerate(raw["rules"] or [])]
    ids = [r.id for r in rules + added]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SpecError(f"{where}: rules", f"duplicate rule ids: {', '.join(dupes)}")
    return Target(name=raw["name"], title=raw["title"], description=raw.get("description", ""),
                  layer_types=tuple(layer_types or ()), rules=tuple(rules + added), base=raw.get("base"),
                  order=int(raw.get("order", 100)), refuser=raw.get("refuser", ""),
                  device=raw.get("device", known[raw["base"]].device if raw.get("base") else None))


def _read_yaml(path: Path):
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise SpecError(str(path), f"not valid YAML: {e}") from None


_EXTRA: dict[str, Target] = {}


@lru_cache(maxsize=None)
def _packaged() -> dict[str, Target]:
    raws = {}
    for path in sorted((data_dir() / "targets").glob("*.yaml")):
        raws[path.name] = _read_yaml(path)
    loaded: dict[str, Target] = {}
    # targets stated against a base are parsed after their base
    pending = dict(raws)
    while pending:
        progressed = False
        for fname, raw in list(pending.items()):
            base = raw.get("base") if isinstance(raw, Mapping) else None
            if base and base not in loaded and any(
                    isinstance(r, Mapping) and r.get("name") == base for r in pending.values()):
                continue
            target = _parse_target(raw, fname, loaded)
            loaded[target.name] = target
            del pending[fname]
            progressed = True
        if not progressed:
            raise SpecError("targets", f"circular base targets in {', '.join(pending)}")
    return loaded


def _registry() -> dict[str, Target]:
    reg = dict(_packaged())
    reg.update(_EXTRA)
    return dict(sorted(reg.items(), key=lambda kv: (kv[1].order, kv[0])))


def register_target(path) -> Target:
    """Load a target from your own YAML file and make it available by name.

    Examples
    --------
    >>> import akida_nb as ak, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny.yaml"
    >>> _ = p.write_text("name: tiny\\ntitle: Tiny\\nlayer_types: [FullyConnected]\\nrules: []\\n")
    >>> ak.register_target(p).name, "tiny" in set(ak.targets()["name"])
    ('tiny', True)
    """
    path = Path(path)
    target = _parse_target(_read_yaml(path), str(path), _registry())
    _EXTRA[target.name] = target
    return target


def get_target(name) -> Target:
    """A target by name (or a :class:`Target`, returned as is).

    Raises
    ------
    UnknownTargetError
        Listing the known names.

    Examples
    --------
    >>> import akida_nb as ak
    >>> ak.get_target("nsoc_v2").title
    'Akida NSoC (Production)'
    """
    if isinstance(name, Target):
        return name
    reg = _registry()
    if name not in reg:
        raise UnknownTargetError(str(name), reg)
    return reg[name]


def targets():
    """DataFrame of the known targets: name, title, description, rules (count).

    Examples
    --------
    >>> import akida_nb as ak
    >>> ak.targets().set_index("name").loc["nsoc_v1", "title"]
    'Akida NSoC (Pre-production)'
    """
    import pandas as pd

    return pd.DataFrame([{"name": t.name, "title": t.title, "description": t.description,
                          "rules": len(t.rules)} for t in _registry().values()])


def constraints(target="nsoc_v2", layer_type: str | None = None):
    """The target's constraint table as a tidy DataFrame, one row per rule.

    Columns: target, layer_type, section, parameter (the seed's word), allowed,
    axis (the array axis it limits), note, source, then rule (id), field (the
    model field judged) and condition.

    Examples
    --------
    >>> import akida_nb as ak
    >>> df = ak.constraints("nsoc_v2", "InputConvolutional")
    >>> df.loc[df["parameter"] == "Width", ["allowed", "axis"]].values.tolist()
    [['[5:256]', 'd1']]
    """
    import pandas as pd

    t = get_target(target)
    if layer_type is not None:
        from .model import LAYER_TYPES

        if layer_type not in LAYER_TYPES:
            raise SpecError("layer_type", f"unknown layer type {layer_type!r} (types: {', '.join(LAYER_TYPES)})")
    rows = [{"target": t.name, "layer_type": r.layer_type, "section": r.section, "parameter": r.parameter,
             "allowed": r.allowed_text(), "axis": r.axis, "note": r.note, "source": r.source, "rule": r.id,
             "field": r.field, "condition": r.condition_text()}
            for r in t.rules if layer_type is None or r.layer_type == layer_type]
    return pd.DataFrame(rows, columns=CONSTRAINT_COLUMNS)


def compare_constraints(*names, layer_type: str | None = None):
    """Targets side by side: one row per rule id, one column per target (its allowed values), ``differs``.

    A rule a target does not have shows as ``—``. Use ``.style`` (or
    :func:`style_differences`) to highlight the rows that differ.

    Examples
    --------
    >>> import akida_nb as ak
    >>> cmp = ak.compare_constraints("nsoc_v1", "nsoc_v2")
    >>> row = cmp.loc[("Convolutional", "conv.weights_bits")]
    >>> row["nsoc_v1"], row["nsoc_v2"], bool(row["differs"])
    ('[1, 2]', '[1, 2, 4]', True)
    """
    import pandas as pd

    if len(names) == 1 and isinstance(names[0], (list, tuple)):
        names = tuple(names[0])
    if len(names) < 2:
        raise SpecError("targets", "compare_constraints needs at least two targets")
    ts = [get_target(n) for n in names]
    index: dict[tuple[str, str], dict] = {}
    for t in ts:
        for r in t.rules:
            if layer_type is not None and r.layer_type != layer_type:
                continue
            row = index.setdefault((r.layer_type, r.id), {"section": r.section, "parameter": r.parameter,
                                                          "field": r.field, "axis": r.axis})
            allowed = r.allowed_text()
            if r.when:
                allowed += f" ({r.condition_text()})"
            row[t.name] = allowed
    from .model import LAYER_TYPES

    order = {lt: i for i, lt in enumerate(LAYER_TYPES)}
    keys = sorted(index, key=lambda k: (order.get(k[0], 99), list(index).index(k)))
    data = []
    for k in keys:
        row = index[k]
        for t in ts:
            row.setdefault(t.name, "—")
        row["differs"] = len({row[t.name] for t in ts}) > 1
        data.append(row)
    df = pd.DataFrame(data, index=pd.MultiIndex.from_tuples(keys, names=["layer_type", "rule"]),
                      columns=["section", "parameter", "field", "axis"] + [t.name for t in ts] + ["differs"])
    return df


def style_differences(df):
    """A pandas Styler that highlights the rows of :func:`compare_constraints` that differ.

    Colours come from JupyterLab's theme variables, so dark themes work; the Styler
    gets a fixed ``uuid`` so the HTML is deterministic.

    Examples
    --------
    >>> import akida_nb as ak
    >>> html = ak.style_differences(ak.compare_constraints("nsoc_v1", "nsoc_v2")).to_html()
    >>> "var(--jp-warn-color3" in html
    True
    """
    styler = df.style.set_uuid("akn-constraints")
    highlight = "background-color: var(--jp-warn-color3, #fff3cd); color: var(--jp-ui-font-color0, #000)"
    return styler.apply(lambda row: [highlight if row["differs"] else "" for _ in row], axis=1)
