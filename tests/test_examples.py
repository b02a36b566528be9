"""Run the example programs end to end (tiny settings) as subprocesses and check their metrics."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import rustgrad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
FASHION = "/usr/share/datasets/fashion-mnist"

needs_nn_optim = pytest.mark.skipif(
    not (hasattr(rustgrad.nn, "Linear") and hasattr(rustgrad.optim, "SGD")),
    reason="rustgrad.nn / rustgrad.optim not available in this build",
)


def run_example(name, *args, timeout=300):
    # Run against the same rustgrad this test process imported (installed or a dev build).
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(rustgrad.__file__)))
    env = dict(os.environ, PYTHONPATH=pkg_parent, MPLBACKEND="Agg")
    res = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert res.returncode == 0, f"{name} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


def metric(out, label):
    m = re.search(rf"{label}:\s*([-+0-9.eE]+)", out)
    assert m, f"no '{label}' line in output:\n{out[-2000:]}"
    return float(m.group(1))


@pytest.mark.parametrize(
    "name",
    [
        "linear_regression.py",
        "logistic_regression.py",
        "softmax_regression.py",
        "mlp.py",
        "cnn.py",
        "best_practices.py",
    ],
)
def test_help(name):
    out = run_example(name, "--help", timeout=60)
    for opt in ("--epochs", "--batch-size", "--lr", "--data", "--seed"):
        assert opt in out


def test_logistic_regression_core_api():
    out = run_example("logistic_regression.py", "--epochs", "30", "--samples", "400")
    assert metric(out, "final accuracy") > 0.9


@needs_nn_optim
def test_linear_regression():
    out = run_example("linear_regression.py", "--epochs", "8", "--samples", "256")
    assert metric(out, "final MSE") < 0.01


def _write_idx(path, arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + np.array(arr.shape, dtype=">i4").tobytes()
    with open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def _synthetic_mnist(folder, n_train=300, n_test=100):
    """Easy 10-class images: class k lights up a 6x6 block at a class-specific place."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        imgs = rng.integers(0, 40, (n, 28, 28))
        for i, k in enumerate(labels):
            r, c = divmod(int(k), 5)
            imgs[i, 4 + 12 * r : 10 + 12 * r, 2 + 5 * c : 8 + 5 * c] = 255
        _write_idx(os.path.join(folder, f"{split}-images-idx3-ubyte"), imgs)
        _write_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte"), labels)


@needs_nn_optim
@pytest.mark.parametrize("name", ["softmax_regression.py", "mlp.py"])
def test_dense_models_synthetic(tmp_path, name):
    _synthetic_mnist(str(tmp_path))
    out = run_example(
        name, "--data", str(tmp_path), "--epochs", "3", "--batch-size", "32", "--num-workers", "2"
    )
    assert metric(out, "final test accuracy") > 0.8


@needs_nn_optim
def test_cnn_smoke_synthetic(tmp_path):
    _synthetic_mnist(str(tmp_path))
    out = run_example(
        "cnn.py",
        "--data",
        str(tmp_path),
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--lr",
        "0.05",
        "--momentum",
        "0.9",
        "--num-workers",
        "2",
    )
    assert metric(out, "final test accuracy") > 0.5


@needs_nn_optim
@pytest.mark.skipif(not os.path.isdir(FASHION), reason="Debian's dataset-fashion-mnist not installed")
def test_cnn_smoke_fashion_mnist():
    out = run_example("cnn.py", "--limit", "300", "--test-limit", "200", "--epochs", "1")
    assert 0.0 <= metric(out, "final test accuracy") <= 1.0


@needs_nn_optim
def test_best_practices_checkpoint_resume(tmp_path):
    _synthetic_mnist(str(tmp_path))
    ckpt = str(tmp_path / "ckpt.pt")
    common = ["--data", str(tmp_path), "--batch-size", "32", "--checkpoint", ckpt, "--limit", "200"]
    out1 = run_example("best_practices.py", *common, "--epochs", "1")
    assert os.path.exists(ckpt)
    state = rustgrad.load(ckpt)
    assert state["epoch"] == 1 and "param_groups" in state["optimizer"]
    out2 = run_example("best_practices.py", *common, "--epochs", "2", "--resume")
    assert "resumed from" in out2 and "epoch 2:" in out2 and "epoch 1:" not in out2
    assert 0.0 <= metric(out1, "final test accuracy") <= 1.0
    assert rustgrad.load(ckpt)["epoch"] == 2


@needs_nn_optim
@pytest.mark.skipif(not os.path.isdir(FASHION), reason="dataset-fashion-mnist is not installed")
@pytest.mark.parametrize("name,limit", [("mlp.py", "3000"), ("cnn.py", "3000")])
def test_examples_train_on_wgpu_like_on_the_cpu(name, limit):
    if not rustgrad.wgpu.is_available():
        if os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1":
            pytest.fail("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")
        pytest.skip("no wgpu adapter")
    common = ("--epochs", "1", "--limit", limit, "--test-limit", "500", "--batch-size", "32", "--lr", "0.05")
    acc = {d: metric(run_example(name, *common, "--device", d, timeout=900), "final test accuracy")
           for d in ("cpu", "wgpu")}
    # Same data order and initial weights; only the dropout streams differ between the devices.
    assert acc["wgpu"] > 0.6, acc
    assert abs(acc["wgpu"] - acc["cpu"]) < 0.08, acc
