"""Design-space sweeps: :class:`Space` (a base model and knobs) and :func:`sweep` (every variant × target).

A :class:`Space` varies fields of a base model: ``filters=[32, 64]`` sets ``filters`` on every
layer that has it, all together; ``types=`` and ``layers=`` refine that per layer type and per
layer name. :func:`sweep` builds each variant, checks it against each target and returns one
row per variant × target, in this process (a tqdm progress bar) or on a ``dask.distributed``
``Client`` (the optional ``dask`` extra) with the same result. Workers receive the base model
as a plain dict of the native format and build the variants themselves.

Examples
--------
>>> import akida_nb as ak
>>> space = ak.Space(ak.example("ds_cnn_kws"), filters=[32, 64], weights_bits=[2, 4])
>>> len(space)
4
>>> df = ak.sweep(space, ["nsoc_v2", "akd1000"], progress=False)
>>> df.shape[0], df.columns[:4].tolist()
(8, ['variant', 'filters', 'weights_bits', 'target'])
"""
from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .errors import AkidaNbError, SpecError, brief, did_you_mean, one_line, schema_path, schema_problem
from .model import KEYS_BY_TYPE, LAYER_TYPES, Model, ensure_model, model_macs
from .present import format_value

__all__ = ["RESULT_COLUMNS", "Space", "load_space", "model_macs", "space_schema", "sweep"]

KNOB_FIELDS = tuple(sorted({k for keys in KEYS_BY_TYPE.values() for k in keys} - {"type", "name"}))
"""Layer fields a knob may vary (every field of the native format but ``type`` and ``name``)."""
RESULT_COLUMNS = ("target", "ok", "violations", "first_rule", "nps", "passes", "macs", "error")
"""Columns of a :func:`sweep` result after ``variant`` and the knob columns."""
DASK_HINT = ('a dask.distributed Client needs dask, which is not installed; pip install "akida_nb[dask]" '
             '(or "dask[distributed]")')
"""What a user is told when a ``client=`` is given without the ``dask`` extra."""


@dataclass(frozen=True)
class _Knob:
    """One varied field: ``scope`` is ``""`` (every layer), a layer type or a layer name."""

    kind: str  # "all", "type" or "layer"
    scope: str
    field: str
    values: tuple[Any, ...]

    @property
    def label(self) -> str:
        return self.field if self.kind == "all" else f"{self.scope}.{self.field}"


_INT64 = 2 ** 63


def _values(raw: Any, where: str) -> tuple[Any, ...]:
    if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Iterable):
        raise SpecError(where, f"expected a non-empty list of values, got {brief(raw)}")
    values = tuple(tuple(v) if isinstance(v, list) else v for v in raw)
    if not values:
        raise SpecError(where, "expected a non-empty list of values, got []")
    for v in values:
        if not isinstance(v, (int, str, tuple)) or (isinstance(v, tuple) and not all(
                isinstance(x, int) and not isinstance(x, bool) for x in v)):
            raise SpecError(where, f"a value must be an int, a string, a bool or a pair of ints, got {brief(v)}")
        if any(isinstance(x, int) and not -_INT64 <= x < _INT64 for x in (v if isinstance(v, tuple) else (v,))):
            raise SpecError(where, f"an integer value must fit in 64 bits, got {brief(v)}")
    return values


def _field(name: Any, where: str) -> str:
    if name not in KNOB_FIELDS:
        raise SpecError(where, f"unknown field {brief(name)} (knobs: {', '.join(KNOB_FIELDS)})")
    return name


def _knob_table(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping) or not raw:
        raise SpecError(where, f"expected a mapping of field: [values], got {brief(raw)}")
    return raw


