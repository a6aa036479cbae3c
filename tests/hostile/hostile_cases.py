"""The hostile-input corpus (issue 11) and the loaders the mutation strategies feed.

Every case has an id ``AREA.name``; the area says which part of akida_nb must answer it:
``load`` (native/YAML/Keras loaders), ``keras``, ``variables``, ``nps`` (NP estimate),
``targets``, ``report`` (text/HTML output), ``widgets``, ``plot``, ``sim`` (Simulator),
``api`` (the smaller API holes), ``npz`` (``ak.save``/``ak.load``), ``space`` and ``sweep`` (design
spaces), ``evaluate`` (data sets) and ``cli.AREA`` for the cases run through the command line.

A case passes when it returns normally or raises an akida_nb error of one bounded line
— except a ``must_raise`` case (a silent wrong answer when it returns), and a case that
raises :class:`WrongAnswer` (a verdict or an output it must not give).

Corpus files live in ``tests/data/hostile``; large ones are generated in the case's
directory. Later issues add their cases here (``@api_case`` / ``cli_case``).

Examples
--------
>>> sorted({c.id.split(".")[0] for c in CASES.values()})[:4]
['api', 'cli', 'evaluate', 'keras']
>>> all(c.kind == "cli" for c in CASES.values() if c.id.startswith("cli."))
True
"""
from __future__ import annotations

import importlib.util
import io
import json
import math
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "data" / "hostile"
REPO = HERE.parents[1]
KERAS = HERE.parent / "data" / "keras"


class WrongAnswer(Exception):
    """A case got a normal result that is wrong (a forged verdict, raw HTML, a silent default)."""


@dataclass
class Case:
    id: str
    kind: str  # "api" or "cli"
    files: tuple[str, ...] = ()
    setup: Callable[[Path], None] | None = None
    run: Callable[[Path], Any] | None = None
    argv: tuple[str, ...] = ()
    must_raise: bool = False
    output: str | None = None
    stdout_must_not: tuple[str, ...] = ()


CASES: dict[str, Case] = {}


def _add(case: Case) -> Case:
    assert case.id not in CASES, case.id
    CASES[case.id] = case
    return case


def api_case(case_id: str, *files: str, setup=None, must_raise: bool = False, output: str | None = None):
    """Register the decorated function ``f(directory)`` as an in-process case."""
    def deco(fn):
        _add(Case(case_id, "api", files=files, setup=setup, run=fn, must_raise=must_raise, output=output))
        return fn
    return deco


def cli_case(case_id: str, argv, *files: str, setup=None, must_raise: bool = False, output: str | None = None,
             stdout_must_not=()) -> None:
    """Register a case run as ``akida-nb ARGV`` in a subprocess (``must_raise``: exit 2 expected)."""
    _add(Case(f"cli.{case_id}", "cli", files=files, setup=setup, argv=tuple(argv), must_raise=must_raise,
              output=output, stdout_must_not=tuple(stdout_must_not)))


def populate(case: Case, directory: Path) -> None:
    """Copy the case's corpus files into ``directory`` and run its setup there."""
    for name in case.files:
        shutil.copy(CORPUS / name, directory / name)
    if case.setup is not None:
        case.setup(directory)


# ---------------------------------------------------------------------------------------------- setups
def _ak():
    import akida_nb as ak

    return ak


def fifo(name):
    def setup(d: Path) -> None:
        os.mkfifo(d / name)
    return setup


def devzero(name):
    def setup(d: Path) -> None:
        os.symlink("/dev/zero", d / name)
    return setup


def directory(name):
    def setup(d: Path) -> None:
        (d / name).mkdir()
    return setup


def shape_5m(d: Path) -> None:
    (d / "shape_5m.json").write_text('{"input": {"shape": [' + ", ".join(["7"] * 5_000_000) + ']}, '
                                     '"layers": [{"type": "FullyConnected", "units": 2}]}')


def keras_with(edit, name="k.json", base="ds_cnn_kws_v1_quantized.json"):
    """A setup writing a Keras config from ``tests/data/keras`` after ``edit(config)``."""
    def setup(d: Path) -> None:
        cfg = json.loads((KERAS / base).read_text())
        edit(cfg)
        (d / name).write_text(json.dumps(cfg))
    return setup


def _layers_of(cfg, class_name):
    return [layer for layer in cfg["config"]["layers"] if layer["class_name"] == class_name]


def _set_bitwidth(value):
    def edit(cfg):
        _layers_of(cfg, "QuantizedConv2D")[0]["config"]["quant_config"]["weight_quantizer"]["bitwidth"] = value
    return edit


def _causal(cfg):
    _layers_of(cfg, "MaxPooling2D")[0]["config"]["padding"] = "causal"


def archive(name: str, member: bytes) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        with zipfile.ZipFile(d / name, "w") as zf:
            zf.writestr("metadata.json", '{"keras_version": "3.3.3"}')
            zf.writestr("config.json", member)
    return setup


def garbage(name: str, data: bytes = b"\x00\xff\xfe garbage \x89PNG\r\n") -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        (d / name).write_bytes(data)
    return setup


def _load(name):
    return _ak().load_model(name)


def _sim_result():
    import numpy as np

    ak = _ak()
    return ak.Simulator(ak.example("gxnor_mnist"), seed=0).run(np.zeros((1, 28, 28, 1), np.uint8))


