"""Hardened readers for the text files akida_nb accepts: native models, target tables, Keras configs.

One place bounds everything a file could make the parsers do:

- :func:`read_text` reads only regular files (never a FIFO, a device or a directory: the
  file is ``stat``-ed before it is opened) of at most :data:`MAX_FILE_BYTES`, as UTF-8;
- :func:`parse_json` refuses nesting deeper than :data:`MAX_DEPTH` (measured by a bracket
  scan before the parser runs, so no ``RecursionError``), duplicate keys, integers of more
  than :data:`MAX_INT_DIGITS` digits and ``NaN``/``Infinity``;
- :func:`parse_yaml` does the same with a safe loader that bounds the depth while it builds
  the document and counts the nodes that aliases expand to (:data:`MAX_YAML_NODES`), so a
  "billion laughs" file is refused at once.

Every refusal is a :class:`~akida_nb.SpecError` in one bounded line naming ``where``.
This module depends on nothing in akida_nb but :mod:`akida_nb.errors`, so the core
:class:`~akida_nb.Model` and the loaders of :mod:`akida_nb.io` can both use it.

Examples
--------
>>> parse_json('{"a": [1, 2]}', "demo.json")
{'a': [1, 2]}
>>> parse_yaml("a: 1\\na: 2", "demo.yaml")
Traceback (most recent call last):
...
akida_nb.errors.SpecError: demo.yaml: not valid YAML: duplicate key 'a' (line 2)
"""
from __future__ import annotations

import json
import os
import re
import stat
from typing import Any

from .errors import SpecError, brief, one_line

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_INT_DIGITS",
    "MAX_YAML_NODES",
    "parse_json",
    "parse_yaml",
    "read_text",
    "regular_file",
]

