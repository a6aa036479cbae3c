"""Targets: the constraint tables of each Akida chip, loaded from validated data files.

Every ``*.yaml`` file in the packaged ``data/targets`` folder is one target. A file
holds ``name``, ``title``, ``description``, ``layer_types`` (the layer types its
table lists) and ``rules`` (see :mod:`akida_nb.rules` for the rule fields); it may
also say ``base: other_target`` with ``replace`` (rule ids dropped from the base)
to state a target as a difference from another, and ``device`` (its neural-processor
model). A new target needs a data file, not code: drop it in the folder, or call
:func:`register_target` with its path.

Every file is checked against the JSON schema ``akida_nb/schemas/target.schema.json``
(completed with the rule kinds, fields and layer types the code knows) before use: a
bad file raises one :class:`~akida_nb.SpecError` naming the file, the rule and the key.

A rule written once for several layer types (``layer_type: [Convolutional,
SeparableConvolutional]``, its ``id`` and ``source`` saying ``{prefix}`` and
``{layer_type}``) expands into one rule per type: ``conv.act_bits``,
``sepconv.act_bits``. A *group* (``{layer_type: [...], rules: [...]}``) expands its rules
for the first type, then for the next, and so on; a rule of the group naming one
``layer_type`` is kept for that type only. Each layer type a target neither lists nor
has rules for gets a generated rule ``layer_type`` ("not in the table").

Examples
--------
>>> import akida_nb as ak
>>> list(ak.targets()["name"])[:2]
['nsoc_v1', 'nsoc_v2']
>>> ak.constraints("nsoc_v2", "FullyConnected")["allowed"].tolist()[:3]
['[1]', '[1]', '<= 81920']
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ._safeload import parse_yaml, read_text
from .errors import SpecError, UnknownTargetError, brief, did_you_mean, one_line, schema_path, schema_problem
from .model import LAYER_TYPES
from .resources import data_dir, schema_file
from .rules import FIELDS, RULE_KINDS, Rule

__all__ = [
    "Target",
    "compare_constraints",
    "constraints",
    "default_targets",
    "distinct_targets",
    "get_target",
    "register_target",
    "registered_target",
    "style_differences",
    "targets",
    "unregister_target",
    "validate_target",
]

CONSTRAINT_COLUMNS = ["target", "layer_type", "section", "parameter", "allowed", "axis", "note", "source",
                      "rule", "field", "condition", "severity"]
PREFIXES = {"InputConvolutional": "input_conv", "Convolutional": "conv", "SeparableConvolutional": "sepconv",
            "FullyConnected": "fc"}
"""The id prefix of each layer type's rules (``{prefix}`` in a rule id written for several types)."""
PAIR_FIELDS = ("kernel_size", "kernel_stride", "pool_size", "pool_stride", "input_dims")
"""Fields holding a (d0, d1) pair: a rule may read one axis as ``input_dims[0]``."""


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
    device: Mapping[str, Any] | None = None  # the neural-processor model, for targets that have one
    default: bool = False  # checked when no target is named (the CLI, the Explorer)

    def __post_init__(self) -> None:
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
        raise SpecError(f"{self.name}.rules", f"no rule {brief(rule_id)}")

    def rules_for(self, layer_type: str) -> tuple[Rule, ...]:
        """The rules that judge one layer type, in table order.

        Examples
        --------
        >>> import akida_nb as ak
        >>> len(ak.get_target("nsoc_v1").rules_for("InputConvolutional"))
        1
        """
        return tuple(r for r in self.rules if r.layer_type == layer_type)