def _no_raw(text: str, *needles: str) -> None:
    for needle in needles:
        if needle in text:
            raise WrongAnswer(f"output holds {needle!r} as it is")


# ---------------------------------------------------------------------------------------------- load (h3)
def load_case(case_id: str, name: str, *, corpus: bool = True, setup=None, must_raise: bool = False) -> None:
    """A case that loads one file, ``name`` (copied from the corpus, or made by ``setup``)."""
    api_case(case_id, *((name,) if corpus else ()), setup=setup, must_raise=must_raise)(lambda d: _load(name))


load_case("load.nested_list_json", "nested_list.json")
load_case("load.nested_list_yaml", "nested_list.yaml")
load_case("load.nested_list_keras_json", "k.json", corpus=False, setup=lambda d: (d / "k.json").write_text(
    '{"class_name": "Sequential", "config": ' + "[" * 5000 + "]" * 5000 + "}"))
load_case("load.nested_list_keras_archive", "k.keras", corpus=False,
          setup=archive("k.keras", b"[" * 5000 + b"]" * 5000))
load_case("load.bigint_kernel_json", "bigint_kernel.json")
load_case("load.billion_laughs_model_yaml", "billion_laughs_model.yaml", must_raise=True)
load_case("load.fifo_json", "m.json", corpus=False, setup=fifo("m.json"), must_raise=True)
load_case("load.fifo_yaml", "m.yaml", corpus=False, setup=fifo("m.yaml"), must_raise=True)
load_case("load.dev_zero_json", "m.json", corpus=False, setup=devzero("m.json"), must_raise=True)
load_case("load.directory_json", "m.json", corpus=False, setup=directory("m.json"), must_raise=True)
load_case("load.shape_5m_items", "shape_5m.json", corpus=False, setup=shape_5m, must_raise=True)
load_case("load.duplicate_keys_json", "duplicate_keys.json", must_raise=True)
load_case("load.duplicate_keys_yaml", "duplicate_keys.yaml", must_raise=True)
load_case("load.binary_garbage_json", "m.json", corpus=False, setup=garbage("m.json"), must_raise=True)
load_case("load.keras_archive_not_a_zip", "m.keras", corpus=False, setup=garbage("m.keras"), must_raise=True)
load_case("load.padding_value_out_of_range", "padding_value_out_of_range.json", must_raise=True)


@api_case("load.bigint_shape_product", "bigint_shape_product.json")
def _(d):
    ak = _ak()
    m = _load("bigint_shape_product.json")
    repr(m), m.summary(), repr(ak.compare(m, ["nsoc_v1", "nsoc_v2", "akd1000"]))


# ---------------------------------------------------------------------------------------------- keras (h3)
for _value in (0, "2", 2.0):
    load_case(f"keras.quant_bitwidth_{type(_value).__name__}_{_value}", "k.json", corpus=False,
              setup=keras_with(_set_bitwidth(_value)), must_raise=True)
load_case("keras.pooling_padding_causal", "k.json", corpus=False,
          setup=keras_with(_causal, base="vgg_utk_face_v1.json"), must_raise=True)


# ---------------------------------------------------------------------------------------------- variables (h3)
def _variables_check(edit):
    def run(d):
        ak = _ak()
        model = ak.example("gxnor_mnist")
        variables = ak.Simulator(model, seed=0).variables
        edit(variables)
        ak.check(model, "nsoc_v2", variables=variables)
    return run


def _rename(old, new):
    def edit(variables):
        variables[1][new] = variables[1].pop(old)
    return edit


def _bad_shape(variables):
    variables[1]["weights"] = variables[1]["weights"][..., :1]


api_case("variables.misspelled_thresholds", must_raise=True)(_variables_check(_rename("threshold", "thresholds")))
api_case("variables.misspelled_act_steps", must_raise=True)(_variables_check(_rename("act_step", "act_steps")))
api_case("variables.wrong_weights_shape", must_raise=True)(_variables_check(_bad_shape))


# ---------------------------------------------------------------------------------------------- nps (h8)
@api_case("nps.check_akd1000_huge_input", "np_huge_input.json")
def _(d):
    _ak().check(_load("np_huge_input.json"), "akd1000")


@api_case("nps.estimate_nps_huge_input", "np_huge_input.json")
def _(d):
    _ak().estimate_nps(_load("np_huge_input.json"), "akd1000")


@api_case("nps.fix_akd1000_huge_input", "np_huge_input.json")
def _(d):
    _ak().fix(_load("np_huge_input.json"), "akd1000")


@api_case("widgets.explorer_huge_input", "np_huge_input.json")
def _(d):
    from akida_nb.widgets import Explorer

    Explorer(_load("np_huge_input.json"), target=("akd1000",))


# ---------------------------------------------------------------------------------------------- targets (h1)
@api_case("targets.register_existing_name", "target_existing_name.yaml", must_raise=True)
def _(d):
    _ak().register_target("target_existing_name.yaml")


def _register_then_use(*files, replace_last=False):
    def run(d):
        ak = _ak()
        for i, name in enumerate(files):
            kwargs = {"replace": True} if replace_last and i == len(files) - 1 else {}
            try:
                ak.register_target(name, **kwargs)
            except ak.AkidaNbError:
                pass
        names = list(ak.targets()["name"])
        model = ak.example("ds_cnn_kws")
        for name in names:
            ak.check(model, name)
        ak.compare_constraints(*names[:4])
    return run


