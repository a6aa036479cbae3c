"""Sweeps and evaluation on a real dask.distributed LocalCluster (2 worker processes on 127.0.0.1) equal in-process.

Needs the ``dask`` extra; CI installs it and fails on a skip (AKIDA_NB_REQUIRE_EXTRAS=1).
"""
import argparse

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

from distributed import Client, LocalCluster  # noqa: E402

import akida_nb as ak  # noqa: E402
from akida_nb import cli_sweep  # noqa: E402

pytestmark = [pytest.mark.dask, pytest.mark.slow]

KWS = ak.example("ds_cnn_kws")
MNIST = ak.example("gxnor_mnist")


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as c:
        yield c


def test_sweep_on_the_cluster_equals_in_process(client):
    space = ak.Space(KWS, filters=[32, 64, 128], weights_bits=[1, 2, 4], act_bits=[1, 4],
                     layers={"conv_0": {"kernel_size": [3, 60], "padding": ["same", "valid"]}})
    targets = ak.targets()["name"].tolist()
    ref = ak.sweep(space, targets, progress=False)
    assert ref["error"].notna().any() and ref["ok"].any()  # invalid and fitting variants both present
    for size in (None, 1, 7):
        pd.testing.assert_frame_equal(ak.sweep(space, targets, client=client, chunk_size=size, progress=False), ref)


def test_sampled_sweep_and_callback_on_the_cluster(client):
    def build(spec, values):
        spec["layers"][-1]["units"] = 10
        return spec

    space = ak.Space(KWS, filters=list(range(8, 129, 8)), kernel_size=[3, 5, 7], build=build).sample(25, seed=9)
    ref = ak.sweep(space, ["akd1000"], progress=False)
    pd.testing.assert_frame_equal(ak.sweep(space, ["akd1000"], client=client, progress=False), ref)


def test_workers_receive_plain_dicts(client):
    space = ak.Space(KWS, filters=[32])
    payload = space._payload()
    assert type(payload["base"]) is dict and payload["base"] == KWS.to_dict()


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8), rng.integers(0, 10, n))


def test_evaluate_on_the_cluster_equals_in_process(client):
    x, y = data(70)
    ref = ak.evaluate(MNIST, x, labels=y, progress=False)
    assert ak.evaluate(MNIST, x, labels=y, client=client, batch_size=9, progress=False) == ref
    assert ak.evaluate(MNIST, ((x[i:i + 6], y[i:i + 6]) for i in range(0, 70, 6)), client=client,
                       progress=False) == ref
    dx = da.from_array(x, chunks=(16, 14, 28, 1))
    dy = da.from_array(y, chunks=11)
    assert ak.evaluate(MNIST, dx, labels=dy, client=client, progress=False) == ref
    assert ak.evaluate(MNIST, dx, labels=y, progress=False) == ref  # a dask array without a client: block by block


def test_evaluate_errors_come_back_typed(client):
    with pytest.raises(ak.SimulationError):
        ak.evaluate(MNIST, np.zeros((3, 28, 28, 2), np.uint8), client=client, progress=False)


def test_cli_with_local_workers_equals_in_process(tmp_path, capsys):
    p = tmp_path / "space.yaml"
    p.write_text("model: ds_cnn_kws\nknobs: {filters: [32, 64], act_bits: [1, 2, 4]}\ntargets: [akd1000, nsoc_v2]\n")
    outs = []
    for extra in ([], ["--workers", "2"]):
        parser = argparse.ArgumentParser(prog="akida-nb")
        cli_sweep.add_parser(parser.add_subparsers(dest="command"))
        out = tmp_path / f"out{len(outs)}.csv"
        args = parser.parse_args(["sweep", str(p), "-o", str(out), "--no-progress", *extra])
        assert args.func(args) == 0
        outs.append(pd.read_csv(out))
    pd.testing.assert_frame_equal(outs[0], outs[1])


def test_cli_scheduler_address(client, tmp_path):
    p = tmp_path / "space.yaml"
    p.write_text("model: ds_cnn_kws\nknobs: {filters: [32, 64]}\n")
    parser = argparse.ArgumentParser(prog="akida-nb")
    cli_sweep.add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "o.csv"
    args = parser.parse_args(["sweep", str(p), "-o", str(out), "--no-progress", "--scheduler",
                              client.scheduler.address])
    assert args.func(args) == 0
    assert len(pd.read_csv(out)) == 4


def test_cli_unreachable_scheduler_exits_2(tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = tmp_path / "space.yaml"
    p.write_text("model: ds_cnn_kws\nknobs: {filters: [32]}\n")
    parser = argparse.ArgumentParser(prog="akida-nb")
    cli_sweep.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sweep", str(p), "--no-progress", "-o", str(tmp_path / "o.csv"), "--scheduler",
                              f"tcp://127.0.0.1:{port}"])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "--scheduler" in err and "Traceback" not in err