# ---------------------------------------------------------------------------- the schema
@cache
def target_schema() -> dict[str, Any]:
    """The JSON schema of a target file, its enums completed from the code's kinds, fields and layer types.

    Examples
    --------
    >>> s = target_schema()
    >>> "max_by" in s["$defs"]["kind"]["enum"], "Convolutional" in s["$defs"]["layer_type"]["enum"]
    (True, True)
    """
    schema = schema_file("target")
    defs = schema["$defs"]
    defs["layer_type"]["enum"] = list(LAYER_TYPES)
    defs["kind"]["enum"] = list(RULE_KINDS)
    defs["field"]["enum"] = list(FIELDS) + [f"{f}[{i}]" for f in PAIR_FIELDS for i in (0, 1)]
    defs["rule_body"]["allOf"] = [
        {"if": {"properties": {"kind": {"const": name}}, "required": ["kind"]}, "then": {"required": list(k.needs)}}
        for name, k in RULE_KINDS.items() if k.needs]
    return schema


@cache
def _validator() -> Callable[[Any], Any]:
    # fastjsonschema compiles the schema to a function once (~40 ms) and imports in milliseconds;
    # jsonschema's import takes seconds where JupyterLab's format checkers are installed.
    import fastjsonschema

    return fastjsonschema.compile(target_schema())


def _place(raw: Any, where: str, path: list) -> str:
    """``file: rule <id>: key.sub`` for a path into a target file."""
    rest = [int(p) if isinstance(p, str) and p.isdigit() else p for p in path]
    if len(rest) >= 2 and rest[0] == "rules" and isinstance(rest[1], int):
        entry, label = raw["rules"][rest[1]], f"rules[{rest[1]}]"
        rest = rest[2:]
        if len(rest) >= 2 and rest[0] == "rules" and isinstance(entry, Mapping) and isinstance(rest[1], int):
            entry, label = entry["rules"][rest[1]], f"{label}.rules[{rest[1]}]"
            rest = rest[2:]
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            label = f"rule {one_line(entry['id'], 60)}"
        where = f"{where}: {label}"
    return f"{where}: {schema_path(rest)}" if rest else where


def validate_target(raw: Any, where: str = "target") -> None:
    """Check a target file's content against :func:`target_schema`.

    Raises
    ------
    SpecError
        The first problem, naming ``where`` (the file), the rule id and the key.

    Examples
    --------
    >>> validate_target({"name": "t", "title": "T", "rules": [{"id": "fc.x", "layer_type": "FullyConnected",
    ...     "section": "s", "parameter": "p", "field": "unitz", "kind": "range", "max": 1,
    ...     "note": "n", "fix": "f", "source": "s"}]}, "t.yaml")
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: t.yaml: rule fc.x: field: 'unitz' is not one of the known values (type, name, index, …)
    """
    import fastjsonschema

    try:
        _validator()(raw)
    except fastjsonschema.JsonSchemaValueException as e:
        problem = schema_problem(e, known_keys=set(target_schema()["$defs"]["field"]["enum"]))
        raise SpecError(_place(raw, where, list(e.path)[1:]), one_line(problem, 200)) from None


# ---------------------------------------------------------------------------- parsing
def _instantiate(raw: Mapping, layer_type: str) -> dict:
    out = dict(raw, layer_type=layer_type)
    for key in ("id", "source"):
        out[key] = raw[key].replace("{prefix}", PREFIXES[layer_type]).replace("{layer_type}", layer_type)
    return out


