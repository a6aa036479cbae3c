"""Hypothesis strategies shared by the test modules.

Two families:

- :func:`small_models`: any valid model of up to four small layers, every option drawn (most of them
  violate something on every target). For properties that must hold for any model.
- :func:`skeletons` and :func:`mutated_specs`: a model that passes both seed tables (``nsoc_v1`` and
  ``nsoc_v2``) by construction, then a few named mutations, each of which breaks one rule in a way a
  known fix addresses. Property tests built on them reach their asserting branch in most examples
  instead of by luck; each test counts that and asserts it (see ``Reach``).
"""
from __future__ import annotations

import copy

from hypothesis import assume, strategies as st

import akida_nb as ak

# ------------------------------------------------------------------------------ any valid small model
pairs = st.one_of(st.integers(1, 5), st.tuples(st.integers(1, 5), st.integers(1, 5)).map(list))
strides = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)).map(list))
bits = st.integers(1, 8)


@st.composite
def conv_layer(draw, layer_type, bits=bits):
    layer = {"type": layer_type, "kernel_size": draw(pairs), "filters": draw(st.integers(1, 9)),
             "kernel_stride": draw(strides), "padding": draw(st.sampled_from(["same", "valid"])),
             "weights_bits": draw(bits), "act_bits": draw(bits),
             "pool_type": draw(st.sampled_from(["none", "max", "average"]))}
    if layer["pool_type"] == "max":
        layer["pool_size"] = draw(pairs)
        layer["pool_stride"] = draw(strides)
    if layer_type == "InputConvolutional":
        layer["padding_value"] = draw(st.integers(0, 255))
    return layer


@st.composite
def small_models(draw, bits=bits):
    """Random valid small models; ``bits`` draws every bit width (supported ones make fixes exact more often)."""
    layers = []
    first_input_conv = draw(st.booleans())
    for i in range(draw(st.integers(1, 4))):
        if i == 0 and first_input_conv:
            layers.append(draw(conv_layer("InputConvolutional", bits)))
            continue
        kind = draw(st.sampled_from(["Convolutional", "SeparableConvolutional", "FullyConnected"]))
        layers.append({"type": kind, "units": draw(st.integers(1, 6)), "weights_bits": draw(bits),
                       "act_bits": draw(bits)} if kind == "FullyConnected" else draw(conv_layer(kind, bits)))
    layers[-1]["activation"] = draw(st.booleans())
    shape = [draw(st.integers(1, 12)), draw(st.integers(1, 12)), draw(st.integers(1, 4))]
    spec = {"input": {"shape": shape, "bits": 8 if first_input_conv else draw(bits)}, "layers": layers}
    try:
        return ak.Model.from_dict(spec)
    except ak.SpecError:  # empty output: a 'valid' kernel or pool larger than its input
        assume(False)


square_or_pair = st.integers(1, 9).map(lambda k: [k, k]) | st.tuples(st.integers(1, 9), st.integers(1, 9)).map(list)


@st.composite
def layer_specs(draw, layer_type):
    """One layer dict of ``layer_type`` with any sizes and bit widths the format accepts ('same' padding)."""
    bits = st.integers(1, 8)
    d = {"type": layer_type, "weights_bits": draw(bits), "act_bits": draw(bits)}
    if layer_type == "FullyConnected":
        d["units"] = draw(st.integers(1, 64))
        return d
    d.update(kernel_size=draw(square_or_pair), filters=draw(st.integers(1, 64)), kernel_stride=draw(square_or_pair),
             padding="same", pool_type=draw(st.sampled_from(["none", "max", "average"])))
    if d["pool_type"] == "max":
        d.update(pool_size=draw(square_or_pair), pool_stride=draw(square_or_pair))
    if layer_type == "InputConvolutional":
        d["padding_value"] = draw(st.integers(0, 255))
    return d


@st.composite
def model_specs(draw):
    """A valid spec of up to five layers of any type, input up to 300×300×8: most violate many rules."""
    types = ["Convolutional", "SeparableConvolutional", "FullyConnected"]
    first = draw(st.sampled_from(types + ["InputConvolutional"]))
    rest = draw(st.lists(st.sampled_from(types), max_size=4))
    layers = [draw(layer_specs(t)) for t in [first] + rest]
    if draw(st.booleans()):
        layers[-1]["activation"] = False
    shape = [draw(st.integers(1, 300)), draw(st.integers(1, 300)), draw(st.integers(1, 8))]
    bits = draw(st.integers(1, 8))
    if "padding_value" in layers[0]:  # an input value: [0, 2**bits - 1]
        layers[0]["padding_value"] %= 1 << bits
    return {"input": {"shape": shape, "bits": bits}, "layers": layers}


# ------------------------------------------------------------------ valid skeletons, then mutations
SEED_TARGETS = ("nsoc_v1", "nsoc_v2")
"""The targets every skeleton passes."""


