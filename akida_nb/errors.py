"""Typed exceptions raised by akida_nb.

Every error a user can trigger derives from :class:`AkidaNbError`, names what it is
about (the spec path, the layer, the field) and carries those as attributes, so a
notebook can catch one family and a program can inspect the details.

Examples
--------
>>> import akida_nb as ak
>>> try:
...     ak.Model.from_dict({"input": {"shape": [8, 8, 1]}, "layers": []})
... except ak.SpecError as e:
...     print(e.path)
layers
"""
from __future__ import annotations

__all__ = [
    "AkidaNbError",
    "FixError",
    "ModelImportError",
    "PlotError",
    "SimulationError",
    "SpecError",
    "UnknownTargetError",
    "brief",
    "did_you_mean",
    "one_line",
    "schema_path",
    "schema_problem",
]

MESSAGE_LIMIT = 300
"""Longest error message, in characters: a longer one is cut with an ellipsis."""


def brief(value, limit: int = 60) -> str:
    """A bounded, one-line ``repr`` of a user value, safe for any error message.

    Long values are cut with ``…``; control characters, lone surrogates and huge
    integers never reach the terminal as they are (integers of more than 4,300 digits
    are shown by their digit count, as Python refuses to format them).

    Examples
    --------
    >>> brief("fc\\udfff"), brief(list(range(100)), limit=20)
    ("'fc\\\\udfff'", '[0, 1, 2, 3, 4, 5, …')
    >>> brief(10 ** 5000)
    '<int of about 5001 digits>'
    """
    try:
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
            return f"<int of about {int(value.bit_length() * 0.30103) + 1} digits>"
        import reprlib

        r = reprlib.Repr()
        r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 3, 8, 8, 6, 6
        r.maxstring = r.maxother = r.maxlong = limit
        text = r.repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr raises (deep nesting, hostile __repr__) still gets named
        text = f"<{type(value).__name__}>"
    return one_line(text, limit)


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` on one line, control characters and surrogates escaped, cut to ``limit`` characters.

    Examples
    --------
    >>> one_line("a\\nb\\x1b[31m")
    'a\\\\nb\\\\x1b[31m'
    >>> len(one_line("x" * 1000))
    300
    """
    text = str(text)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                       for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def did_you_mean(name, known) -> str:
    """``"did you mean 'x'? "`` naming the closest of ``known`` to ``name``, or ``""`` when none is close.

    The one place every "unknown name" message (targets, fixes, examples, layers, layer types)
    gets its suggestion from: :func:`difflib.get_close_matches`, bounded (a non-string or a
    name longer than 200 characters gets no suggestion, the suggestion itself goes through
    :func:`brief`).

    Examples
    --------
    >>> did_you_mean("nsoc_v3", ["nsoc_v1", "nsoc_v2", "akd1500"])
    "did you mean 'nsoc_v2'? "
    >>> did_you_mean("xyz", ["nsoc_v1"]), did_you_mean(3, ["nsoc_v1"])
    ('', '')
    """
    import difflib

    if not isinstance(name, str) or len(name) > 200:
        return ""
    close = difflib.get_close_matches(name, [str(k) for k in known], n=1)
    return f"did you mean {brief(close[0])}? " if close else ""


class AkidaNbError(Exception):
    """Base class of every error akida_nb raises on purpose.

    Its message is always one line of at most :data:`MESSAGE_LIMIT` characters, with
    control characters and lone surrogates escaped: every text argument goes through
    :func:`one_line` here, so no caller can print a 15 MB line or forge terminal output.

    Examples
    --------
    >>> import akida_nb as ak
    >>> try:
    ...     ak.get_target("nsoc_v9")
    ... except ak.AkidaNbError as e:
    ...     print(type(e).__name__)
    UnknownTargetError
    >>> e = ak.AkidaNbError("line one\\nline two " + "x" * 1000)
    >>> str(e)[:21], len(str(e))
    ('line one\\\\nline two xx', 300)
    """

    def __init__(self, *args):
        super().__init__(*(one_line(a) if isinstance(a, str) else a for a in args))

    def __str__(self) -> str:
        if len(self.args) == 1:  # LookupError subclasses would quote the message like a KeyError
            return one_line(str(self.args[0]))
        return one_line(super().__str__())


class SpecError(AkidaNbError, ValueError):
    """A model description is malformed.

    Parameters
    ----------
    path : str
        Where in the spec the problem is, e.g. ``"layers[2].kernel_size"``.
    problem : str
        What is wrong, in words.

    Examples
    --------
    >>> import akida_nb as ak
    >>> try:
    ...     ak.Model.from_dict({"input": {"shape": [8, 8, 1]},
    ...                         "layers": [{"type": "Convolutional", "kernel_size": 0, "filters": 4}]})
    ... except ak.SpecError as e:
    ...     print(e.path, "|", e.problem)
    layers[0].kernel_size | sizes must be positive, got [0, 0]
    """

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


class UnknownTargetError(AkidaNbError, LookupError):
    """A target name is not registered.

    Parameters
    ----------
    name : str
        The name that was asked for.
    known : sequence of str
        The registered names, listed in the message.

    Examples
    --------
    >>> import akida_nb as ak
    >>> try:
    ...     ak.check(ak.example("ds_cnn_kws"), "nsoc_v3")
    ... except ak.UnknownTargetError as e:
    ...     print(e.name, "nsoc_v2" in e.known)
    ...     print(str(e).split(";")[1].split("?")[0].strip())
    nsoc_v3 True
    did you mean 'nsoc_v2'
    """

    def __init__(self, name: str, known):
        self.name = name
        self.known = tuple(str(k) for k in known)
        hint = did_you_mean(name, self.known)
        super().__init__(f"unknown target {brief(name)}; {hint}known targets: {', '.join(self.known)}")


class SimulationError(AkidaNbError, ValueError):
    """The simulator was given something it cannot run.

    Parameters
    ----------
    layer : str or None
        Name of the layer concerned (``None`` for the model input).
    variable : str or None
        The variable or field concerned (``"weights"``, ``"act_step"``, ``"input"`` …).
    problem : str
        What is wrong.

    Examples
    --------
    >>> import akida_nb as ak, numpy as np
    >>> sim = ak.Simulator(ak.example("gxnor_mnist"), seed=0)
    >>> try:
    ...     sim.run(np.zeros((28, 28, 2), np.uint8))
    ... except ak.SimulationError as e:
    ...     print(e.variable)
    input
    """

    def __init__(self, layer, variable, problem: str):
        self.layer = layer
        self.variable = variable
        self.problem = problem
        where = []
        if layer is not None:
            where.append(f"layer {layer!r}")
        if variable is not None:
            where.append(str(variable))
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)


class ModelImportError(AkidaNbError, ValueError):
    """A foreign model (Keras config, ``akida.Model``, file) cannot be read or mapped.

    Parameters
    ----------
    layer : str or None
        Name of the foreign layer concerned, if any.
    layer_class : str or None
        Its class name (e.g. ``"Lambda"``).
    problem : str
        Why it cannot be mapped.

    Examples
    --------
    >>> import akida_nb as ak
    >>> cfg = {"class_name": "Sequential", "config": {"name": "m", "layers": [
    ...     {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 8, 8, 1], "name": "in"}},
    ...     {"class_name": "Lambda", "config": {"name": "lam", "function": "..."}}]}}
    >>> try:
    ...     ak.from_keras_config(cfg)
    ... except ak.ModelImportError as e:
    ...     print(e.layer, e.layer_class)
    lam Lambda
    """

    def __init__(self, layer, layer_class, problem: str):
        self.layer = layer
        self.layer_class = layer_class
        self.problem = problem
        if layer is not None:
            prefix = f"layer {layer!r}" + (f" ({layer_class})" if layer_class else "")
            msg = f"{prefix}: {problem}"
        else:
            msg = problem
        super().__init__(msg)


class FixError(AkidaNbError, ValueError):
    """A fix was asked for that does not exist or cannot be applied as asked.

    Parameters
    ----------
    fix : str
        The fix's name.
    problem : str
        What is wrong.

    Examples
    --------
    >>> import akida_nb as ak
    >>> try:
    ...     ak.fix(ak.example("ds_cnn_kws"), "nsoc_v1", fixes=["make_it_work"])
    ... except ak.FixError as e:
    ...     print(e.fix)
    make_it_work
    """

    def __init__(self, fix: str, problem: str):
        self.fix = fix
        self.problem = problem
        super().__init__(f"fix {fix!r}: {problem}")


class PlotError(AkidaNbError, ValueError):
    """A plotting function was given an argument it cannot draw.

    Parameters
    ----------
    argument : str
        The argument concerned (``"layer"``, ``"sample"``, ``"act_step"`` …).
    problem : str
        What is wrong.

    Examples
    --------
    >>> import akida_nb as ak
    >>> try:
    ...     ak.plot.staircase(act_bits=9)
    ... except ak.PlotError as e:
    ...     print(e.argument)
    act_bits
    """

    def __init__(self, argument: str, problem: str):
        self.argument = argument
        self.problem = problem
        super().__init__(f"{argument}: {problem}")


def schema_path(parts) -> str:
    """Where in a validated document a schema failure lies, as ``key.0.sub`` (each part bounded).

    Examples
    --------
    >>> schema_path(["reports", 0, "target"])
    'reports.0.target'
    """
    return ".".join(one_line(str(p), 40) for p in parts)


def schema_problem(error, known_keys=None) -> str:
    """One JSON-schema failure (a ``fastjsonschema.JsonSchemaValueException``) in words, bounded.

    The one translator of schema failures for every file akida_nb validates (target files, sweep
    spaces, ``--baseline`` reports): the offending value through :func:`brief`, what was expected,
    never the validator's internal paths. ``known_keys``, when given, maps a ``propertyNames``
    failure to the unknown key among those allowed.

    Examples
    --------
    >>> class Failure:   # what fastjsonschema raises carries these four attributes
    ...     rule, value, message = "required", {"a": 1}, "data must contain ['a', 'b'] properties"
    ...     definition = {"required": ["a", "b"]}
    >>> schema_problem(Failure())
    'missing b'
    >>> Failure.rule, Failure.value, Failure.definition = "enum", "unitz", {"enum": ["type", "name", "index", "x"]}
    >>> schema_problem(Failure())
    "'unitz' is not one of the known values (type, name, index, …)"
    """
    rule, value = error.rule or "", error.value
    definition = error.definition if isinstance(error.definition, dict) else {}
    if rule == "enum":
        known = list(definition.get("enum", []))
        return f"{brief(value)} is not one of the known values ({', '.join(map(str, known[:3]))}" \
               f"{', …' if len(known) > 3 else ''})"
    if rule == "required":
        missing = [k for k in definition.get("required", []) if not isinstance(value, dict) or k not in value]
        return "missing " + ", ".join(map(str, missing))
    if rule == "additionalProperties" and isinstance(value, dict):
        allowed = set(definition.get("properties", {}))
        unknown = min((k for k in value if k not in allowed), key=str, default="?")
        shown = ", ".join(sorted(allowed)[:12]) + (", …" if len(allowed) > 12 else "")
        return f"unknown key {brief(unknown)}" + (f" (allowed: {shown})" if allowed else "")
    if rule == "propertyNames" and known_keys is not None and isinstance(value, dict):
        return f"unknown field {brief(next((k for k in value if k not in known_keys), '?'))}"
    if rule == "type":
        expected = definition.get("type")
        if isinstance(expected, list):
            expected = " or ".join(map(str, expected))
        return f"{brief(value)} is not of {f'type {expected}' if expected else 'the expected type'}"
    if rule in ("oneOf", "anyOf"):
        return f"{brief(value)} is not of the expected type"
    if rule == "pattern":
        return f"{brief(value)} does not match {definition.get('pattern')}"
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "maxItems", "maxLength"):
        return f"{brief(value)} is out of range"
    if rule in ("minItems", "minLength", "minProperties"):
        return "must not be empty"
    if rule == "uniqueItems":
        return "has repeated items"
    if rule == "not":
        return f"{brief(value)} is reserved"
    return one_line(str(error.message).replace("data.", "", 1), 160)