MAX_FILE_BYTES = 16 * 2**20
"""Largest native model or target file read (16 MiB); larger files are refused before reading."""
MAX_DEPTH = 64
"""Deepest nesting of lists and mappings accepted in a JSON or YAML document (a model needs 4)."""
MAX_YAML_NODES = 1_000_000
"""Most YAML nodes a document may hold once its aliases are expanded (a "billion laughs" file has 10**9)."""
MAX_INT_DIGITS = 100
"""Longest integer literal accepted, in digits (Python refuses to convert beyond 4,300)."""

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def regular_file(path: str | os.PathLike, limit: int = MAX_FILE_BYTES, where: str = "") -> int:
    """The size of ``path`` after checking, without opening it, that it is a regular file of at most ``limit`` bytes.

    Raises
    ------
    SpecError
        For a path that is not a str or PathLike, a missing file, a directory, a FIFO,
        a device, or a file over ``limit``.

    Examples
    --------
    >>> regular_file("/dev/zero", where="zero.json")
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: zero.json: not a regular file (a device)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise SpecError(where or "path", f"expected a file path (str or Path), got {brief(path)}")
    where = where or one_line(str(path), 120)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SpecError(where, "no such file") from None
    except (OSError, ValueError) as e:
        raise SpecError(where, f"cannot read it ({one_line(str(e), 120)})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = ("a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "a special file")
        raise SpecError(where, f"not a regular file ({kind})")
    if info.st_size > limit:
        raise SpecError(where, f"{info.st_size} bytes, over the {limit}-byte limit for this kind of file")
    return info.st_size


def read_text(path: str | os.PathLike, limit: int = MAX_FILE_BYTES, where: str = "") -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes.

    The file is ``stat``-ed first: a missing file, a directory, a FIFO or a device
    (``/dev/zero``) is refused without being opened, as is a file over ``limit``;
    at most ``limit + 1`` bytes are ever read (a file that grows is refused too).

    Parameters
    ----------
    path : str or PathLike
    limit : int
        Largest size in bytes (:data:`MAX_FILE_BYTES` by default).
    where : str
        Prefix of error messages (the path by default).

    Raises
    ------
    SpecError
        Naming the file and what is wrong with it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.json"
    >>> _ = p.write_text('{"name": "x"}', encoding="utf-8")
    >>> read_text(p)
    '{"name": "x"}'
    >>> read_text(p.parent)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: ...: not a regular file (a directory)
    """
    where = where or (one_line(str(path), 120) if isinstance(path, (str, os.PathLike)) else "")
    regular_file(path, limit, where)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise SpecError(where, f"cannot read it ({one_line(str(e), 120)})") from None
    if len(data) > limit:
        raise SpecError(where, f"over the {limit}-byte limit for this kind of file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(where, f"not UTF-8 text (byte {e.start})") from None


def _check_text(text: Any, where: str, what: str, limit: int) -> str:
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise SpecError(where, f"not UTF-8 text (byte {e.start})") from None
    if not isinstance(text, str):
        raise SpecError(where, f"expected {what} text (a str), got {type(text).__name__}")
    if len(text) > limit:
        raise SpecError(where, f"{len(text)} characters, over the {limit}-character limit")
    return text


def _json_depth(text: str) -> int:
    """Deepest bracket nesting of a JSON text, strings left out; no recursion, linear time."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0
    import numpy as np

    code = np.frombuffer(_JSON_STRING.sub('""', text).encode("utf-8", "surrogatepass"), dtype=np.uint8)
    step = (np.isin(code, (ord("["), ord("{"))).astype(np.int32)
            - np.isin(code, (ord("]"), ord("}"))).astype(np.int32))
    return int(np.cumsum(step).max(initial=0))


def _json_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(literal)} digits (more than {MAX_INT_DIGITS})")
    return int(literal)


def _json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {brief(key)}")
        out[key] = value
    return out


def parse_json(text: str | bytes, where: str = "", limit: int = MAX_FILE_BYTES) -> Any:
    """Parse JSON text with bounded depth, no duplicate keys and integers of sane length.

    Parameters
    ----------
    text : str or bytes
        The document (bytes are decoded as UTF-8).
    where : str
        Prefix of error messages (a file name).
    limit : int
        Longest text accepted, in characters.

    Raises
    ------
    SpecError
        ``where: nested too deeply …`` for nesting deeper than :data:`MAX_DEPTH`;
        ``where: not valid JSON: …`` for a syntax error, a duplicate key, an integer of more than
        :data:`MAX_INT_DIGITS` digits, ``NaN`` or ``Infinity``.

    Examples
    --------
    >>> parse_json('{"shape": [1, 2, 3]}')
    {'shape': [1, 2, 3]}
    >>> parse_json('{"a": 1, "a": 2}', "m.json")
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: m.json: not valid JSON: duplicate key 'a'
    >>> parse_json("[" * 5000 + "]" * 5000, "deep.json")
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: deep.json: nested too deeply (5000 levels; the limit is 64)
    """
    text = _check_text(text, where, "JSON", limit)
    depth = _json_depth(text)
    if depth > MAX_DEPTH:
        raise SpecError(where, f"nested too deeply ({depth} levels; the limit is {MAX_DEPTH})")
    try:
        return json.loads(text, object_pairs_hook=_json_object, parse_int=_json_int, parse_constant=_json_constant)
    except json.JSONDecodeError as e:
        raise SpecError(where, f"not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except (ValueError, RecursionError) as e:
        raise SpecError(where, f"not valid JSON: {one_line(str(e), 160)}") from None


def _yaml_loader() -> type:
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        """SafeLoader bounding depth and alias expansion, refusing duplicate keys and huge integers."""

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self._depth = 0
            self._sizes: dict[int, int] = {}

        def compose_node(self, parent: Any, index: Any) -> Any:
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    raise yaml.YAMLError(f"nested too deeply (more than {MAX_DEPTH} levels)")
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
            if id(node) not in self._sizes:  # an alias returns a node already counted: its size is reused
                children = (node.value if isinstance(node, yaml.SequenceNode) else
                            [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else [])
                size = 1 + sum(self._sizes.get(id(child), 1) for child in children)
                if size > MAX_YAML_NODES:
                    raise yaml.YAMLError(f"more than {MAX_YAML_NODES} nodes once its aliases are expanded")
                self._sizes[id(node)] = size
            return node

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = (key_node.tag, key_node.value)
                    if key in seen:
                        raise yaml.YAMLError(f"duplicate key {brief(key_node.value)} "
                                             f"(line {key_node.start_mark.line + 1})")
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_int(self, node: Any) -> Any:
            digits = sum(ch.isalnum() for ch in str(node.value))
            if digits > MAX_INT_DIGITS:
                raise yaml.YAMLError(f"an integer of {digits} digits (more than {MAX_INT_DIGITS}, "
                                     f"line {node.start_mark.line + 1})")
            return super().construct_yaml_int(node)

    BoundedLoader.add_constructor("tag:yaml.org,2002:int", BoundedLoader.construct_yaml_int)
    return BoundedLoader


def parse_yaml(text: str | bytes, where: str = "", limit: int = MAX_FILE_BYTES) -> Any:
    """Parse YAML text with a safe loader: bounded depth and alias expansion, no duplicate keys.

    No Python object is ever constructed (``yaml.SafeLoader`` underneath); a document
    nested deeper than :data:`MAX_DEPTH`, with more than :data:`MAX_YAML_NODES` nodes once
    aliases are expanded, with a repeated key or an integer of more than
    :data:`MAX_INT_DIGITS` digits is refused.

    ``text``, ``where`` and ``limit`` are as for :func:`parse_json`.

    Raises
    ------
    SpecError
        ``where: not valid YAML: …`` (or ``nested too deeply``) in one bounded line.

    Examples
    --------
    >>> parse_yaml("input: {shape: [4, 4, 8]}")
    {'input': {'shape': [4, 4, 8]}}
    >>> lol = "a: &a [x, x, x, x, x, x, x, x, x, x]\\n" + "".join(
    ...     f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\\n"
    ...     for p, c in zip("abcdefgh", "bcdefghi"))
    >>> parse_yaml(lol, "lol.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: lol.yaml: not valid YAML: more than 1000000 nodes once its aliases are expanded
    """
    import yaml

    text = _check_text(text, where, "YAML", limit)
    try:
        return yaml.load(text, Loader=_yaml_loader())
    except yaml.MarkedYAMLError as e:
        mark = f" at line {e.problem_mark.line + 1}, column {e.problem_mark.column + 1}" if e.problem_mark else ""
        raise SpecError(where, f"not valid YAML: {one_line(str(e.problem or e.context), 120)}{mark}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as e:
        raise SpecError(where, f"not valid YAML: {one_line(str(e), 160)}") from None