@st.composite
def skeletons(draw, max_convs=3):
    """A model spec that passes ``nsoc_v1`` and ``nsoc_v2``: what both tables allow, by construction.

    3×3 'same' convolutions at stride 1; Convolutional weights 1 or 2 bits, SeparableConvolutional 2 or 4;
    activations and input 1, 2 or 4 bits (1 or 2 into a FullyConnected); a 2×2 max pooling only on a layer
    followed by a convolution and only where both axes are multiples of 16 (so every later size stays a
    multiple of 8); optionally a FullyConnected head after a global average pooling.
    """
    d0, d1 = draw(st.sampled_from([8, 16, 32])), draw(st.sampled_from([8, 16, 24, 32]))
    shape = [d0, d1, draw(st.integers(1, 4))]
    head = draw(st.booleans())
    n = draw(st.integers(1, max_convs))
    layers = []
    for i in range(n):
        kind = draw(st.sampled_from(["Convolutional", "SeparableConvolutional"]))
        layer = {"type": kind, "name": f"c{i}", "kernel_size": [3, 3], "filters": draw(st.integers(1, 12)),
                 "kernel_stride": [1, 1], "padding": "same",
                 "weights_bits": draw(st.sampled_from([1, 2] if kind == "Convolutional" else [2, 4])),
                 "act_bits": draw(st.sampled_from([1, 2] if head and i == n - 1 else [1, 2, 4])),
                 "pool_type": "none"}
        if i < n - 1 and d0 % 16 == 0 and d1 % 16 == 0 and draw(st.booleans()):
            layer.update(pool_type="max", pool_size=[2, 2], pool_stride=[2, 2])
            d0, d1 = d0 // 2, d1 // 2
        layers.append(layer)
    if head:
        layers[-1]["pool_type"] = "average"
        layers.append({"type": "FullyConnected", "name": "fc", "units": draw(st.integers(1, 6)),
                       "weights_bits": draw(st.sampled_from([1, 2])), "act_bits": draw(st.sampled_from([1, 2, 4]))})
    layers[-1]["activation"] = draw(st.booleans())
    return {"name": "skeleton", "input": {"shape": shape, "bits": draw(st.sampled_from([1, 2, 4]))},
            "layers": layers}


def _convs(spec):
    return [i for i, layer in enumerate(spec["layers"]) if layer["type"] != "FullyConnected"]


def _pad_kernel(spec, i, draw):
    layer = spec["layers"][i]
    layer["kernel_size"] = [1, 1] if layer["type"] == "SeparableConvolutional" else draw(
        st.sampled_from([[1, 3], [3, 1]]))


def _identity_after_maxpool(spec, i, draw):
    layers = spec["layers"]
    if layers[-1]["type"] == "FullyConnected":
        layers.pop()
    # activation on: an identity layer can only follow a layer that outputs activations
    layers[-1].update(pool_type="max", pool_size=[2, 2], pool_stride=[2, 2], activation=True)


def _clamp_bits(spec, i, draw):
    spec["layers"][i].update(type="SeparableConvolutional", weights_bits=3)


def _valid_to_same(spec, i, draw):
    spec["layers"][i].update(type="Convolutional", kernel_size=[1, 1], padding="valid",
                             weights_bits=min(spec["layers"][i]["weights_bits"], 2))


MUTATIONS = {
    # fix that addresses it: (mutation, which layers it may touch)
    "pad_kernel": (_pad_kernel, "conv"),                      # a 1×3 / 3×1 kernel, a 1×1 separable one
    "identity_after_maxpool": (_identity_after_maxpool, "last"),  # a max-pooled last layer
    "clamp_bits": (_clamp_bits, "conv"),                      # 3-bit separable weights (4 holds them)
    "valid_to_same": (_valid_to_same, "unpooled"),            # a 1×1 'valid' convolution
}
"""Mutations that break one rule of both seed tables, keyed by the fix that repairs them exactly."""


@st.composite
def mutated_specs(draw, names=tuple(MUTATIONS), min_size=1, max_size=2):
    """``(spec, applied)``: a :func:`skeletons` spec with distinct mutations (``applied``), each on its own layer.

    With ``min_size=0`` some specs stay skeletons (``applied == []``), which every seed table accepts.
    """
    spec = copy.deepcopy(draw(skeletons()))
    chosen = draw(st.lists(st.sampled_from(list(names)), min_size=min_size, max_size=max_size, unique=True))
    used: set[int] = set()
    applied = []
    for name in chosen:
        mutate, where = MUTATIONS[name]
        convs = [i for i in _convs(spec) if i not in used]
        if where == "last":
            convs = [max(_convs(spec))] if max(_convs(spec)) not in used else []
        elif where == "unpooled":
            convs = [i for i in convs if spec["layers"][i]["pool_type"] != "max"]
        if not convs:
            continue
        i = draw(st.sampled_from(convs))
        mutate(spec, i, draw)
        used.add(i)
        applied.append(name)
    assume(len(applied) >= min_size)
    return spec, applied


@st.composite
def mutated_models(draw, names=tuple(MUTATIONS), min_size=1, max_size=2):
    """``(model, applied)``: :func:`mutated_specs` built into a :class:`akida_nb.Model`."""
    spec, applied = draw(mutated_specs(names, min_size, max_size))
    return ak.Model.from_dict(spec), applied


class Reach:
    """Counts how many generated examples of a property test reached its asserting branch.

    A test calls :meth:`example` once per example and :meth:`reached` in the branch that asserts; a
    follow-up test in the same module asserts :meth:`fraction` ≥ 0.8.

    Examples
    --------
    >>> r = Reach(); r.example(); r.reached(); r.example(); r.fraction()
    0.5
    """

    def __init__(self) -> None:
        self.examples = 0
        self.hits = 0

    def example(self) -> None:
        self.examples += 1

    def reached(self) -> None:
        self.hits += 1

    def fraction(self) -> float:
        return self.hits / self.examples if self.examples else 0.0

    def assert_reached(self, prop, floor: float = 0.8) -> None:
        """Assert that at least ``floor`` of ``prop``'s examples reached its assertion, running ``prop`` first
        when it did not run in this session (selected alone with ``-k``, or on another worker)."""
        if not self.examples:
            prop()
        assert self.fraction() >= floor, self

    def __repr__(self) -> str:
        return f"reached {self.hits} of {self.examples} examples"
