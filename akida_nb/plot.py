"""Matplotlib figures for simulations, verdicts and teaching: ``ak.plot.<name>``.

Every function returns a :class:`matplotlib.figure.Figure` and never calls
``plt.show()``. Without ``ax=`` (or ``fig=`` for multi-panel figures) it draws on a new
:class:`ThemedFigure` (a ``Figure`` subclass) that is not registered with pyplot, so nothing
is shown twice in a notebook and nothing leaks in scripts. Jupyter displays it in a fresh
kernel with no ``%matplotlib`` magic and no pyplot state: its ``_repr_html_`` is the PNG as
an ``<img>`` with alt text describing the chart. With ``ax=`` it draws there and returns
``ax.figure``. Works headless (Agg).

Figures read on light and dark notebook themes alike: the background is transparent and
text, axes and data are drawn in colours with a contrast of at least 3:1 against both
white and JupyterLab Dark's backgrounds (``INK`` and ``PALETTE``).

This module is loaded lazily (``ak.plot``); ``import akida_nb`` does not import matplotlib.

Examples
--------
>>> import numpy as np
>>> import akida_nb as ak
>>> from akida_nb.sim import Simulator
>>> res = Simulator(ak.example("gxnor_mnist"), seed=0).run(np.zeros((2, 28, 28, 1), np.uint8))
>>> fig = ak.plot.events(res)
>>> fig.axes[0].get_title()
'Events per layer: gxnor_mnist_inputw4_v1 (2 samples)'
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from matplotlib.figure import Figure as _Figure

from .errors import PlotError, brief, did_you_mean
from .html import escape
from .present import layer_label, safe_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "INK",
    "PALETTE",
    "ThemedFigure",
    "activation_histograms",
    "events",
    "feature_maps",
    "np_usage",
    "pareto",
    "staircase",
    "staircase_values",
    "verdict_map",
]

INK = "#808080"
"""Text, axes and ticks: mid grey, at least 3.9:1 on white and 4:1 on JupyterLab Dark's #111 and #212121."""
PALETTE = ("#1e88e5", "#e65100", "#ab47bc", "#009688", "#689f38", "#d81b60", "#8d6e63")
"""Data colours, each at least 3:1 on white and on JupyterLab Dark's backgrounds (tests/test_plot.py checks)."""
_OK_COLOR = "#43a047"
_BAD_COLOR = "#e53935"
_EVENT_COLOR = PALETTE[0]
_SPARSITY_COLOR = PALETTE[1]
_STYLE = {"text.color": INK, "axes.labelcolor": INK, "axes.edgecolor": INK, "xtick.color": INK,
          "ytick.color": INK, "xtick.labelcolor": INK, "ytick.labelcolor": INK, "axes.titlecolor": INK,
          "figure.facecolor": "none", "axes.facecolor": "none", "savefig.transparent": True,
          "legend.facecolor": "none", "legend.edgecolor": INK, "legend.labelcolor": INK, "grid.color": INK,
          "axes.titlesize": 11, "axes.labelsize": 10}


def _describe(fig: _Figure) -> str:
    """Alt text for a figure: its titles and axis labels, in words."""
    parts = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        parts.append(suptitle.get_text())
    for ax in fig.axes:
        bits = [ax.get_title()] if ax.get_title() else []
        labels = [f"{axis}: {label}" for axis, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if label]
        if labels:
            bits.append(f"({', '.join(labels)})")
        if bits and " ".join(bits) not in parts:
            parts.append(" ".join(bits))
    return "Chart: " + ("; ".join(parts[:6]) or "a matplotlib figure") + (" …" if len(parts) > 6 else "")


class ThemedFigure(_Figure):
    """The figures of ``ak.plot``: a matplotlib ``Figure`` that shows itself in a notebook.

    Jupyter shows it with no ``%matplotlib`` magic and no pyplot state (``_repr_html_``:
    a PNG ``<img>`` with alt text, as wide as the output area at most). Where the inline
    backend is on, it shows as any figure.

    Examples
    --------
    >>> import akida_nb as ak
    >>> fig = ak.plot.staircase(act_bits=2)
    >>> isinstance(fig, ThemedFigure), fig._repr_html_().startswith('<img src="data:image/png;base64,')
    (True, True)
    >>> 'alt="Chart: Quantized activation' in fig._repr_html_()
    True
    """

    def _repr_html_(self) -> str:
        import base64
        import io

        buf = io.BytesIO()
        self.savefig(buf, format="png", bbox_inches="tight", transparent=True)
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        return (f'<img src="data:image/png;base64,{data}" alt="{escape(_describe(self))}" '
                f'style="max-width:100%;height:auto">')