api_case("targets.name_int_breaks_later_calls", "target_name_int.yaml", "target_cycle_a1.yaml")(
    _register_then_use("target_name_int.yaml", "target_cycle_a1.yaml"))
api_case("targets.base_cycle", "target_cycle_a1.yaml", "target_cycle_b.yaml", "target_cycle_a2.yaml")(
    _register_then_use("target_cycle_a1.yaml", "target_cycle_b.yaml", "target_cycle_a2.yaml", replace_last=True))


@api_case("targets.billion_laughs_target_yaml", "billion_laughs_target.yaml", must_raise=True)
def _(d):
    _ak().register_target("billion_laughs_target.yaml")


@api_case("targets.nested_list_target_yaml", "nested_list.yaml", must_raise=True)
def _(d):
    _ak().register_target("nested_list.yaml")


@api_case("targets.fifo_target_yaml", setup=fifo("t.yaml"), must_raise=True)
def _(d):
    _ak().register_target("t.yaml")


@api_case("targets.template_attribute_access", "target_template.yaml")
def _(d):
    ak = _ak()
    target = ak.register_target("target_template.yaml")
    model = ak.Model.from_dict({"input": {"shape": [1, 1, 2]},
                                "layers": [{"type": "FullyConnected", "units": 4, "weights_bits": 4}]})
    _no_raw(" ".join(ak.check(model, target.name).violations["message"]), "<class")


@api_case("targets.compare_constraints_same_target_twice")
def _(d):
    ak = _ak()
    ak.style_differences(ak.compare_constraints("nsoc_v2", "nsoc_v2")).to_html()


def _tiny_target(d):
    (d / "tiny.yaml").write_text("name: tiny\ntitle: Tiny\nlayer_types: [FullyConnected]\nrules: []\n")


@api_case("targets.unregister", setup=_tiny_target)
def _(d):
    ak = _ak()
    ak.register_target("tiny.yaml")
    ak.unregister_target("tiny")
    if "tiny" in set(ak.targets()["name"]):
        raise WrongAnswer("'tiny' still registered after unregister_target")
    try:
        ak.unregister_target("nsoc_v1")
    except ak.AkidaNbError:
        return
    raise WrongAnswer("a built-in target was removed")


# ------------------------------------------------------------------- save/load npz (issue 12), spaces (issue 15)
def _write_npz(name, **arrays):
    def setup(d: Path) -> None:
        import numpy as np

        np.savez(d / name, **{k: (np.asarray(v, dtype=object) if k == "pickled" else np.asarray(v))
                              for k, v in arrays.items()})
    return setup


def _saved_model(d: Path) -> None:
    ak = _ak()
    from akida_nb.sim import Simulator

    m = ak.example("gxnor_mnist")
    ak.save(m, d / "m.npz", variables=Simulator(m, seed=0))


@api_case("npz.pickled_object", setup=_write_npz("p.npz", spec_json="{}", pickled=[{"a": 1}]), must_raise=True)
def _(d):
    _ak().load("p.npz")


@api_case("npz.missing_spec", setup=_write_npz("e.npz", L0_weights=[1, 2, 3]), must_raise=True)
def _(d):
    _ak().load("e.npz")


@api_case("npz.not_a_zip", setup=lambda d: (d / "t.npz").write_bytes(b"PK\x03\x04 not really a zip"),
          must_raise=True)
def _(d):
    _ak().load("t.npz")


@api_case("npz.fifo", setup=fifo("f.npz"), must_raise=True)
def _(d):
    _ak().load("f.npz")


def _zip_bomb_npz(d: Path) -> None:
    """A small npz whose directory says its member unpacks to almost 4 GiB (what a bomb declares)."""
    import struct

    with zipfile.ZipFile(d / "bomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("spec_json.npy", b"\0" * (1 << 20))
    data = bytearray((d / "bomb.npz").read_bytes())
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 0xFFFFFF00)  # uncompressed size in the central directory
    (d / "bomb.npz").write_bytes(bytes(data))


@api_case("npz.zip_bomb", setup=_zip_bomb_npz, must_raise=True)
def _(d):
    _ak().load("bomb.npz")


