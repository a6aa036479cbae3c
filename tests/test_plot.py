"""ak.plot: the returned artists carry the data (bar heights, image values, line points), headless."""
import io
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import akida_nb as ak
from akida_nb.sim import Simulator


@pytest.fixture(scope="module")
def result():
    x = np.random.default_rng(3).integers(0, 256, (3, 49, 10, 1), dtype=np.uint8)
    return Simulator(ak.example("ds_cnn_kws"), seed=0).run(x)


def test_import_is_lazy():
    code = ("import sys, akida_nb as ak; from akida_nb import *; "
            "assert 'matplotlib' not in sys.modules and 'ipywidgets' not in sys.modules; "
            "ak.plot; assert 'akida_nb.plot' in sys.modules; "
            "assert 'plot' not in ak.__all__ and 'widgets' not in ak.__all__; "
            "assert 'plot' in dir(ak) and 'widgets' in dir(ak)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute_still_raises():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ak.nope  # noqa: B018


def test_events_bars_and_sparsity(result):
    fig = ak.plot.events(result)
    assert isinstance(fig, Figure)
    bars, twin = fig.axes
    assert [b.get_height() for b in bars.patches] == result.events["events"].tolist()
    np.testing.assert_allclose(twin.lines[0].get_ydata(), result.events["sparsity"])
    assert [t.get_text() for t in bars.get_xticklabels()] == [l.name for l in result.model.layers]
    assert bars.get_xlabel() and bars.get_ylabel() and twin.get_ylabel() and bars.get_title()


def test_events_on_given_axes(result):
    fig = Figure()
    ax = fig.add_subplot()
    assert ak.plot.events(result, ax=ax) is fig
    assert len(ax.patches) == len(result.model.layers)


def test_activation_histograms_equal_bincount(result):
    fig = ak.plot.activation_histograms(result)
    activated = [i for i, l in enumerate(result.model.layers) if l.activation]
    assert len(fig.axes) == len(activated)
    for ax, i in zip(fig.axes, activated):
        bits = result.model.layers[i].act_bits
        expected = np.bincount(result.layer_outputs[i].ravel(), minlength=2 ** bits)
        assert [b.get_height() for b in ax.patches] == expected.tolist()
        assert [b.get_x() + b.get_width() / 2 for b in ax.patches] == pytest.approx(range(2 ** bits))
        assert ax.get_xlabel() and ax.get_ylabel() and result.model.layers[i].name in ax.get_title()


def test_activation_histograms_into_given_figure(result):
    fig = Figure()
    assert ak.plot.activation_histograms(result, fig=fig, log=False) is fig
    assert fig.axes[0].get_yscale() == "linear"


@pytest.mark.parametrize("bits,step,threshold", [(4, 1.0, 0), (2, 1.0, 3), (1, 0.5, -7), (4, 2.3, 10),
                                                 (8, 100.0, 0), (3, 0.0625, 5)])
def test_staircase_matches_formula(bits, step, threshold):
    fig = ak.plot.staircase(act_bits=bits, act_step=step, threshold=threshold)
    line = next(l for l in fig.axes[0].lines if l.get_label() == "quantized activation")
    p, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    s = np.floor(np.float32(step) * np.float64(16))
    expected = np.clip(np.ceil((p - threshold) * 2.0 ** bits / s), 0, 2 ** bits - 1)
    np.testing.assert_array_equal(y, expected)
    assert y.min() == 0 and y.max() == 2 ** bits - 1  # the default range shows the whole staircase
    assert np.all(np.diff(p) == 1)


def test_staircase_agrees_with_the_simulator_kernel():
    from akida_nb.sim.kernels import activation

    p = np.arange(-50, 400)
    for bits, step, threshold in [(4, 1.0, 0), (2, 3.7, 11), (8, 1.5, -20)]:
        engine = activation(p[:, None], np.array([threshold]), np.array([step], np.float32), bits).ravel()
        np.testing.assert_array_equal(ak.plot.staircase_values(p, bits, step, threshold), engine)


def test_staircase_annotations_and_custom_potentials():
    fig = ak.plot.staircase(act_bits=2, act_step=1.0, threshold=0, potentials=range(-3, 20))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["1", "2", "3"]
    # level k starts at the first potential whose output reaches k: 1, 5, 9 for S = 16, b = 2
    assert [t.xy[0] for t in ax.texts] == [1, 5, 9]
    assert ax.get_xlabel() == "potential p" and ax.get_ylabel()


def test_staircase_rejects_bad_arguments():
    with pytest.raises(ak.errors.PlotError, match="act_bits"):
        ak.plot.staircase(act_bits=9)
    with pytest.raises(ak.errors.PlotError, match="act_step"):
        ak.plot.staircase(act_step=0.01)


def test_verdict_map_values_are_counts():
    cmp = ak.compare(ak.example("broken"), ["nsoc_v1", "nsoc_v2"])
    fig = ak.plot.verdict_map(cmp)
    ax = fig.axes[0]
    expected = np.array([[lv.violations for lv in r.layer_verdicts] for r in cmp.reports]).T
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    for (i, j), n in np.ndenumerate(expected):
        assert texts[(i, j)] == ("ok" if n == 0 else str(n))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["nsoc_v1", "nsoc_v2"]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_verdict_map_of_one_report():
    rep = ak.check(ak.example("ds_cnn_kws"), "nsoc_v1")
    arr = ak.plot.verdict_map(rep).axes[0].images[0].get_array()
    assert arr.shape == (len(rep.layer_verdicts), 1)
    assert arr[:, 0].tolist() == [lv.violations for lv in rep.layer_verdicts]


def test_feature_maps_images_are_channels(result):
    fig = ak.plot.feature_maps(result, layer="separable_1", sample=2, max_channels=6)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 6
    for c, im in enumerate(images):
        np.testing.assert_array_equal(im.get_array(), result.layer_outputs[1][2, :, :, c])
        assert im.get_clim() == (0, 15)


def test_feature_maps_of_a_1x1_layer_are_bars(result):
    fig = ak.plot.feature_maps(result, layer=-1, sample=1)
    ax = fig.axes[0]
    assert [b.get_height() for b in ax.patches] == result.layer_outputs[-1][1, 0, 0].tolist()
    assert "activation off" in ax.get_title()


def test_feature_maps_rejects_bad_arguments(result):
    with pytest.raises(ak.errors.PlotError, match="no layer named"):
        ak.plot.feature_maps(result, layer="nope")
    with pytest.raises(ak.errors.PlotError, match="out of range"):
        ak.plot.feature_maps(result, layer=0, sample=3)


def _np_frame():
    df = pd.DataFrame({"layer": ["conv_0", "sep_1", "sep_2", "fc_3"],
                       "type": ["InputConvolutional", "SeparableConvolutional", "SeparableConvolutional",
                                "FullyConnected"],
                       "nps": pd.array([0, 3, None, 1], dtype="Int64"), "np_type": ["HRC", "CNP1", None, "FNP3"],
                       "why": ["runs on the HRC", "3 pieces", "filter too big", "one FNP"],
                       "refused": ["", "", "Cannot map layer 'sep_2'. Filter size is too big.", ""]})
    df.attrs.update(total=4, fits=True, available=78)
    return df


def test_np_usage_bars():
    fig = ak.plot.np_usage(_np_frame())
    ax = fig.axes[0]
    assert [b.get_height() for b in ax.patches] == [0, 3, 0, 1]
    assert [t.get_text() for t in ax.texts] == ["refused"]
    assert ax.get_title() == "NPs per layer: 4 in total of 78 available (fits)"
    # every NP type is in the legend; those with no visible bar say so
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["HRC (no NP)", "CNP1", "? (no NP)", "FNP3"]
    assert ax.get_xlabel() and ax.get_ylabel()


def test_np_usage_from_estimate_nps():
    for model in (ak.example("akidanet_edge_imagenet_a05_160"), ak.Model.from_dict({
            "input": {"shape": [8, 8, 4000], "bits": 4},
            "layers": [{"type": "Convolutional", "kernel_size": 7, "filters": 16, "weights_bits": 4, "act_bits": 4},
                       {"type": "FullyConnected", "units": 10, "weights_bits": 2}]})):
        df = ak.estimate_nps(model, "akd1000")
        ax = ak.plot.np_usage(df).axes[0]
        refused = df["refused"] != ""
        assert [b.get_height() for b in ax.patches] == df["nps"].where(~refused, 0).fillna(0).tolist()
        assert [t.get_text() for t in ax.texts] == ["refused"] * int(refused.sum())
        fits = "(fits)" if df.attrs["fits"] else "(does not fit)"
        total, available = df.attrs["total"], df.attrs["available"]
        assert ax.get_title() == f"NPs per layer: {total} in total of {available} available {fits}"


@pytest.mark.slow
def test_no_pyplot_state_and_no_show(result, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() called"))
    before = plt.get_fignums()
    figs = [ak.plot.events(result), ak.plot.activation_histograms(result), ak.plot.staircase(),
            ak.plot.verdict_map(ak.compare(ak.example("ds_cnn_kws"))), ak.plot.feature_maps(result),
            ak.plot.np_usage(_np_frame())]
    assert plt.get_fignums() == before
    for fig in figs:
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        assert buf.getvalue()[:4] == b"\x89PNG"


# ------------------------------------------------------------------------------ hostile names and arguments
HOSTILE = {"model": r"net $\frac{$ 5$", "layers": [r"$\undefined{x}$", "fc\u202e", "a$b$c", "line\nbreak\x1b[0m"]}


@pytest.fixture(scope="module")
def hostile():
    spec = ak.example("gxnor_mnist").to_dict()
    spec["name"] = HOSTILE["model"]
    for layer, name in zip(spec["layers"], HOSTILE["layers"]):
        layer["name"] = name
    m = ak.Model.from_dict(spec)
    return m, Simulator(m, seed=0).run(np.zeros((1, 28, 28, 1), np.uint8))


def _draw(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def test_user_strings_never_become_mathtext(hostile):
    m, res = hostile
    figures = [ak.plot.events(res), ak.plot.activation_histograms(res),
               ak.plot.feature_maps(res, layer=HOSTILE["layers"][0], max_channels=2),
               ak.plot.feature_maps(res, layer="fc\u202e"),
               ak.plot.verdict_map(ak.compare(m)), ak.plot.np_usage(ak.estimate_nps(m, "akd1000"))]
    shown = " ".join(" ".join(_draw(fig)) for fig in figures)   # drawing raised nothing
    for name in [HOSTILE["model"], *HOSTILE["layers"]]:
        escaped = ak.present.safe_text(name).replace("$", r"\$")
        assert escaped in shown, name
    assert "\u202e" not in shown and "\x1b" not in shown and "\n" not in shown.replace("\\n", "")


@pytest.mark.parametrize("call, argument", [
    (lambda r: ak.plot.feature_maps(r, layer=None), "layer"),
    (lambda r: ak.plot.feature_maps(r, layer=1.5), "layer"),
    (lambda r: ak.plot.feature_maps(r, layer="nope"), "layer"),
    (lambda r: ak.plot.feature_maps(r, sample="0"), "sample"),
    (lambda r: ak.plot.feature_maps(r, sample=99), "sample"),
    (lambda r: ak.plot.feature_maps(r, max_channels=0), "max_channels"),
    (lambda r: ak.plot.feature_maps(r, fig="x"), "fig"),
    (lambda r: ak.plot.staircase(act_bits=2.5), "act_bits"),
    (lambda r: ak.plot.staircase(act_bits=True), "act_bits"),
    (lambda r: ak.plot.staircase(act_bits="4"), "act_bits"),
    (lambda r: ak.plot.staircase(act_step=float("nan")), "act_step"),
    (lambda r: ak.plot.staircase(act_step=float("inf")), "act_step"),
    (lambda r: ak.plot.staircase(act_step="1"), "act_step"),
    (lambda r: ak.plot.staircase(act_step=1e30), "act_step"),
    (lambda r: ak.plot.staircase(threshold=0.5), "threshold"),
    (lambda r: ak.plot.staircase(potentials=["a"]), "potentials"),
    (lambda r: ak.plot.staircase(potentials=[1.5]), "potentials"),
    (lambda r: ak.plot.staircase(potentials=[]), "potentials"),
    (lambda r: ak.plot.staircase_values([1], act_bits=0), "act_bits"),
    (lambda r: ak.plot.staircase_values([float("nan")]), "potentials"),
    (lambda r: ak.plot.events(None), "result"),
    (lambda r: ak.plot.events("result"), "result"),
    (lambda r: ak.plot.events(r, ax="ax"), "ax"),
    (lambda r: ak.plot.activation_histograms(None), "result"),
    (lambda r: ak.plot.activation_histograms(r, log="yes"), "log"),
    (lambda r: ak.plot.activation_histograms(r, fig=5), "fig"),
    (lambda r: ak.plot.verdict_map(None), "comparison"),
    (lambda r: ak.plot.verdict_map([1, 2]), "comparison"),
    (lambda r: ak.plot.np_usage(None), "np_df"),
    (lambda r: ak.plot.np_usage(pd.DataFrame({"layer": ["a"]})), "np_df"),
    (lambda r: ak.plot.np_usage(pd.DataFrame({"layer": ["a"], "nps": ["x"], "np_type": ["CNP"],
                                              "refused": [""]})), "np_df"),
])
def test_bad_arguments_raise_a_plot_error_naming_them(result, call, argument):
    with pytest.raises(ak.errors.PlotError) as info:
        call(result)
    assert info.value.argument == argument
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


# ------------------------------------------------------------------------------ themes and display
def _contrast(a, b):
    from matplotlib.colors import to_rgb

    def lum(c):
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in to_rgb(c)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    x, y = sorted([lum(a), lum(b)])
    return (y + 0.05) / (x + 0.05)


JUPYTERLAB_BACKGROUNDS = ("#ffffff", "#111111", "#212121")  # Light; Dark's layout-color0 and layout-color1


@pytest.mark.slow
def test_figures_read_on_light_and_dark_backgrounds(result):
    from matplotlib.colors import to_rgba

    figs = [ak.plot.events(result), ak.plot.activation_histograms(result), ak.plot.staircase(),
            ak.plot.verdict_map(ak.compare(ak.example("ds_cnn_kws"))), ak.plot.feature_maps(result),
            ak.plot.np_usage(_np_frame())]
    for fig in figs:
        assert to_rgba(fig.get_facecolor())[3] == 0 and all(to_rgba(ax.get_facecolor())[3] == 0 for ax in fig.axes)
        _draw(fig)
        colours = set()
        for ax in fig.axes:
            on_cells = set(ax.texts) if ax.images else set()  # a heatmap's cell texts sit on opaque cells
            for text in ax.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_color")):
                if text.get_text().strip() and text.get_visible() and text not in on_cells:
                    colours.add(to_rgba(text.get_color()))
            colours |= {to_rgba(p.get_facecolor()) for p in ax.patches if getattr(p, "get_height", lambda: 0)()}
            colours |= {to_rgba(line.get_color()) for line in ax.lines}
        for colour in colours:
            if to_rgba(colour)[3] == 0:
                continue
            for bg in JUPYTERLAB_BACKGROUNDS:
                assert _contrast(colour, bg) >= 3, (fig.axes[0].get_title(), colour, bg)


def test_palette_reads_on_every_jupyterlab_background():
    for colour in (ak.plot.INK, *ak.plot.PALETTE):
        assert min(_contrast(colour, bg) for bg in JUPYTERLAB_BACKGROUNDS) >= 3, colour


def test_verdict_map_cell_texts_read_on_their_cells():
    cmp = ak.compare(ak.example("broken"), ["nsoc_v1", "nsoc_v2"])
    ax = ak.plot.verdict_map(cmp).axes[0]
    image = ax.images[0]
    for t in ax.texts:
        j, i = (round(v) for v in t.get_position())
        cell = image.cmap(image.norm(image.get_array()[i, j]))
        assert _contrast(t.get_color(), cell) >= 4.5, (t.get_text(), t.get_color(), cell)


def test_events_axis_is_logarithmic_by_default(result):
    assert ak.plot.events(result).axes[0].get_yscale() == "symlog"
    assert ak.plot.events(result, log=False).axes[0].get_yscale() == "linear"


def test_histogram_ticks_do_not_crowd(result):
    fig = ak.plot.activation_histograms(result)
    for ax in fig.axes:
        assert len(ax.get_xticks()) <= 8


def test_a_figure_shows_in_a_fresh_kernel_without_magic_or_pyplot():
    code = (
        "import sys, numpy as np, akida_nb as ak\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "from matplotlib.figure import Figure\n"
        "shell = InteractiveShell.instance()\n"
        "fig = ak.plot.verdict_map(ak.compare(ak.example('ds_cnn_kws')))\n"
        "data, meta = shell.display_formatter.format(fig)\n"
        "assert isinstance(fig, Figure)\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "html = data['text/html']\n"
        "assert html.startswith('<img src=\"data:image/png;base64,') and 'alt=\"Chart: Violations per layer' in html\n"
        "assert 'max-width:100%' in html\n")
    env = {**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