# matplotlib generates a ``set`` method for every Artist subclass, with a docstring in its own
# Sphinx roles; ours says what it is in plain words (the docs site builds with warnings as errors).
ThemedFigure.set.__doc__ = "Set several properties of the figure at once (matplotlib's ``Artist.set``)."


def _text_on(rgba: Sequence[float]) -> str:
    """Near-black or white, whichever reads better on an opaque cell colour."""
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3]]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#1a1a1a" if (luminance + 0.05) / 0.0602 >= 1.05 / (luminance + 0.05) else "#ffffff"


def _themed(function: Any) -> Any:
    """Draw under the theme-neutral style (transparent background, INK text)."""
    import functools

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(cast(Any, _STYLE)):
            return function(*args, **kwargs)

    return wrapper


def _label(text: Any) -> str:
    """A user string (model, layer, target name) as plain text on a figure: no mathtext, no control characters."""
    return safe_text(text).replace("$", r"\$")


def _int(value: Any, argument: str, low: int | None = None, high: int | None = None) -> int:
    """An integer argument (not a bool or a float) within ``[low, high]``, or a PlotError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise PlotError(argument, f"an integer expected, got {brief(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{low} to {high}" if high is not None else f"at least {low}"
        raise PlotError(argument, f"{argument} must be {bounds}, got {value}")
    return int(value)


def _check_ax(ax: Any, argument: str = "ax") -> None:
    from matplotlib.axes import Axes

    if ax is not None and not isinstance(ax, Axes):
        raise PlotError(argument, f"a matplotlib Axes expected, got {brief(ax)}")


def _check_fig(fig: Any) -> None:
    from matplotlib.figure import Figure

    if fig is not None and not isinstance(fig, Figure):
        raise PlotError("fig", f"a matplotlib Figure expected, got {brief(fig)}")


def _check_result(result: Any) -> None:
    from .sim.simulator import SimulationResult

    if not isinstance(result, SimulationResult):
        raise PlotError("result", f"a SimulationResult (from Simulator.run) expected, got {brief(result)}")


def _new_figure(figsize: tuple[float, float]) -> Figure:
    return ThemedFigure(figsize=figsize, layout="constrained")


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    _check_ax(ax)
    if ax is not None:
        return cast("Figure", ax.figure), ax
    fig = _new_figure(figsize)
    return fig, fig.add_subplot()


def _layer_index(result: Any, layer: int | str) -> int:
    names = [l.name for l in result.model.layers]
    if isinstance(layer, str):
        if layer not in names:
            raise PlotError("layer", f"no layer named {brief(layer)} ({did_you_mean(layer, names)}"
                                     f"layers: {brief(names, 200)})")
        return names.index(layer)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise PlotError("layer", f"a layer index or name expected, got {brief(layer)}")
    if not -len(names) <= layer < len(names):
        raise PlotError("layer", f"layer index {layer} out of range for {len(names)} layers")
    return layer % len(names)


# ------------------------------------------------------------------------------ simulation
@_themed
def events(result: Any, ax: Axes | None = None, log: bool = True) -> Figure:
    """Events (non-zero activations, batch total) per layer as bars, sparsity on a second axis.

    The event axis is logarithmic by default (``symlog``: zero stays at the bottom), so a
    layer with a few hundred events stays visible next to one with tens of thousands.

    Parameters
    ----------
    result : SimulationResult
        From :meth:`akida_nb.sim.Simulator.run`.
    ax : matplotlib Axes, optional
        Where to draw the bars; the sparsity axis is its ``twinx()``.
    log : bool
        Logarithmic event axis (``False``: linear).

    Returns
    -------
    Figure
        ``fig.axes[0]`` holds the bars (heights = ``result.events["events"]``),
        ``fig.axes[1]`` the sparsity line (fraction of zero outputs, 0–1).

    Examples
    --------
    >>> import numpy as np
    >>> import akida_nb as ak
    >>> from akida_nb.sim import Simulator
    >>> res = Simulator(ak.example("ds_cnn_kws"), seed=0).run(np.zeros((1, 49, 10, 1), np.uint8))
    >>> fig = ak.plot.events(res)
    >>> [int(b.get_height()) for b in fig.axes[0].patches] == res.events["events"].tolist()
    True
    """
    _check_result(result)
    if not isinstance(log, (bool, np.bool_)):
        raise PlotError("log", f"True or False expected, got {brief(log)}")
    df = result.events
    fig, ax = _axes(ax, (max(5.0, 0.45 * len(df) + 2.5), 3.6))
    x = np.arange(len(df))
    ax.bar(x, df["events"].to_numpy(), color=_EVENT_COLOR, label="events")
    if log:
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylim(0, max(10.0, float(df["events"].max()) * 2))
    ax.set_xticks(x, [_label(n) for n in df["layer"]], rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("layer")
    ax.set_ylabel("events (batch total" + (", log)" if log else ")"), color=_EVENT_COLOR)
    ax.tick_params(axis="y", colors=_EVENT_COLOR)
    twin = ax.twinx()
    twin.plot(x, df["sparsity"].to_numpy(), color=_SPARSITY_COLOR, marker="o", label="sparsity")
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("sparsity (fraction of zeros)", color=_SPARSITY_COLOR)
    twin.tick_params(axis="y", colors=_SPARSITY_COLOR)
    n = result.events_per_sample.shape[0]
    ax.set_title(f"Events per layer: {_label(result.model.name)} ({n} sample{'s' if n != 1 else ''})")
    return fig


@_themed
def activation_histograms(result: Any, fig: Figure | None = None, log: bool = True) -> Figure:
    """One small histogram per layer of its activation values, one integer bin per level 0…2^b − 1.

    Layers whose activation is off output potentials, not levels, and get no panel.

    Parameters
    ----------
    result : SimulationResult
    fig : Figure, optional
        Drawn into (its existing axes are kept); a new one by default.
    log : bool
        Logarithmic count axis (zeros usually dominate).

    Returns
    -------
    Figure
        One axes per activated layer, in layer order; bar ``k`` of a panel has height
        ``np.bincount(output, minlength=2**b)[k]``.

    Examples
    --------
    >>> import numpy as np
    >>> import akida_nb as ak
    >>> from akida_nb.sim import Simulator
    >>> res = Simulator(ak.example("gxnor_mnist"), seed=0).run(np.zeros((1, 28, 28, 1), np.uint8))
    >>> fig = ak.plot.activation_histograms(res)
    >>> len(fig.axes), len(fig.axes[0].patches)  # 4 activated layers; 1-bit levels 0, 1
    (4, 2)
    """
    _check_result(result)
    _check_fig(fig)
    if not isinstance(log, (bool, np.bool_)):
        raise PlotError("log", f"True or False expected, got {brief(log)}")
    layers = [(i, l) for i, l in enumerate(result.model.layers) if l.activation]
    if not layers:
        raise PlotError("result", "no layer has its activation on: nothing to histogram")
    cols = min(4, len(layers))
    rows = -(-len(layers) // cols)
    if fig is None:
        fig = _new_figure((2.8 * cols, 2.3 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (i, layer) in zip(axes, layers):
        levels = 1 << layer.act_bits
        counts = np.bincount(np.asarray(result.layer_outputs[i]).ravel(), minlength=levels)
        ax.bar(np.arange(levels), counts, width=0.85, color=_EVENT_COLOR)
        if log:
            ax.set_yscale("log")
        step = 1 if levels <= 8 else -(-levels // 6)  # at most ~6 ticks: 0, 3, 6, … for 16 levels
        ticks = list(range(0, levels, step))
        if ticks[-1] != levels - 1 and levels - 1 - ticks[-1] >= step / 2:
            ticks.append(levels - 1)
        ax.set_xticks(ticks)
        ax.set_title(f"{_label(layer.name)} ({layer.act_bits}-bit)", fontsize=9)
        ax.set_xlabel("activation value", fontsize=8)
        ax.set_ylabel("count", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(layers):]:
        fig.delaxes(ax)
    fig.suptitle(f"Activation values per layer: {_label(result.model.name)}")
    return fig


@_themed
def feature_maps(result: Any, layer: int | str = 0, sample: int = 0, max_channels: int = 16,
                 fig: Figure | None = None) -> Figure:
    """A layer's output for one sample: one image per channel (d0 down, d1 across).

    A layer whose output is 1×1 (global average pooling, FullyConnected) is drawn as one
    bar per channel instead.

    Parameters
    ----------
    result : SimulationResult
    layer : int or str
        Layer index or name.
    sample : int
        Index in the batch.
    max_channels : int
        At most this many channels (the first ones) get a panel.
    fig : Figure, optional

    Returns
    -------
    Figure
        For images, ``fig.axes[c].images[0].get_array()`` is channel ``c``; all share one
        colour scale (0…2^b − 1 for activations).

    Examples
    --------
    >>> import numpy as np
    >>> import akida_nb as ak
    >>> from akida_nb.sim import Simulator
    >>> res = Simulator(ak.example("gxnor_mnist"), seed=0).run(np.zeros((1, 28, 28, 1), np.uint8))
    >>> fig = ak.plot.feature_maps(res, layer=0, max_channels=4)
    >>> len(fig.axes[0].images), fig.axes[0].images[0].get_array().shape
    (1, (14, 14))
    """
    _check_result(result)
    _check_fig(fig)
    i = _layer_index(result, layer)
    spec = result.model.layers[i]
    out = np.asarray(result.layer_outputs[i])
    if not 0 <= _int(sample, "sample") < out.shape[0]:
        raise PlotError("sample", f"sample {sample} out of range for a batch of {out.shape[0]}")
    _int(max_channels, "max_channels", 1)
    maps = out[sample]
    d0, d1, c = maps.shape
    what = f"{spec.act_bits}-bit activations" if spec.activation else "potentials (activation off)"
    title = f"{_label(spec.name)} ({spec.type}), sample {sample}: {what}"
    if d0 == d1 == 1:
        if fig is None:
            fig = _new_figure((max(4.0, 0.12 * c + 2), 3.0))
        ax = fig.add_subplot()
        ax.bar(np.arange(c), maps[0, 0], color=_EVENT_COLOR)
        ax.set_xlabel("channel")
        ax.set_ylabel("value")
        ax.set_title(title)
        return fig
    shown = min(c, max_channels)
    cols = min(4, shown)
    rows = -(-shown // cols)
    if fig is None:
        fig = _new_figure((2.4 * cols + 0.8, 2.2 * rows + 0.5))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    vmin, vmax = (0, (1 << spec.act_bits) - 1) if spec.activation else (int(maps.min()), int(maps.max()))
    image = None
    for ch, ax in enumerate(axes[:shown]):
        image = ax.imshow(maps[:, :, ch], vmin=vmin, vmax=vmax, cmap="viridis", interpolation="nearest",
                          aspect="auto")
        ax.set_title(f"channel {ch}", fontsize=8)
        ax.set_xlabel("d1", fontsize=7)
        ax.set_ylabel("d0", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes[shown:]:
        fig.delaxes(ax)
    if image is not None:
        fig.colorbar(image, ax=list(axes[:shown]), shrink=0.8, label="value")
    fig.suptitle(title + (f" — first {shown} of {c} channels" if shown < c else ""), fontsize=10)
    return fig


# ------------------------------------------------------------------------------ teaching
def staircase_values(potentials: Any, act_bits: int = 4, act_step: float = 1.0, threshold: int = 0) -> np.ndarray:
    """The quantized activation of docs/design.md#the-activation for ordinary values, as plotted by :func:`staircase`.

    ``clip(ceil((p − threshold) · 2^b / S), 0, 2^b − 1)`` with ``S = floor(16 · act_step)``
    (``act_step`` as float32, as the engine holds it).

    Examples
    --------
    >>> staircase_values([-1, 0, 1, 2, 3, 100], act_bits=2, act_step=1.0)
    array([0, 0, 1, 1, 1, 3])
    """
    _int(act_bits, "act_bits", 1, 8)
    step = _step(act_step)
    d = _potentials(potentials) - _int(threshold, "threshold")
    return np.clip(-((-d << act_bits) // step), 0, (1 << act_bits) - 1)


def _step(act_step: Any) -> int:
    """The engine's integer step ``floor(16 · act_step)`` (act_step as float32), at least 1."""
    if isinstance(act_step, bool) or not isinstance(act_step, (int, float, np.integer, np.floating)):
        raise PlotError("act_step", f"a number expected, got {brief(act_step)}")
    if not np.isfinite(act_step) or not 1 / 16 <= act_step <= 2 ** 16:
        raise PlotError("act_step", f"act_step must be a finite number from 1/16 to 65536, got {brief(act_step)}")
    return int(np.floor(np.float64(np.float32(act_step)) * 16))


