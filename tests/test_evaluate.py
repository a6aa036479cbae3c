"""Dataset evaluation in this process: aggregates equal the simulator's, whatever the batching."""
import numpy as np
import pytest

import akida_nb as ak

MNIST = ak.example("gxnor_mnist")
KWS = ak.example("ds_cnn_kws")


def data(model, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << model.input_bits, (n, *model.input_shape), dtype=np.uint8)
    y = rng.integers(0, int(np.prod(model.output_shape)), n)
    return x, y


@pytest.mark.parametrize("model", [MNIST, KWS], ids=lambda m: m.name)
def test_aggregates_equal_one_simulator_run(model):
    x, y = data(model, 23)
    out = ak.evaluate(model, x, labels=y, batch_size=5, progress=False)
    res = ak.Simulator(model, seed=0).run(x)
    assert out.samples == 23
    assert out.events["events"].tolist() == res.events["events"].tolist()
    assert out.events["possible"].tolist() == res.events["possible"].tolist()
    assert np.allclose(out.sparsity.to_numpy(), res.events["sparsity"].to_numpy())
    scores = (res.predict if res.predict is not None else res.output).reshape(23, -1)
    predicted = scores.argmax(axis=1)
    assert out.accuracy == np.mean(predicted == y)
    assert out.predictions.tolist() == np.bincount(predicted, minlength=scores.shape[1]).tolist()
    values, counts = np.unique(res.output, return_counts=True)
    assert out.histogram.index.tolist() == values.tolist() and out.histogram.tolist() == counts.tolist()


def test_same_result_for_every_batching_and_kind_of_dataset():
    x, y = data(MNIST, 30, seed=3)
    ref = ak.evaluate(MNIST, x, labels=y, progress=False)
    for size in (1, 7, 30, 1000):
        assert ak.evaluate(MNIST, x, labels=y, batch_size=size, progress=False) == ref
    assert ak.evaluate(MNIST, (x[i:i + 4] for i in range(0, 30, 4)), labels=y, progress=False) == ref
    assert ak.evaluate(MNIST, [(x[i:i + 9], y[i:i + 9]) for i in range(0, 30, 9)], progress=False) == ref
    without = ak.evaluate(MNIST, x, progress=False)
    assert without.accuracy is None and without.layer_events == ref.layer_events


def test_given_variables_and_seeds():
    x, _ = data(MNIST, 6)
    sim = ak.Simulator(MNIST, seed=5)
    a = ak.evaluate(MNIST, x, variables=sim.variables, progress=False)
    assert a == ak.evaluate(MNIST, x, seed=5, progress=False)
    assert list(a.layer_events) == sim.run(x).events["events"].tolist()
    assert a != ak.evaluate(MNIST, x, seed=6, progress=False)


@pytest.mark.parametrize("dataset, labels, error, fragment", [
    ("images", None, ak.SpecError, "dataset"),
    (np.zeros((2, 28, 28), np.uint8), None, ak.SimulationError, "shape"),
    (np.zeros((2, 27, 28, 1), np.uint8), None, ak.SimulationError, "input"),
    (np.full((2, 28, 28, 1), 300, np.int32), None, ak.SimulationError, "input"),
    (np.zeros((2, 28, 28, 1), np.uint8), np.zeros(3, int), ak.SpecError, "labels"),
    (np.zeros((2, 28, 28, 1), np.uint8), np.zeros(2, float), ak.SpecError, "labels"),
    (np.zeros((0, 28, 28, 1), np.uint8), None, ak.SpecError, "empty"),
    ([np.zeros((1, 28, 28, 1), np.uint8), (np.zeros((1, 28, 28, 1), np.uint8), np.zeros(1, int))], None,
     ak.SpecError, "labels"),
])
def test_bad_datasets_are_typed_one_line_errors(dataset, labels, error, fragment):
    with pytest.raises(error) as e:
        ak.evaluate(MNIST, dataset, labels=labels, progress=False)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_bad_arguments():
    x, _ = data(MNIST, 2)
    with pytest.raises(ak.SpecError, match="batch_size"):
        ak.evaluate(MNIST, x, batch_size=0)
    with pytest.raises(ak.SpecError, match="Client"):
        ak.evaluate(MNIST, x, client="localhost:8786", progress=False)
    with pytest.raises(ak.SpecError, match="model"):
        ak.evaluate(MNIST.to_dict(), x)