def _scoped(raw: Any, where: str) -> Mapping[Any, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SpecError(where, f"expected a mapping of {where[:-1]} name: {{field: [values]}}, got {brief(raw)}")
    return raw


def _applies(knob: _Knob, index: int, layer: Mapping[str, Any], last: int) -> bool:
    if knob.field not in layer:
        return False
    if knob.kind == "layer":
        return layer["name"] == knob.scope
    if knob.field == "units" and index == last:  # the classes: only a per-layer knob changes them
        return False
    return knob.kind == "all" or layer["type"] == knob.scope


_PRECEDENCE = {"all": 0, "type": 1, "layer": 2}


def _build_spec(base: Mapping[str, Any], knobs: Sequence[_Knob], values: Sequence[Any]) -> dict[str, Any]:
    """The native dict of one variant: the base with each knob's value set (per layer > per type > all)."""
    spec = copy.deepcopy(dict(base))
    layers = spec["layers"]
    order = sorted(range(len(knobs)), key=lambda k: _PRECEDENCE[knobs[k].kind])
    for k in order:
        knob, value = knobs[k], values[k]
        for i, layer in enumerate(layers):
            if _applies(knob, i, layer, len(layers) - 1):
                layer[knob.field] = list(value) if isinstance(value, tuple) else value
    return spec


class Space:
    """A design space: a base model and the knobs that vary it (one variant per combination).

    Parameters
    ----------
    model : Model
        The base architecture.
    layers : dict of str to dict, optional
        Per-layer knobs: ``{"separable_2": {"filters": [32, 64]}}``. They override the other knobs
        on that layer and are the only way to vary the output layer's ``units`` (the classes).
    types : dict of str to dict, optional
        Per-type knobs: ``{"SeparableConvolutional": {"kernel_size": [3, 5]}}``; they override the
        all-layer knobs on layers of that type.
    build : callable, optional
        ``build(spec, values) -> dict or Model``: called on each variant's native dict (the knobs
        already set) with the knob values (``{label: value}``); returns the variant. It runs where the
        sweep runs (workers receive it by cloudpickle). An exception it raises becomes that variant's error.
    **knobs : list
        All-layer knobs, ``field=[values]``: the field is set on every layer that has it, all
        together (the output layer's ``units`` excepted). Fields: :data:`KNOB_FIELDS`.

    Raises
    ------
    SpecError
        An unknown field, layer or type, a knob that no layer has, or values that are not a
        non-empty list of ints, strings, bools or pairs of ints.

    Examples
    --------
    >>> import akida_nb as ak
    >>> space = ak.Space(ak.example("ds_cnn_kws"), filters=[32, 64, 128], weights_bits=[1, 2, 4],
    ...                  act_bits=[1, 2, 4], kernel_size=[3, 5])
    >>> len(space), space.labels
    (54, ['filters', 'weights_bits', 'act_bits', 'kernel_size'])
    >>> space.values(53)
    {'filters': 128, 'weights_bits': 4, 'act_bits': 4, 'kernel_size': 5}
    >>> [l.filters for l in space.model(0).layers[:-1]], space.model(0).layers[-1].units
    ([32, 32, 32, 32, 32], 33)
    >>> ak.Space(ak.example("ds_cnn_kws"), layers={"separable_2": {"filters": [16, 32]}}).model(1).layers[2].filters
    32
    >>> len(space.sample(10, seed=0)), space.sample(10, seed=0).ids == space.sample(10, seed=0).ids
    (10, True)
    """

    def __init__(self, model: Model, *, layers: Mapping[str, Mapping[str, Any]] | None = None,
                 types: Mapping[str, Mapping[str, Any]] | None = None,
                 build: Callable[[dict[str, Any], dict[str, Any]], Any] | None = None, **knobs: Any):
        ensure_model(model)
        if build is not None and not callable(build):
            raise SpecError("build", f"expected a callable build(spec, values), got {brief(build)}")
        self.base: Model = model
        self.build = build
        self._base_dict = model.to_dict()
        found: list[_Knob] = [_Knob("all", "", _field(f, f), _values(v, f)) for f, v in knobs.items()]
        for t, table in _scoped(types, "types").items():
            if t not in LAYER_TYPES:
                raise SpecError(f"types.{one_line(str(t), 40)}",
                                f"unknown layer type ({did_you_mean(t, LAYER_TYPES)}types: {', '.join(LAYER_TYPES)})")
            for f, v in _knob_table(table, f"types.{t}").items():
                found.append(_Knob("type", t, _field(f, f"types.{t}.{f}"), _values(v, f"types.{t}.{f}")))
        names = [l.name for l in model.layers]
        for name, table in _scoped(layers, "layers").items():
            if name not in names:
                raise SpecError(f"layers.{one_line(str(name), 40)}",
                                f"no such layer in {brief(model.name)} (layers: {', '.join(names[:8])})")
            for f, v in _knob_table(table, f"layers.{name}").items():
                found.append(_Knob("layer", name, _field(f, f"layers.{name}.{f}"),
                                   _values(v, f"layers.{name}.{f}")))
        last = len(names) - 1
        for knob in found:
            if not any(_applies(knob, i, l, last) for i, l in enumerate(self._base_dict["layers"])):
                raise SpecError(knob.label, f"no layer of {brief(model.name)} has this field"
                                + (" (the output layer's units change only with layers=)"
                                   if knob.field == "units" else ""))
        labels = [k.label for k in found]
        if len(set(labels)) != len(labels):
            raise SpecError("knobs", f"a knob is given twice: {brief(labels)}")
        self.knobs: tuple[_Knob, ...] = tuple(found)
        self.size = math.prod(len(k.values) for k in found)
        self.ids: Sequence[int] = range(self.size)
        self.targets: tuple[str, ...] = ()

    @property
    def labels(self) -> list[str]:
        """Column names of the knobs: ``field`` for all-layer knobs, ``scope.field`` for the others."""
        return [k.label for k in self.knobs]

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        sampled = f", sampled {len(self)} of {self.size}" if len(self) != self.size else ""
        return f"Space({self.base.name!r}, {len(self)} variants{sampled}: {', '.join(self.labels) or 'no knobs'})"

    def values(self, variant: int) -> dict[str, Any]:
        """The knob values of a variant (its number in the full product, last knob fastest)."""
        if isinstance(variant, bool) or not isinstance(variant, int) or not 0 <= variant < self.size:
            raise SpecError("variant", f"expected an int in [0, {self.size - 1}], got {brief(variant)}")
        return _decode(self.knobs, variant)

    def spec(self, variant: int) -> dict[str, Any]:
        """The native-format dict of a variant (the ``build`` callback applied)."""
        values = self.values(variant)
        return _variant_spec(self._payload(), variant, values)

    def model(self, variant: int) -> Model:
        """The :class:`~akida_nb.Model` of a variant (a SpecError when the variant is invalid)."""
        return Model.from_dict(self.spec(variant))

    def sample(self, n: int, seed: int = 0) -> Space:
        """A space of ``n`` variants drawn at random without replacement (reproducible for a seed).

        All of them when ``n`` is at least the size of the space; the variant numbers keep their
        meaning in the full space.
        """
        for name, v in (("n", n), ("seed", seed)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise SpecError(name, f"expected an int ≥ 0, got {brief(v)}")
        out = copy.copy(self)
        out.ids = range(self.size) if n >= self.size else sorted(random.Random(seed).sample(range(self.size), n))
        return out

    def _payload(self) -> dict[str, Any]:
        return {"base": self._base_dict, "knobs": self.knobs, "build": self.build}


def _decode(knobs: Sequence[_Knob], variant: int) -> dict[str, Any]:
    """Knob values of a variant number (mixed radix, the last knob varying fastest)."""
    out: dict[str, Any] = {}
    for knob in reversed(knobs):
        variant, j = divmod(variant, len(knob.values))
        out[knob.label] = knob.values[j]
    return dict(reversed(out.items()))


def _variant_spec(payload: Mapping[str, Any], variant: int, values: Mapping[str, Any]) -> dict[str, Any]:
    knobs = payload["knobs"]
    spec = _build_spec(payload["base"], knobs, [values[k.label] for k in knobs])
    spec["name"] = f"{spec.get('name', 'model')}#{variant}"
    build = payload["build"]
    if build is None:
        return spec
    built = build(spec, dict(values))
    if isinstance(built, Model):
        return built.to_dict()
    if not isinstance(built, Mapping):
        raise SpecError("build", f"the callback returned {brief(built)}, not a dict or a Model")
    return dict(built)


# ---------------------------------------------------------------------------- the work of one chunk
def _error_text(e: BaseException) -> str:
    text = str(e) if isinstance(e, AkidaNbError) else f"{type(e).__name__}: {e}"
    return one_line(text, 200)


def _rows(payload: Mapping[str, Any], variant: int, targets: Sequence[Any]) -> list[dict[str, Any]]:
    """The rows of one variant (one per target); an invalid variant gives rows with its error."""
    from .check import check
    from .nps import estimate_nps

    values = _decode(payload["knobs"], variant)
    head = {"variant": variant, **{k: format_value(v) if isinstance(v, tuple) else v for k, v in values.items()}}
    try:
        model = Model.from_dict(_variant_spec(payload, variant, values))
        macs = model_macs(model)
    except Exception as e:  # noqa: BLE001 - an invalid variant (or a failing callback) is a row, not a crash
        return [{**head, "target": t.name, "ok": False, "violations": None, "first_rule": None, "nps": None,
                 "passes": None, "macs": None, "error": _error_text(e)} for t in targets]
    rows = []
    for t in targets:
        row: dict[str, Any] = {**head, "target": t.name, "passes": None, "macs": macs, "error": None}
        try:
            rep = check(model, t)
            errors = [v for v in rep.entries if v.severity == "error"]
            row.update(ok=rep.ok, violations=len(errors), first_rule=errors[0].rule if errors else None)
            if t.device is not None:
                attrs = estimate_nps(model, t).attrs
                row.update(nps=int(attrs["total"]), passes=int(attrs["passes"]) if attrs.get("maps") else None)
            else:
                row.update(nps=None)
        except AkidaNbError as e:
            row.update(ok=False, violations=None, first_rule=None, nps=None, error=_error_text(e))
        rows.append(row)
    return rows


def _sweep_chunk(payload: Mapping[str, Any], variants: Sequence[int], targets: Sequence[Any]):
    """The rows of some variants as a typed DataFrame (what a task returns: far smaller than dicts)."""
    return _frame([row for v in variants for row in _rows(payload, v, targets)], payload["knobs"])


# ---------------------------------------------------------------------------- the frame
_TYPES = {"variant": "int64", "target": "string", "ok": "boolean", "violations": "Int64", "first_rule": "string",
          "nps": "Int64", "passes": "Int64", "macs": "Int64", "error": "string"}


def _knob_dtype(values: Sequence[Any]) -> str:
    """A knob column's dtype, from the knob's values (so every chunk of a sweep agrees)."""
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "Int64"
    return "string"


def _frame(rows: list[dict[str, Any]], knobs: Sequence[_Knob]):
    import pandas as pd

    labels = [k.label for k in knobs]
    df = pd.DataFrame(rows, columns=["variant", *labels, *RESULT_COLUMNS])
    types = dict(_TYPES)
    for knob in knobs:
        types[knob.label] = _knob_dtype(knob.values)
        if types[knob.label] == "string":
            df[knob.label] = [None if v is None else format_value(v) for v in df[knob.label]]
    return df.astype(types)


def _sorted(frames: list[Any], knobs: Sequence[_Knob], target_order: Sequence[str]):
    """The chunks' frames as one, sorted by variant then the targets' order."""
    import pandas as pd

    df = pd.concat(frames, ignore_index=True) if frames else _frame([], knobs)
    rank = {name: i for i, name in enumerate(target_order)}
    return (df.assign(_rank=df["target"].map(rank)).sort_values(["variant", "_rank"], kind="stable")
            .drop(columns="_rank").reset_index(drop=True))


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def require_client(client: Any) -> Any:
    """The ``distributed`` module, checking that ``client`` is a ``dask.distributed.Client``.

    Raises
    ------
    SpecError
        ``client``: dask is not installed (saying how to install it), or the object is not a Client.

    Examples
    --------
    >>> require_client("localhost:8786")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: client: ...dask.distributed...Client...
    """
    try:
        import distributed
    except ImportError:
        raise SpecError("client", DASK_HINT) from None
    if not isinstance(client, distributed.Client):
        raise SpecError("client", f"expected a dask.distributed.Client, got {brief(client)}")
    return distributed


def sweep(space: Space, targets: Iterable[Any] | str = ("nsoc_v1", "nsoc_v2"), client: Any = None, *,
          chunk_size: int | None = None, progress: bool = True):
    """Check every variant of a space against every target: one row per variant × target.

    Parameters
    ----------
    space : Space
    targets : list of str or Target
    client : dask.distributed.Client, optional
        Run the chunks there (needs the ``dask`` extra); without it, in this process.
    chunk_size : int, optional
        Variants per task (default: about 8 tasks per worker thread, at most 500 variants).
    progress : bool
        Show a tqdm progress bar (variants done).

    Returns
    -------
    pandas.DataFrame
        Sorted by ``variant`` then the targets' order, with typed columns: ``variant`` (int64,
        the number in the full space), one column per knob (:attr:`Space.labels`), ``target``,
        ``ok`` (boolean), ``violations`` (errors found), ``first_rule``, ``nps`` (the estimate for
        targets with a device, else NA), ``passes`` (hardware passes when the device maps the model,
        else NA), ``macs`` and ``error`` (NA, or why the variant is invalid). The same frame
        whatever the engine and the chunking.

    Raises
    ------
    SpecError
        A ``space`` that is not a Space, a bad ``chunk_size``, or a ``client`` without dask.
    UnknownTargetError
        An unknown target name.

    Examples
    --------
    >>> import akida_nb as ak
    >>> space = ak.Space(ak.example("ds_cnn_kws"), filters=[64, 0])
    >>> df = ak.sweep(space, "akd1000", progress=False)
    >>> print(df[["variant", "filters", "ok", "nps"]].to_string(index=False))
     variant  filters    ok  nps
           0       64  True    5
           1        0 False <NA>
    >>> df.loc[1, "error"]
    'layers[0].filters: sizes must be positive, got [0]'
    """
    from tqdm import tqdm

    from .check import _target_list

    if not isinstance(space, Space):
        raise SpecError("space", f"expected an akida_nb.Space, got {brief(space)}")
    ts = _target_list(targets, "targets")
    distributed = require_client(client) if client is not None else None
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise SpecError("chunk_size", f"expected a positive int, got {brief(chunk_size)}")
    ids = space.ids
    payload = space._payload()
    frames: list[Any] = []
    with tqdm(total=len(ids), unit="variant", disable=not progress, desc=f"sweep {space.base.name}") as bar:
        if distributed is None:
            for chunk in _chunks(ids, chunk_size or 50):
                frames.append(_sweep_chunk(payload, chunk, ts))
                bar.update(len(chunk))
        else:
            workers = max(1, sum(client.nthreads().values()))
            size = chunk_size or max(1, min(500, math.ceil(len(ids) / (8 * workers))))
            chunks = [list(c) for c in _chunks(ids, size)]
            [shared] = client.scatter([(payload, ts)], broadcast=True, hash=False)
            futures = [client.submit(_remote_chunk, shared, c, pure=False) for c in chunks]
            sizes = {f.key: len(c) for f, c in zip(futures, chunks)}
            for future in distributed.as_completed(futures):
                bar.update(sizes[future.key])
            frames = client.gather(futures)
    return _sorted(frames, space.knobs, [t.name for t in ts])


def _remote_chunk(shared: tuple[Mapping[str, Any], Sequence[Any]], variants: Sequence[int]):
    payload, targets = shared
    return _sweep_chunk(payload, variants, targets)


# ---------------------------------------------------------------------------- space files
@cache
def space_schema() -> dict[str, Any]:
    """The JSON schema of a space file (``akida_nb/schemas/space.schema.json``), knob fields and types filled in.

    Examples
    --------
    >>> s = space_schema()
    >>> "filters" in s["$defs"]["knobs"]["properties"], "FullyConnected" in s["properties"]["types"]["properties"]
    (True, True)
    """
    from .resources import schema_file

    schema = schema_file("space")
    schema["$defs"]["knobs"]["properties"] = {f: {"$ref": "#/$defs/values"} for f in KNOB_FIELDS}
    schema["properties"]["types"]["properties"] = {t: {"$ref": "#/$defs/knobs"} for t in LAYER_TYPES}
    return schema


@cache
def _space_validator() -> Callable[[Any], Any]:
    import fastjsonschema

    return fastjsonschema.compile(space_schema())


def load_space(path: str | Any) -> Space:
    """Read a space file (YAML or JSON; schema: :func:`space_schema`) into a :class:`Space`.

    The file names the base model (an example name or a file relative to it), the knobs
    (``knobs``, ``types``, ``layers``), optionally ``sample: {n, seed}`` and the default
    ``targets`` (kept in :attr:`Space.targets`).

    Raises
    ------
    SpecError
        Naming the file and the key: unreadable, not YAML, not of the schema, or knobs the model refuses.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "space.yaml"
    >>> _ = p.write_text("model: ds_cnn_kws\\nknobs: {filters: [32, 64]}\\nsample: {n: 1, seed: 3}\\n")
    >>> space = load_space(p)
    >>> len(space), space.size, space.targets
    (1, 2, ())
    >>> _ = p.write_text("model: ds_cnn_kws\\nknobs: {filterz: [32]}\\n")
    >>> load_space(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: ...space.yaml: knobs: unknown key 'filterz' (allowed: act_bits, activation, ...)
    """
    import fastjsonschema

    from ._safeload import parse_yaml, read_text
    from .io import load_model
    from .resources import example, examples

    where = one_line(str(path), 120)
    raw = parse_yaml(read_text(path, where=where), where)
    try:
        _space_validator()(raw)
    except fastjsonschema.JsonSchemaValueException as e:
        place = schema_path(list(e.path)[1:])
        raise SpecError(f"{where}: {place}" if place else where, one_line(schema_problem(e), 200)) from None
    name = raw["model"]
    file = Path(path).parent / name
    try:
        base = example(name) if not file.exists() and name in examples() else load_model(file)
    except AkidaNbError as e:
        raise SpecError(f"{where}: model", one_line(str(e), 240)) from None

    def pairs(table: Mapping[str, Any]) -> dict[str, Any]:
        return {k: {f: [tuple(v) if isinstance(v, list) else v for v in vs] for f, vs in t.items()}
                for k, t in table.items()}

    try:
        space = Space(base, layers=pairs(raw.get("layers", {})), types=pairs(raw.get("types", {})),
                      **pairs({"": raw.get("knobs", {})}).get("", {}))
    except SpecError as e:
        raise SpecError(f"{where}: {e.path}", e.problem) from None
    if "sample" in raw:
        space = space.sample(raw["sample"]["n"], raw["sample"].get("seed", 0))
    space.targets = tuple(raw.get("targets", ()))
    return space