def _potentials(potentials: Any) -> np.ndarray:
    try:
        p = np.asarray(potentials)
    except (TypeError, ValueError, OverflowError):  # ragged or otherwise not an array
        raise PlotError("potentials", f"an array of integers expected, got {brief(potentials)}") from None
    whole = np.issubdtype(p.dtype, np.integer) or (np.issubdtype(p.dtype, np.floating) and bool(np.all(np.isfinite(p)))
                                                   and bool(np.all(p == np.round(p))))
    if p.dtype == bool or not whole:
        raise PlotError("potentials", f"an array of integers expected, got {brief(potentials)}")
    if p.size and np.abs(p.astype(np.float64)).max() > 2 ** 40:
        raise PlotError("potentials", "potentials must lie within ±2**40")
    return p.astype(np.int64)


@_themed
def staircase(act_bits: int = 4, act_step: float = 1.0, threshold: int = 0, potentials: Any = None,
              ax: Axes | None = None) -> Figure:
    """The quantized activation against the potential: a staircase of ``2^b`` levels (for teaching).

    Draws :func:`staircase_values` at every integer potential, the ideal ramp
    ``(p − threshold) · 2^b / S`` it quantizes, the threshold and the saturation level,
    and marks where each step begins (every step up to 16 levels, fewer beyond).

    Parameters
    ----------
    act_bits : int
        b, 1–8.
    act_step : float
        The neuron's step (≥ 1/16); one output level spans ``16 · act_step / 2^b`` potential units.
    threshold : int
        Output is 0 up to and including this potential.
    potentials : array-like of int, optional
        The potentials to draw; by default from a little below the threshold to a little
        beyond saturation.
    ax : Axes, optional

    Returns
    -------
    Figure
        The line labelled ``"quantized activation"`` holds the integer potentials
        (``get_xdata``) and the levels (``get_ydata``).

    Examples
    --------
    >>> import akida_nb as ak
    >>> fig = ak.plot.staircase(act_bits=2, act_step=1.0, threshold=3)
    >>> line = next(l for l in fig.axes[0].lines if l.get_label() == "quantized activation")
    >>> [(int(p), int(y)) for p, y in zip(line.get_xdata(), line.get_ydata()) if 2 <= p <= 8]
    [(2, 0), (3, 0), (4, 1), (5, 1), (6, 1), (7, 1), (8, 2)]
    """
    act_bits = _int(act_bits, "act_bits", 1, 8)
    threshold = _int(threshold, "threshold")
    step = _step(act_step)
    top = (1 << act_bits) - 1
    if potentials is None:
        full = -(-top * step // (1 << act_bits))  # first potential above the threshold that saturates
        margin = max(2, -(-step // (1 << act_bits)) * 2)
        potentials = np.arange(threshold - margin, threshold + full + margin + 1)
    p = _potentials(potentials)
    if p.ndim != 1 or not 0 < p.size <= 1_000_000:
        raise PlotError("potentials", f"a 1-D array of 1 to 1,000,000 potentials expected, got shape {p.shape}")
    y = staircase_values(p, act_bits, act_step, threshold)
    fig, ax = _axes(ax, (6.4, 4.0))
    ramp = np.clip((p - threshold) * (1 << act_bits) / step, 0, top)
    ax.plot(p, ramp, linestyle="--", color=INK, label="ideal ramp (p − threshold)·2^b / S")
    ax.plot(p, y, drawstyle="steps-post", color=_EVENT_COLOR, linewidth=2, label="quantized activation")
    ax.axvline(threshold, color=_BAD_COLOR, linestyle=":", label=f"threshold = {threshold}")
    ax.axhline(top, color=_SPARSITY_COLOR, linestyle=":", label=f"saturation = 2^b − 1 = {top}")
    starts = [(k, threshold + (k - 1) * step // (1 << act_bits) + 1) for k in range(1, top + 1)]
    every = max(1, len(starts) // 16)
    for k, start in starts[::every]:
        if p.min() <= start <= p.max():
            ax.annotate(str(k), (start, k), textcoords="offset points", xytext=(-3, 4), fontsize=7,
                        color=_EVENT_COLOR, ha="right")
    if top < 16:
        ax.set_yticks(np.arange(top + 1))
    ax.set_xlabel("potential p")
    ax.set_ylabel("activation (output level)")
    ax.set_title(f"Quantized activation: b = {act_bits}, act_step = {act_step:g} (S = {step}), "
                 f"one level per {step / (1 << act_bits):g} potential units", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return fig


# ------------------------------------------------------------------------------ verdicts and NPs
@_themed
def verdict_map(comparison: Any, ax: Axes | None = None) -> Figure:
    """Layers × targets heatmap of violation counts, each cell annotated (``ok`` or the count).

    Parameters
    ----------
    comparison : Comparison or CompatibilityReport
        From :func:`akida_nb.compare` (or :func:`akida_nb.check`, one column).
    ax : Axes, optional

    Returns
    -------
    Figure
        ``fig.axes[0].images[0].get_array()`` holds the counts, rows = layers, columns = targets.

    Examples
    --------
    >>> import akida_nb as ak
    >>> fig = ak.plot.verdict_map(ak.compare(ak.example("ds_cnn_kws")))
    >>> fig.axes[0].images[0].get_array()[0].tolist()  # conv_0: InputConvolutional is not on nsoc_v1
    [1, 0]
    """
    from .report import Comparison, CompatibilityReport

    if not isinstance(comparison, (Comparison, CompatibilityReport)):
        raise PlotError("comparison", f"a Comparison or CompatibilityReport expected, got {brief(comparison)}")
    reports: Sequence = comparison.reports if isinstance(comparison, Comparison) else (comparison,)
    first = reports[0]
    counts = np.array([[lv.violations for lv in r.layer_verdicts] for r in reports], dtype=np.int64).T
    n_layers, n_targets = counts.shape
    fig, ax = _axes(ax, (1.8 * n_targets + 3.6, 0.4 * n_layers + 1.8))
    from matplotlib.colors import ListedColormap

    vmax = max(1, int(counts.max()))
    cmap = ListedColormap(["#c8e6c9"] + [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in
                                         np.linspace((255, 205, 210), (198, 40, 40), vmax + 1)[1:].astype(int)])
    ax.imshow(counts, cmap=cmap, vmin=-0.5, vmax=vmax + 0.5, aspect="auto", interpolation="nearest")
    ax.set_xticks(np.arange(n_targets + 1) - 0.5, minor=True)  # cell borders
    ax.set_yticks(np.arange(n_layers + 1) - 0.5, minor=True)
    ax.grid(which="minor", color=INK, linewidth=1)
    ax.tick_params(which="minor", length=0)
    for (i, j), n in np.ndenumerate(counts):
        ax.text(j, i, "ok" if n == 0 else str(n), ha="center", va="center", fontsize=10, fontweight="bold",
                color=_text_on(cmap(int(n) / (vmax + 1) + 0.5 / (vmax + 1))))
    ax.set_xticks(np.arange(n_targets), [_label(r.target) for r in reports], fontsize=10)
    ax.set_yticks(np.arange(n_layers), [f"{lv.index} {_label(layer_label(lv.name, lv.type))}"
                                        for lv in first.layer_verdicts],
                  fontsize=9)
    ax.set_xlabel("target")
    ax.set_ylabel("layer")
    ax.set_title(f"Violations per layer: {_label(first.model_name)}")
    return fig


@_themed
def np_usage(np_df: Any, ax: Axes | None = None) -> Figure:
    """Bars of the neural processors (NPs) each layer takes, coloured by NP type, and the mesh filled per pass.

    Parameters
    ----------
    np_df : DataFrame
        From :func:`akida_nb.estimate_nps`: columns ``layer``, ``type``, ``nps`` (may be
        missing), ``np_type``, ``pass`` (optional: the hardware pass of each layer), ``why``,
        ``refused`` (the mapper's message, ``""`` when the layer maps); ``attrs`` ``total``,
        ``fits``, ``maps``, ``passes``, ``available``, ``device``. A refused layer gets no bar but
        a "refused" mark.
    ax : Axes, optional
        Draw the per-layer bars there (and nothing else). Without it, when ``np_df`` has a
        ``pass`` column, a second panel shows the device's mesh filled pass by pass: one row per
        pass, each layer a segment as wide as its NPs, up to the NPs a pass holds.

    Returns
    -------
    Figure
        Bar heights of the first axes are ``np_df["nps"]`` (0 where refused or missing).

    Examples
    --------
    >>> import akida_nb as ak
    >>> df = ak.estimate_nps(ak.example("ds_cnn_kws"), "akd1000")
    >>> fig = ak.plot.np_usage(df)
    >>> [int(b.get_height()) for b in fig.axes[0].patches] == df["nps"].tolist()
    True
    >>> fig.axes[0].get_title()
    'NPs per layer: 5 in total of 78 available (fits)'
    >>> fig = ak.plot.np_usage(ak.estimate_nps(ak.example("akidanet_edge_imagenet_a05_160"), "akd1500"))
    >>> fig.axes[1].get_title()
    'AKD1500 mesh per pass: 38 NPs in 2 passes of 32'
    >>> [int(sum(b.get_width() for b in fig.axes[1].patches if round(b.get_y() + b.get_height() / 2) == k))
    ...  for k in (0, 1)]
    [23, 15]
    """
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    if not isinstance(np_df, pd.DataFrame) or not {"layer", "nps", "np_type", "refused"} <= set(np_df.columns):
        raise PlotError("np_df", f"a DataFrame from estimate_nps (columns layer, nps, np_type, refused) expected, "
                                 f"got {brief(np_df)}")
    with_passes = ax is None and "pass" in np_df.columns
    if with_passes:
        fig = _new_figure((max(5.0, 0.45 * len(np_df) + 2.5) + 5.5, 3.6))
        ax, mesh_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [max(2.0, 0.45 * len(np_df) + 2.5), 5.5]})
    else:
        fig, ax = _axes(ax, (max(5.0, 0.45 * len(np_df) + 2.5), 3.6))
    try:
        nps = np_df["nps"].astype("Float64").fillna(0).to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise PlotError("np_df", f"column 'nps' must hold numbers, got {brief(list(np_df['nps']))}") from None
    refused = np.array([not pd.isna(r) and bool(r) for r in np_df["refused"]], dtype=bool)
    nps[refused] = 0.0
    kinds = ["?" if pd.isna(k) else _label(k) for k in np_df["np_type"]]
    palette = ["#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#558b2f", "#ad1457", "#4e342e"]
    colors = {k: palette[i % len(palette)] for i, k in enumerate(dict.fromkeys(kinds))}
    x = np.arange(len(np_df))
    bars = ax.bar(x, nps, color=[colors[k] for k in kinds])
    handles = {k: b for b, k in zip(bars, kinds)}
    drawn = {k for k, h in zip(kinds, nps) if h > 0}
    for xi, r in zip(x, refused):
        if r:
            ax.annotate("refused", (xi, 0), textcoords="offset points", xytext=(0, 3), rotation=90,
                        ha="center", va="bottom", fontsize=7, color=_BAD_COLOR)
    ax.legend(handles.values(), [k if k in drawn else f"{k} (no NP)" for k in handles], title="NP type",
              fontsize=8, title_fontsize=8)
    ax.set_xticks(x, [_label(n) for n in np_df["layer"]], rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("layer")
    ax.set_ylabel("neural processors")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    attrs = getattr(np_df, "attrs", {}) or {}
    title = "NPs per layer"
    if "total" in attrs:
        title += f": {attrs['total']} in total"
        if "available" in attrs:
            title += f", {attrs['available']} per pass" if attrs.get("multipass") else \
                f" of {attrs['available']} available"
        if "fits" in attrs:
            if attrs["fits"]:
                title += " (fits)"
            elif attrs.get("maps") and attrs.get("passes"):
                title += f" (maps in {attrs['passes']} passes)"
            else:
                title += " (does not fit)"
    ax.set_title(title)
    if with_passes:
        _mesh_per_pass(mesh_ax, np_df, nps, kinds, colors, attrs)
    return fig


def _mesh_per_pass(ax: Axes, np_df: Any, nps: Any, kinds: list[str], colors: dict, attrs: dict) -> None:
    """The mesh filled pass by pass: one row per pass, each layer a segment as wide as its NPs."""
    import pandas as pd

    passes = [None if pd.isna(p) else int(p) for p in np_df["pass"]]
    count = max((p for p in passes if p is not None), default=0)
    offsets = [0.0] * (count + 1)
    for i, (p, n, k) in enumerate(zip(passes, nps, kinds)):
        if p is None or n <= 0:
            continue
        ax.barh(p - 1, n, left=offsets[p], color=colors[k], edgecolor="white", linewidth=0.6)
        if n >= 2:
            ax.text(offsets[p] + n / 2, p - 1, str(i), ha="center", va="center", fontsize=6, color="white")
        offsets[p] += n
    available = attrs.get("available")
    if available:
        ax.axvline(available, color=_BAD_COLOR, linestyle="--", linewidth=1)
        ax.set_xlim(0, max([float(available)] + offsets) * 1.02)
    ax.set_yticks(range(count), [f"pass {k + 1}" for k in range(count)], fontsize=8)
    ax.set_ylim(count - 0.5, -0.5) if count else None
    ax.set_xlabel("NPs of the mesh (segments: layer index)")
    device = _label(attrs.get("device", "device"))
    total = attrs.get("total", int(sum(nps)))
    ax.set_title(f"{device} mesh per pass: {total} NPs in {count} pass{'es' if count != 1 else ''}"
                 + (f" of {available}" if available else ""))


def _pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both x and y (both minimised), by x."""
    order = np.lexsort((y, x))
    front, best = [], np.inf
    for i in order:
        if y[i] < best:
            front.append(i)
            best = y[i]
    return np.array(front, dtype=int)


def pareto(df: Any, fig: Figure | None = None) -> Figure:
    """One panel per target of a sweep: cost (NPs, else violations) against MACs, coloured by verdict.

    Fitting variants are green, refused ones red; the line joins the fitting variants that no
    other fitting variant beats on both axes (the Pareto front). Invalid variants (rows with an
    ``error``) have no MACs and are only counted in the title.

    Parameters
    ----------
    df : DataFrame
        From :func:`akida_nb.sweep`: columns ``target``, ``ok``, ``macs``, ``nps``, ``violations``.
    fig : Figure, optional

    Returns
    -------
    Figure
        One axes per target, in the order of the frame; the y axis is ``nps`` for targets whose
        rows carry an estimate, ``violations`` for the others.

    Examples
    --------
    >>> import akida_nb as ak
    >>> df = ak.sweep(ak.Space(ak.example("ds_cnn_kws"), filters=[32, 64], weights_bits=[1, 4]),
    ...               ["nsoc_v2", "akd1000"], progress=False)
    >>> fig = ak.plot.pareto(df)
    >>> [ax.get_title() for ax in fig.axes]
    ['nsoc_v2: 2 of 4 fit', 'akd1000: 2 of 4 fit']
    >>> fig.axes[1].get_ylabel()
    'neural processors'
    """
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    needed = {"target", "ok", "macs", "nps", "violations"}
    if not isinstance(df, pd.DataFrame) or not needed <= set(df.columns):
        raise PlotError("df", f"a DataFrame from ak.sweep (columns {', '.join(sorted(needed))}) expected, "
                              f"got {brief(df)}")
    if df.empty:
        raise PlotError("df", "the sweep has no rows: nothing to plot")
    _check_fig(fig)
    targets = list(dict.fromkeys(df["target"].astype(str)))
    cols = min(2, len(targets))
    rows = -(-len(targets) // cols)
    if fig is None:
        fig = _new_figure((4.6 * cols, 3.4 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, name in zip(axes, targets):
        part = df[df["target"].astype(str) == name]
        valid = part[part["macs"].notna()]
        cost = "nps" if valid["nps"].notna().any() else "violations"
        valid = valid[valid[cost].notna()]
        x = valid["macs"].to_numpy(dtype=float)
        y = valid[cost].to_numpy(dtype=float)
        ok = valid["ok"].fillna(False).to_numpy(dtype=bool)
        ax.scatter(x[~ok], y[~ok], s=14, color=_BAD_COLOR, alpha=0.6, label="refused")
        ax.scatter(x[ok], y[ok], s=14, color=_OK_COLOR, alpha=0.8, label="fits")
        if ok.any():
            front = _pareto_front(x[ok], y[ok])
            ax.step(x[ok][front], y[ok][front], where="post", color=_OK_COLOR, linewidth=1.2)
        n_ok = int(part["ok"].fillna(False).sum())
        invalid = int(part["macs"].isna().sum())
        ax.set_title(f"{_label(name)}: {n_ok} of {len(part)} fit" + (f" ({invalid} invalid)" if invalid else ""),
                     fontsize=10)
        ax.set_xscale("log")
        ax.set_xlabel("MACs per inference")
        ax.set_ylabel("neural processors" if cost == "nps" else "violations")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7, loc="best")
    for ax in axes[len(targets):]:
        fig.delaxes(ax)
    return fig