def _types(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _expand(entries: list, where: str) -> list[dict]:
    """Rules written once for several layer types, one per type, in table order (see the module docstring)."""
    out = []
    for i, entry in enumerate(entries):
        if "rules" not in entry:
            out += [_instantiate(entry, lt) for lt in _types(entry["layer_type"])]
            continue
        for r in entry["rules"]:  # a group: its rules for each type in turn
            stray = set(_types(r.get("layer_type", []))) - set(entry["layer_type"])
            if stray:
                raise SpecError(f"{where}: rule {r['id']}: layer_type",
                                f"{', '.join(sorted(stray))} is not a type of its group (rules[{i}])")
        out += [_instantiate(r, lt) for lt in entry["layer_type"] for r in entry["rules"]
                if lt in _types(r.get("layer_type", lt))]
    return out


def _layer_type_rules(name: str, title: str, layer_types: tuple[str, ...], rules: list[Rule]) -> list[Rule]:
    """The generated ``layer_type`` rule of each layer type the target neither lists nor has rules for."""
    covered = set(layer_types) | {r.layer_type for r in rules}
    title = title.replace("{", "{{").replace("}", "}}")
    return [Rule(id="layer_type", layer_type=lt, section="Layer", parameter="type", field="type", kind="allowed",
                 values=layer_types, message=f"the {{type}} layer type is not in the {title} table.",
                 fix="Replace the layer with a supported type.", note="The target's table lists no such layer.",
                 source=f"{name} layer types")
            for lt in LAYER_TYPES if lt not in covered]


def _parse_target(raw: Any, where: str, known: Mapping[str, Target]) -> Target:
    validate_target(raw, where)
    rules: list[Rule] = []
    layer_types = raw.get("layer_types")
    device = raw.get("device")
    if raw.get("base"):
        base = known.get(raw["base"])
        if base is None or raw["base"] == raw["name"]:
            raise SpecError(f"{where}: base", f"unknown base target {brief(raw['base'])} (known: {', '.join(known)})")
        dropped = set(raw.get("replace", ()))
        missing = dropped - {r.id for r in base.rules}
        if missing:
            raise SpecError(f"{where}: replace", f"no such rules in {base.name}: {', '.join(sorted(missing))}")
        rules = [r for r in base.rules if r.id not in dropped and r.id != "layer_type"]
        layer_types = layer_types or base.layer_types
        device = device if device is not None else base.device
    elif raw.get("replace"):
        raise SpecError(f"{where}: replace", "only a target with a base replaces rules")
    expanded = _expand(raw["rules"] or [], where)
    added = [Rule.from_dict(r, f"{where}: rule {r['id']}") for r in expanded]
    ids = [r.id for r in rules + added]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SpecError(f"{where}: rules", f"duplicate rule ids: {', '.join(dupes)}")
    for rule in added:
        for key in ("id", "source"):
            if "{prefix}" in getattr(rule, key) or "{layer_type}" in getattr(rule, key):
                raise SpecError(f"{where}: rule {rule.id}: {key}", "left a {prefix} or {layer_type} unexpanded")
    all_rules = rules + added
    layer_types = tuple(layer_types or ())
    return Target(name=raw["name"], title=raw["title"], description=raw.get("description", ""),
                  layer_types=layer_types,
                  rules=tuple(all_rules + _layer_type_rules(raw["name"], raw["title"], layer_types, all_rules)),
                  base=raw.get("base"), order=int(raw.get("order", 100)), refuser=raw.get("refuser", ""),
                  default=bool(raw.get("default", False)),
                  device=device)


def _read_yaml(path: Path) -> Any:
    """The one reader of target files (YAML, hence JSON too), through the hardened loader."""
    return parse_yaml(read_text(path, where=str(path)), str(path))


_EXTRA: dict[str, Target] = {}
"""Targets registered in this session (they hide a packaged target of the same name)."""


@cache
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


# ---------------------------------------------------------------------------- registering
def _as_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise SpecError("path", f"expected the path of a target file, got {brief(path)}")
    return Path(path)


def register_target(path, replace: bool = False) -> Target:
    """Load a target from your own YAML file and make it available by name.

    Parameters
    ----------
    path : str or Path
        A target file (the format of the packaged ``data/targets/*.yaml``).
    replace : bool
        Replace a target of the same name (a packaged one comes back with
        :func:`unregister_target`). Without it, an existing name is refused.

    Raises
    ------
    SpecError
        The file is not a valid target (named with the rule and key), its name is taken,
        or its ``base`` would make a cycle.

    See Also
    --------
    registered_target : the same, undone when a ``with`` block ends.

    Examples
    --------
    >>> import akida_nb as ak, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny.yaml"
    >>> _ = p.write_text("name: tiny\\ntitle: Tiny\\nlayer_types: [FullyConnected]\\nrules: []\\n")
    >>> ak.register_target(p).name, "tiny" in set(ak.targets()["name"])
    ('tiny', True)
    >>> ak.unregister_target("tiny")
    >>> "tiny" in set(ak.targets()["name"])
    False
    """
    path = _as_path(path)
    where = str(path)
    reg = _registry()
    target = _parse_target(_read_yaml(path), where, reg)
    if target.name in reg and not replace:
        raise SpecError(f"{where}: name", f"a target named {target.name!r} exists; pass replace=True to replace it")
    chain, base = [target.name], target.base
    while base is not None:
        chain.append(base)
        if base == target.name:
            raise SpecError(f"{where}: base", f"{' → '.join(map(repr, chain))} makes a cycle of base targets")
        base = reg[base].base if base in reg and base not in chain[:-1] else None
    _EXTRA[target.name] = target
    return target


def unregister_target(name: str) -> None:
    """Remove a target registered with :func:`register_target` (a packaged one it replaced comes back).

    Raises
    ------
    SpecError
        For a packaged target, or a target another registered target uses as ``base``.
    UnknownTargetError
        For a name that is not registered.

    Examples
    --------
    >>> import akida_nb as ak
    >>> ak.unregister_target("nsoc_v1")
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: nsoc_v1: a packaged target cannot be removed
    """
    if not isinstance(name, str):
        raise SpecError("name", f"expected a target name, got {brief(name)}")
    if name not in _EXTRA:
        if name in _packaged():
            raise SpecError(name, "a packaged target cannot be removed")
        raise UnknownTargetError(one_line(name, 60), list(_registry()))
    if name not in _packaged():
        users = sorted(t.name for t in _EXTRA.values() if t.base == name)
        if users:
            raise SpecError(name, f"used as base by {', '.join(users)}: unregister them first")
    del _EXTRA[name]


@contextlib.contextmanager
def registered_target(path, replace: bool = False) -> Iterator[Target]:
    """:func:`register_target` for the length of a ``with`` block (then the registry is as before).

    Examples
    --------
    >>> import akida_nb as ak, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "fc_only.yaml"
    >>> _ = p.write_text("name: fc_only\\ntitle: FC only\\nlayer_types: [FullyConnected]\\nrules: []\\n")
    >>> with ak.registered_target(p) as t:
    ...     ak.check(ak.example("ds_cnn_kws"), "fc_only").violations["rule"].unique().tolist()
    ['layer_type']
    >>> "fc_only" in set(ak.targets()["name"])
    False
    """
    before = dict(_EXTRA)
    target = register_target(path, replace=replace)
    try:
        yield target
    finally:
        _EXTRA.clear()
        _EXTRA.update(before)


# ---------------------------------------------------------------------------- lookup and tables
def get_target(name) -> Target:
    """A target by name (or a :class:`Target`, returned as is).

    Raises
    ------
    UnknownTargetError
        Listing the known names.
    SpecError
        When ``name`` is neither a string nor a Target.

    Examples
    --------
    >>> import akida_nb as ak
    >>> ak.get_target("nsoc_v2").title
    'Akida NSoC (Production)'
    """
    if isinstance(name, Target):
        return name
    if not isinstance(name, str):
        raise SpecError("target", f"expected a target name or an akida_nb Target, got {brief(name)}")
    reg = _registry()
    if name not in reg:
        raise UnknownTargetError(one_line(name, 60), reg)
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


def default_targets() -> tuple[str, ...]:
    """The targets checked when none is named (the CLI, the Explorer): those whose file says ``default: true``.

    Examples
    --------
    >>> import akida_nb as ak
    >>> ak.default_targets()
    ('nsoc_v1', 'nsoc_v2')
    """
    return tuple(name for name, t in _registry().items() if t.default)


def _check_layer_type(layer_type: Any) -> None:
    if layer_type is not None and (not isinstance(layer_type, str) or layer_type not in LAYER_TYPES):
        raise SpecError("layer_type", f"unknown layer type {brief(layer_type)} "
                                        f"({did_you_mean(layer_type, LAYER_TYPES)}types: {', '.join(LAYER_TYPES)})")


def constraints(target="nsoc_v2", layer_type: str | None = None):
    """The target's constraint table as a tidy DataFrame, one row per rule.

    Columns: target, layer_type, section, parameter (the seed's word), allowed,
    axis (the array axis it limits), note, source, then rule (id), field (the
    model field judged), condition and severity.

    Examples
    --------
    >>> import akida_nb as ak
    >>> df = ak.constraints("nsoc_v2", "InputConvolutional")
    >>> df.loc[df["parameter"] == "Width", ["allowed", "axis"]].values.tolist()
    [['[5:256]', 'd1']]
    """
    import pandas as pd

    t = get_target(target)
    _check_layer_type(layer_type)
    rows = [{"target": t.name, "layer_type": r.layer_type, "section": r.section, "parameter": r.parameter,
             "allowed": r.allowed_text(), "axis": r.axis, "note": r.note, "source": r.source, "rule": r.id,
             "field": r.field, "condition": r.condition_text(), "severity": r.severity}
            for r in t.rules if layer_type is None or r.layer_type == layer_type]
    return pd.DataFrame(rows, columns=CONSTRAINT_COLUMNS)


def distinct_targets(ts: list[Target], what: str) -> list[Target]:
    """``ts`` when no target appears twice; else a SpecError naming the repeated ones (a duplicate is a typo).

    Examples
    --------
    >>> [t.name for t in distinct_targets([get_target("nsoc_v1"), get_target("akd1000")], "targets")]
    ['nsoc_v1', 'akd1000']
    """
    names = [t.name for t in ts]
    twice = [n for i, n in enumerate(names) if n in names[:i]]
    if twice:
        raise SpecError(what, f"each target once, got {', '.join(t.name for t in ts)} "
                              f"({', '.join(dict.fromkeys(twice))} more than once)")
    return ts


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
    _check_layer_type(layer_type)
    ts = distinct_targets([get_target(n) for n in names], "targets")
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
    gets a fixed ``uuid`` so the HTML is deterministic; every cell is HTML-escaped
    (target files are text from anywhere).

    Examples
    --------
    >>> import akida_nb as ak
    >>> html = ak.style_differences(ak.compare_constraints("nsoc_v1", "nsoc_v2")).to_html()
    >>> "var(--jp-warn-color2" in html and "var(--jp-content-font-color0" in html
    True
    """
    if not hasattr(df, "style") or "differs" not in getattr(df, "columns", ()):
        raise SpecError("df", f"expected a compare_constraints() DataFrame, got {type(df).__name__}")
    from pandas.io.formats.style import Styler

    class _DifferencesStyler(Styler):
        def __repr__(self) -> str:  # deterministic text (the default names an address): stored notebooks stay stable
            rows = int(self.data["differs"].sum())
            return f"<Styler: {len(self.data)} rules, {rows} differ>"

    styler = _DifferencesStyler(df).set_uuid("akn-constraints").format(escape="html").format_index(escape="html",
                                                                                                    axis=0)
    # a tint of the theme's accent mixed into the theme's background, with the theme's text colour:
    # at least 4.5:1 in JupyterLab Light and Dark (--jp-warn-color3 stays light in Dark while text turns white)
    highlight = ("background-color: color-mix(in srgb, var(--jp-warn-color2, #ffb74d) 25%, "
                 "var(--jp-layout-color1, #fff)); color: var(--jp-content-font-color0, #000)")
    return styler.apply(lambda row: [highlight if row["differs"] else "" for _ in row], axis=1)