def _float_weights_npz(d: Path) -> None:
    import numpy as np

    _saved_model(d)
    with np.load(d / "m.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    key = next(k for k in arrays if k.endswith("weights"))
    arrays[key] = arrays[key].astype(np.float64) + 0.5
    np.savez(d / "m.npz", **arrays)


@api_case("npz.wrong_weights_dtype", setup=_float_weights_npz, must_raise=True)
def _(d):
    _ak().load("m.npz")


@api_case("space.billion_laughs", "billion_laughs_target.yaml", must_raise=True)
def _(d):
    from akida_nb.sweep import load_space

    load_space("billion_laughs_target.yaml")


@api_case("space.unknown_knob", setup=lambda d: (d / "s.yaml").write_text(
    "model: ds_cnn_kws\nknobs: {filterz: [32]}\n"), must_raise=True)
def _(d):
    from akida_nb.sweep import load_space

    load_space("s.yaml")


@api_case("space.model_path_escape", setup=lambda d: (d / "s.yaml").write_text(
    "model: /dev/zero\nknobs: {filters: [32]}\n"), must_raise=True)
def _(d):
    from akida_nb.sweep import load_space

    load_space("s.yaml")


cli_case("sweep.missing_space", ["sweep", "nope.yaml", "--no-progress"], must_raise=True)
cli_case("sweep.output_is_a_directory", ["sweep", "s.yaml", "-o", "out.csv", "--no-progress"],
         setup=lambda d: ((d / "s.yaml").write_text("model: gxnor_mnist\nknobs: {act_bits: [1, 2]}\n"),
                          (d / "out.csv").mkdir()), must_raise=True)


# ------------------------------------------------------- save/load, spaces, sweeps, evaluate, akd1500 (h20)
def _kws():
    return _ak().example("ds_cnn_kws")


def _mnist_batch(n=4):
    import numpy as np

    return np.random.default_rng(0).integers(0, 2, (n, 28, 28, 1), dtype=np.uint8)


def _evaluate(dataset, **kw):
    ak = _ak()
    return ak.evaluate(ak.example("gxnor_mnist"), dataset, progress=False, **kw)


def _stray_variable_npz(d: Path) -> None:
    import numpy as np

    _saved_model(d)
    with np.load(d / "m.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(d / "m.npz", L99_weights=np.zeros(3, np.int8), **arrays)


@api_case("npz.variable_of_no_layer", setup=_stray_variable_npz, must_raise=True)
def _(d):
    _ak().load("m.npz")


@api_case("space.knob_beyond_int64", must_raise=True)
def _(d):
    _ak().Space(_kws(), filters=[10 ** 30])


@api_case("space.layers_not_a_mapping", must_raise=True)
def _(d):
    _ak().Space(_kws(), layers=["separable_2"])


@api_case("space.types_not_a_mapping", must_raise=True)
def _(d):
    _ak().Space(_kws(), types="SeparableConvolutional")


@api_case("space.huge_sampled")
def _(d):
    ak = _ak()
    space = ak.Space(_kws(), **{f: list(range(1, 1001)) for f in ("filters", "weights_bits", "act_bits",
                                                                     "kernel_size")}).sample(3, seed=1)
    if len(space) != 3 or space.size != 10 ** 12:
        raise WrongAnswer(f"sampled {len(space)} of {space.size}")
    ak.sweep(space, "nsoc_v2", progress=False)


@api_case("sweep.zero_targets", must_raise=True)
def _(d):
    ak = _ak()
    ak.sweep(ak.Space(_kws(), filters=[32]), [], progress=False)


@api_case("evaluate.batch_of_ints", must_raise=True)
def _(d):
    _evaluate([1, 2, 3])


@api_case("evaluate.batch_of_none", must_raise=True)
def _(d):
    _evaluate([None])


@api_case("evaluate.labels_longer_than_batches", must_raise=True)
def _(d):
    x = _mnist_batch()
    _evaluate([x[:2], x[2:]], labels=[0] * 10)


@api_case("evaluate.labels_out_of_range", must_raise=True)
def _(d):
    _evaluate(_mnist_batch(), labels=[-1] * 4)


@api_case("evaluate.labels_beyond_classes", must_raise=True)
def _(d):
    _evaluate(_mnist_batch(), labels=[10] * 4)


if importlib.util.find_spec("dask") is not None:  # the dask extra
    @api_case("evaluate.dask_labels_short", must_raise=True)
    def _(d):
        import dask.array as da

        _evaluate(da.from_array(_mnist_batch(), chunks=(2, 28, 28, 1)), labels=da.zeros(3, dtype=int, chunks=3))


    @api_case("evaluate.dask_float_labels", must_raise=True)
    def _(d):
        import dask.array as da

        _evaluate(da.from_array(_mnist_batch(), chunks=(2, 28, 28, 1)), labels=da.zeros(4, chunks=2))


    @api_case("evaluate.dask_one_sample_3d", must_raise=True)
    def _(d):
        import dask.array as da

        _evaluate(da.from_array(_mnist_batch()[0], chunks=(28, 28, 1)))


    @api_case("evaluate.dask_unknown_chunks", must_raise=True)
    def _(d):
        import dask.array as da

        x = da.from_array(_mnist_batch(), chunks=(2, 28, 28, 1))
        _evaluate(x[x[:, 0, 0, 0] > 5])


@api_case("nps.akd1500_model_none", must_raise=True)
def _(d):
    _ak().estimate_nps(None, "akd1500")


@api_case("nps.akd1500_huge_input")
def _(d):
    ak = _ak()
    m = ak.Model.from_dict({"input": {"shape": [10 ** 9, 10 ** 9, 1]},
                            "layers": [{"type": "Convolutional", "filters": 8, "kernel_size": 3}]})
    if ak.estimate_nps(m, "akd1500").attrs["maps"] or ak.check(m, "akd1500").ok:
        raise WrongAnswer("a 10^9×10^9 input maps on the AKD1500")


def _device_target(edit):
    """A setup writing ``t.yaml``: a target based on akd1500 whose ``device:`` block is akd1500's after ``edit``."""
    def setup(d: Path) -> None:
        import yaml

        device = yaml.safe_load((REPO / "data" / "targets" / "akd1500.yaml").read_text())["device"]
        edit(device)
        (d / "t.yaml").write_text(yaml.safe_dump({"name": "h20_device", "title": "T", "base": "akd1500",
                                                  "rules": [], "device": device}))
    return setup


def _use_device_target(d):
    ak = _ak()
    target = ak.register_target("t.yaml", replace=True)
    try:
        ak.estimate_nps(_kws(), target.name)
    finally:
        ak.unregister_target(target.name)


api_case("nps.akd1500_device_unknown_np_type", must_raise=True,
         setup=_device_target(lambda dev: dev["mesh"][0].update(types=["ZZZ"])))(_use_device_target)
api_case("nps.akd1500_device_takes_nothing", must_raise=True,
         setup=_device_target(lambda dev: dev.update(takes={})))(_use_device_target)
api_case("nps.akd1500_device_takes_unknown_layer", must_raise=True,
         setup=_device_target(lambda dev: dev["takes"].update(CNP1=["Foo"])))(_use_device_target)
api_case("nps.akd1500_device_fallback_unknown", must_raise=True,
         setup=_device_target(lambda dev: dev.update(fallback={"FNP3": "ZZZ"})))(_use_device_target)


cli_case("sweep.workers_beyond_machine", ["sweep", "s.yaml", "--workers", "99999999999", "--no-progress"],
         setup=lambda d: (d / "s.yaml").write_text("model: gxnor_mnist\nknobs: {act_bits: [1, 2]}\n"),
         must_raise=True)
cli_case("sweep.output_is_a_fifo", ["sweep", "s.yaml", "-o", "out.csv", "--no-progress"],
         setup=lambda d: ((d / "s.yaml").write_text("model: gxnor_mnist\nknobs: {act_bits: [1, 2]}\n"),
                          os.mkfifo(d / "out.csv")), must_raise=True)
cli_case("sweep.knob_beyond_int64", ["sweep", "s.yaml", "--no-progress"],
         setup=lambda d: (d / "s.yaml").write_text("model: gxnor_mnist\nknobs: {filters: [" + "9" * 40 + "]}\n"),
         must_raise=True)


# ---------------------------------------------------------------------------------------------- report (h5)
@api_case("report.esc_newline_forges_compatible", "esc_forge.json")
def _(d):
    ak = _ak()
    cmp = ak.compare(_load("esc_forge.json"), ["nsoc_v2"])
    text = repr(cmp) + repr(cmp.reports[0])
    _no_raw(text, "\x1b", "\nComparison: all COMPATIBLE")


@api_case("report.surrogate_name", "surrogate_name.json")
def _(d):
    ak = _ak()
    cmp = ak.compare(_load("surrogate_name.json"), ["nsoc_v1", "nsoc_v2"])
    for text in (repr(cmp), cmp._repr_html_(), cmp.to_json(), cmp.reports[0]._repr_html_()):
        text.encode("utf-8")


@api_case("report.styler_html_from_target", "target_styler_html.yaml")
def _(d):
    ak = _ak()
    ak.register_target("target_styler_html.yaml")
    html = ak.style_differences(ak.compare_constraints("html_t", "nsoc_v2")).to_html()
    _no_raw(html, "<script>", "<img")


@api_case("report.from_json_bad", must_raise=True)
def _(d):
    _ak().CompatibilityReport.from_json("{bad")


@api_case("widgets.explorer_surrogate_name", "surrogate_name.json")
def _(d):
    from akida_nb.widgets import Explorer

    Explorer(_load("surrogate_name.json"))._repr_mimebundle_()


@api_case("widgets.explorer_target_string", must_raise=False)
def _(d):
    from akida_nb.widgets import Explorer

    Explorer(_ak().example("ds_cnn_kws"), target="nsoc_v1")


# ---------------------------------------------------------------------------------------------- plot (h5)
@api_case("plot.mathtext_names", "mathtext_name.json")
def _(d):
    import numpy as np

    ak = _ak()
    m = _load("mathtext_name.json")
    res = ak.Simulator(m, seed=0).run(np.zeros((1, *m.input_shape), np.uint8))
    for draw in (lambda: ak.plot.verdict_map(ak.compare(m, ["nsoc_v1", "nsoc_v2"])),
                 lambda: ak.plot.np_usage(ak.estimate_nps(m)), lambda: ak.plot.events(res),
                 lambda: ak.plot.activation_histograms(res), lambda: ak.plot.feature_maps(res, layer=0)):
        draw().savefig(io.BytesIO(), format="png")


@api_case("plot.feature_maps_layer_none", must_raise=True)
def _(d):
    _ak().plot.feature_maps(_sim_result(), layer=None)


@api_case("plot.staircase_act_bits_float", must_raise=True)
def _(d):
    _ak().plot.staircase(act_bits=2.5)


@api_case("plot.staircase_act_step_nan", must_raise=True)
def _(d):
    _ak().plot.staircase(act_step=math.nan)


@api_case("plot.events_none", must_raise=True)
def _(d):
    _ak().plot.events(None)


# ---------------------------------------------------------------------------------------------- sim (h4)
@api_case("sim.huge_batch", must_raise=True)
def _(d):
    import numpy as np

    ak = _ak()
    x = np.broadcast_to(np.zeros((1, 28, 28, 1), np.uint8), (2_000_000, 28, 28, 1))
    ak.Simulator(ak.example("gxnor_mnist"), seed=0).run(x)


@api_case("sim.ten_million_filters", must_raise=True)
def _(d):
    import numpy as np

    ak = _ak()
    m = ak.Model.from_dict({"input": {"shape": [8, 8, 64]}, "layers": [
        {"type": "Convolutional", "kernel_size": 3, "filters": 10_000_000, "padding": "same"}]})
    ak.Simulator(m, seed=0).run(np.zeros((1, 8, 8, 64), np.uint8))


@api_case("sim.seed_string", must_raise=True)
def _(d):
    ak = _ak()
    ak.Simulator(ak.example("gxnor_mnist"), seed="abc")


@api_case("sim.from_npz_missing", must_raise=True)
def _(d):
    _ak().Simulator.from_npz("missing.npz")


@api_case("sim.from_npz_not_npz", setup=garbage("x.npz"), must_raise=True)
def _(d):
    _ak().Simulator.from_npz("x.npz")


# ---------------------------------------------------------------------------------------------- api holes
def _hole(case_id, call):
    api_case(f"api.{case_id}", must_raise=True)(lambda d: call(_ak()))


_hole("load_model_none", lambda ak: ak.load_model(None))
_hole("from_yaml_int", lambda ak: ak.Model.from_yaml(5))
_hole("layer_99", lambda ak: ak.example("ds_cnn_kws").layer(99))
_hole("get_target_list", lambda ak: ak.get_target(["nsoc_v1"]))
_hole("check_target_list", lambda ak: ak.check(ak.example("ds_cnn_kws"), ["nsoc_v1"]))
_hole("compare_none", lambda ak: ak.compare(ak.example("ds_cnn_kws"), None))
_hole("example_path_traversal", lambda ak: ak.example("../../x"))
_hole("example_relative_path", lambda ak: ak.example("../models/ds_cnn_kws"))


# ---------------------------------------------------------------------------------------------- cli
cli_case("load.nested_list_json", ["check", "nested_list.json"], "nested_list.json", must_raise=True)
cli_case("load.nested_list_yaml", ["check", "nested_list.yaml"], "nested_list.yaml", must_raise=True)
cli_case("load.bigint_kernel_json", ["check", "bigint_kernel.json"], "bigint_kernel.json")
cli_case("load.bigint_shape_product", ["check", "bigint_shape_product.json", "-t", "akd1000"],
         "bigint_shape_product.json")
cli_case("load.billion_laughs_model_yaml", ["check", "billion_laughs_model.yaml"], "billion_laughs_model.yaml",
         must_raise=True)
cli_case("load.fifo_json", ["check", "m.json"], setup=fifo("m.json"), must_raise=True)
cli_case("load.dev_zero_json", ["check", "m.json"], setup=devzero("m.json"), must_raise=True)
cli_case("load.directory_json", ["check", "m.json"], setup=directory("m.json"), must_raise=True)
cli_case("load.shape_5m_items", ["check", "shape_5m.json"], setup=shape_5m, must_raise=True)
cli_case("load.duplicate_keys_json", ["check", "duplicate_keys.json"], "duplicate_keys.json", must_raise=True)
cli_case("load.binary_garbage_json", ["check", "m.json"], setup=garbage("m.json"), must_raise=True)
cli_case("load.empty_yaml", ["check", "m.yaml"], setup=garbage("m.yaml", b""), must_raise=True)
cli_case("load.keras_archive_not_a_zip", ["check", "m.keras"], setup=garbage("m.keras"), must_raise=True)
cli_case("load.keras_archive_nested", ["check", "k.keras"], setup=archive("k.keras", b"[" * 5000 + b"]" * 5000),
         must_raise=True)
cli_case("load.padding_value_out_of_range", ["check", "padding_value_out_of_range.json"],
         "padding_value_out_of_range.json", must_raise=True)
cli_case("keras.quant_bitwidth_str", ["check", "k.json"], setup=keras_with(_set_bitwidth("2")), must_raise=True)
cli_case("nps.check_akd1000_huge_input", ["check", "np_huge_input.json", "-t", "akd1000"], "np_huge_input.json")
cli_case("report.surrogate_name_text", ["check", "surrogate_name.json"], "surrogate_name.json")
cli_case("report.surrogate_name_json", ["check", "surrogate_name.json", "-f", "json"], "surrogate_name.json")
cli_case("report.surrogate_name_html", ["check", "surrogate_name.json", "-f", "html", "-o", "out.html"],
         "surrogate_name.json", output="out.html")
cli_case("report.esc_newline_forges_compatible", ["check", "esc_forge.json", "-t", "nsoc_v2"], "esc_forge.json",
         stdout_must_not=("\x1b", "\nComparison: all COMPATIBLE"))
cli_case("report.mathtext_names", ["check", "mathtext_name.json", "-f", "html"], "mathtext_name.json")
cli_case("api.missing_file", ["check", "nope.json"], must_raise=True)
cli_case("api.unknown_target", ["check", "ds_cnn_kws", "-t", "nsoc_v9"], must_raise=True)
cli_case("api.output_is_a_directory", ["check", "ds_cnn_kws", "-o", "."], must_raise=True)
cli_case("api.output_in_missing_directory", ["check", "ds_cnn_kws", "-o", "no/such/dir/r.txt"], must_raise=True)
cli_case("api.bad_option", ["check", "ds_cnn_kws", "--frobnicate"], must_raise=True)
cli_case("api.no_command", [], must_raise=True)
cli_case("api.version", ["--version"])
cli_case("api.example_traversal", ["check", "../../x"], must_raise=True)


# ---------------------------------------------------------------------------------------------- mutations
MODEL_TARGETS = ("nsoc_v1", "nsoc_v2", "akd1000")


def _exercise_model(path: str, fmt: str) -> dict:
    """Load a mutated model file, check it on every target, render every output, then run the CLI on it."""
    ak = _ak()
    from akida_nb.cli import main

    extra = {"loaded": False}
    try:
        model = ak.load_model(path)
    except ak.AkidaNbError:
        model = None
    if model is not None:
        extra["loaded"] = True
        cmp = ak.compare(model, MODEL_TARGETS)
        repr(model), repr(cmp), cmp._repr_html_(), cmp.to_json(), model.summary()
    with open(os.devnull, "w") as sink:
        import contextlib

        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(io.StringIO()) as err:
            code = main(["check", path, "--format", fmt])
    if code not in (0, 1, 2):
        raise WrongAnswer(f"CLI exit status {code}: {err.getvalue()[:200]}")
    return extra


def _exercise_target(path: str, fmt: str) -> dict:
    ak = _ak()
    extra = {"loaded": False}
    try:
        target = ak.register_target(path)
    except ak.AkidaNbError:
        return extra
    extra["loaded"] = True
    ak.targets()
    ak.constraints(target.name)
    for name in ("ds_cnn_kws", "gxnor_mnist"):
        rep = ak.check(ak.example(name), target.name)
        repr(rep), rep._repr_html_()
    ak.style_differences(ak.compare_constraints(target.name, "nsoc_v2")).to_html()
    return extra


SPECIAL_FILES: dict[str, Callable[[Path], None]] = {
    "fifo": lambda p: os.mkfifo(p),
    "dev_zero": lambda p: os.symlink("/dev/zero", p),
    "dev_null": lambda p: os.symlink("/dev/null", p),
    "directory": lambda p: p.mkdir(),
    "dangling_symlink": lambda p: os.symlink(p.with_name("nowhere"), p),
    "symlink_loop": lambda p: os.symlink(p.name, p),
    "unreadable": lambda p: (p.write_text("{}"), p.chmod(0)),
}
"""Special files put where a model or target file is expected (mutation strategy ``special``)."""


def prepare(request: dict, directory: Path) -> Callable[[], Any]:
    """Set up a request in ``directory`` (the current directory) and return the call to run."""
    if "case" in request:
        case = CASES[request["case"]]
        populate(case, directory)

        def job():
            result = case.run(directory)
            if case.must_raise:
                raise WrongAnswer("returned normally; an akida_nb error was expected")
            return result
        return job
    name = request["filename"]
    exercise = _exercise_target if request["mutation"] == "target" else _exercise_model
    if "special" in request:
        SPECIAL_FILES[request["special"]](directory / name)
        return lambda: exercise(name, request.get("format", "text"))
    data = request["data"]
    if name.endswith(".keras"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("metadata.json", '{"keras_version": "3.3.3"}')
            zf.writestr("config.json", data)
        data = buf.getvalue()
    (directory / name).write_bytes(data)
    return lambda: exercise(name, request.get("format", "text"))


# ---------------------------------------------------------------------------------------------- cli pipelines (h18)
# `akida-nb check` over several models (issue 17): globs, many files, bad paths, hostile JUnit names, malformed
# baselines. Subprocess cases are `cli.pipeline.*`; in-process cases (main([...]) in the forked worker) are
# `api.cli_pipeline.*` (their kind is "api": every `cli.` id runs as a subprocess).
def _pipeline_models(*names: str, into: str = ".") -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        from akida_nb.resources import model_path

        (d / into).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy(model_path(name), d / into / f"{name}.json")
    return setup


def _many_files(n: int, name: str = "m{:05d}.json") -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        for i in range(n):
            (d / name.format(i)).write_bytes(b"{}")
    return setup


def _setups(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        for s in setups:
            s(d)
    return setup


HOSTILE_NAMES = ('a&b<c>"\'.json', "x\x1b[32mOK\x07.json", "]]>&#0;.json")
"""File names that a JUnit or JSON report must escape (a lone surrogate comes from the undecodable one)."""


def _hostile_named(d: Path) -> None:
    from akida_nb.resources import model_path

    spec = json.loads(model_path("ds_cnn_kws").read_text(encoding="utf-8"))
    spec["name"] = 'm<&>"\x1b[31m\x00]]>'
    spec["layers"][0]["name"] = "conv</failure><x>\x07\n\ufffe"
    for name in HOSTILE_NAMES:
        (d / name).write_text(json.dumps(spec), encoding="utf-8")
    (d / os.fsdecode(b"u\xff.json")).write_bytes(b"{")


def _loop_tree(d: Path) -> None:
    """Two symbolic links back up in every folder: following them, ``**`` would walk 2**depth folders."""
    (d / "a").mkdir()
    (d / "a" / "m.json").write_bytes(b"{}")
    os.symlink("..", d / "a" / "up1")
    os.symlink("..", d / "a" / "up2")


def _main(*argv: str) -> tuple[int, str, str]:
    import contextlib

    from akida_nb.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _expect(result: tuple[int, str, str], code: int, *needles: str) -> None:
    got, out, err = result
    if got != code:
        raise WrongAnswer(f"exit status {got} where {code} was expected: {err[:200]}")
    if err.count("\n") > 1 or len(err) > 600:
        raise WrongAnswer(f"stderr of {len(err)} chars on {err.count(chr(10))} lines")
    for needle in needles:
        if needle not in out + err:
            raise WrongAnswer(f"{needle!r} not in the output")


cli_case("pipeline.glob_expanded_by_the_cli", ["check", "models/*.json", "-t", "nsoc_v2"],
         setup=_pipeline_models("ds_cnn_kws", "gxnor_mnist", into="models"))
cli_case("pipeline.glob_matches_nothing", ["check", "models/*.yaml"], setup=_pipeline_models("ds_cnn_kws",
         into="models"), must_raise=True)
cli_case("pipeline.over_max_models", ["check", "*.json"], setup=_many_files(10_001), must_raise=True)
cli_case("pipeline.symlink_loop_recursive_glob", ["check", "**/*.json"], setup=_loop_tree, must_raise=True)
cli_case("pipeline.special_files_among_models", ["check", "*.json", "ds_cnn_kws"],
         setup=_setups(fifo("f.json"), devzero("z.json"), directory("d.json"), garbage("g.json"),
                       lambda d: os.symlink("nowhere", d / "dangling.json")), must_raise=True)
cli_case("pipeline.junit_hostile_names", ["check", "*.json", "--junit", "out.xml"], setup=_hostile_named,
         output="out.xml", must_raise=True)
cli_case("pipeline.junit_into_a_directory", ["check", "ds_cnn_kws", "broken", "--junit", "."], must_raise=True)
cli_case("pipeline.baseline_fifo", ["check", "ds_cnn_kws", "--baseline", "b.json"], setup=fifo("b.json"),
         must_raise=True)
cli_case("pipeline.baseline_nested_list", ["check", "ds_cnn_kws", "broken", "--baseline", "nested_list.json"],
         "nested_list.json", must_raise=True)


@api_case("api.cli_pipeline.junit_hostile_names_well_formed", setup=_hostile_named, output="out.xml")
def _(d):
    import xml.etree.ElementTree as ET

    _expect(_main("check", "*.json", "--junit", "out.xml", "-t", "nsoc_v1"), 2, "u\\udcff.json")
    data = (d / "out.xml").read_bytes()
    text = data.decode("utf-8")
    root = ET.fromstring(data)
    names = {c.get("classname") for c in root.iter("testcase")}
    if not set(HOSTILE_NAMES[:1]) <= names or len(names) != 4 or root.get("errors") != "1":
        raise WrongAnswer(f"test cases {sorted(names)!r}")
    _no_raw(text, "\x1b", "\x07", "\x00", "\ufffe")


@api_case("api.cli_pipeline.json_and_text_of_hostile_names", setup=_hostile_named)
def _(d):
    code, out, _ = _main("check", "*.json", "-f", "json")
    files = [m["file"] for m in json.loads(out)["models"]]
    if code != 2 or len(files) != 4:
        raise WrongAnswer(f"exit {code}, files {files!r}")
    _no_raw(_main("check", "*.json")[1], "\x1b", "\x07", "\x00")


def _tiny_models(d: Path) -> None:
    model = {"input": {"shape": [4, 4, 1], "bits": 1},
             "layers": [{"type": "FullyConnected", "units": 2, "weights_bits": 1, "act_bits": 1}]}
    for i in range(300):
        (d / f"m{i:03d}.json").write_text(json.dumps(dict(model, name=f"m{i}")), encoding="utf-8")


@api_case("api.cli_pipeline.many_files_checked_in_one_call", setup=_tiny_models)
def _(d):
    code, out, _ = _main("check", "*.json", "-f", "json", "-t", "nsoc_v2")
    if code not in (0, 1) or len(json.loads(out)["models"]) != 300:
        raise WrongAnswer(f"exit {code}")


@api_case("api.cli_pipeline.bad_paths", setup=_pipeline_models("ds_cnn_kws"))
def _(d):
    _expect(_main("check", "ds_cnn_kws.json", "", "no/such/dir/*.json", "../" * 50 + "x.json", "-t", "nsoc_v2"),
            2, "no file matches", "ds_cnn_kws_v1")
    _expect(_main("check", "ds_cnn_kws.json", "a\x00b.json", "-t", "nsoc_v2"), 2, "NUL")
    _expect(_main("check", "[", "-t", "nsoc_v2"), 2)
    _expect(_main("check", "x" * 5000 + "*.json"), 2)


def _baseline_file(content: str) -> Callable[[Path], None]:
    return lambda d: (d / "b.json").write_text(content, encoding="utf-8")


for _name, _content in {
    "not_json": "{", "a_list": "[1]", "duplicate_keys": '{"kind": "Comparison", "kind": "Comparison"}',
    "wrong_types": '{"kind": "CheckRun", "schema_version": 1, "models": [{"file": 1, "status": [], "comparison": 5}]}',
    "newer_version": '{"kind": "CheckRun", "schema_version": 2, "models": []}',
    "bool_version": '{"kind": "CheckRun", "schema_version": true, "models": []}',
    "huge_int": '{"kind": "CheckRun", "schema_version": ' + "9" * 5000 + ', "models": []}',
    "missing_reports": '{"kind": "Comparison", "model_name": "m"}',
    "surrogate_layer": '{"kind": "Comparison", "model_name": "m", "reports": [{"target": "nsoc_v1", '
                       '"violations": [{"layer": "\\udfff", "rule": 3}]}]}',
}.items():
    api_case(f"api.cli_pipeline.baseline_{_name}", setup=_baseline_file(_content), must_raise=False)(
        lambda d: _expect(_main("check", "ds_cnn_kws", "broken", "--baseline", "b.json"), 2, "b.json"))


@api_case("api.cli_pipeline.baseline_with_hostile_names_still_matches", setup=_hostile_named, output="b.json")
def _(d):
    _expect(_main("check", *HOSTILE_NAMES, "-f", "json", "-o", "b.json"), 1)
    _expect(_main("check", *HOSTILE_NAMES, "--baseline", "b.json"), 0, "0 new violations")
