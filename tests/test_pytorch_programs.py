"""PyTorch programs (examples/pytorch/, written against torch's API with an import switch) run
briefly under rustgrad; where PyTorch is installed the same program also runs under torch and
the final losses must be in the same range."""

import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import rustgrad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = os.path.join(ROOT, "examples", "pytorch")
FASHION = "/usr/share/datasets/fashion-mnist"
HAS_FASHION = os.path.exists(os.path.join(FASHION, "train-images-idx3-ubyte.gz")) or os.path.exists(
    os.path.join(FASHION, "train-images-idx3-ubyte")
)
needs_fashion = pytest.mark.skipif(not HAS_FASHION, reason="Fashion-MNIST not installed")

try:
    import importlib.util

    HAS_TORCH = importlib.util.find_spec("torch") is not None
except Exception:  # pragma: no cover
    HAS_TORCH = False


def run_program(name, *args, backend="rustgrad", timeout=600):
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(rustgrad.__file__)))
    env = dict(os.environ, PYTHONPATH=pkg_parent, RUSTGRAD_PROGRAM_BACKEND=backend, MPLBACKEND="Agg")
    res = subprocess.run([sys.executable, os.path.join(PROGRAMS, name), *args], capture_output=True, text=True,
                         timeout=timeout, env=env, cwd=PROGRAMS)
    assert res.returncode == 0, f"{name} ({backend}) failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


def final_loss(out):
    m = re.search(r"final loss:\s*([-+0-9.eE]+|nan|inf)", out)
    assert m, f"no 'final loss' line in output:\n{out[-2000:]}"
    return float(m.group(1))


# name, arguments, (low, high) range the rustgrad loss must fall in, allowed ratio to torch's loss
CASES = {
    "polynomial_regression": ("polynomial_regression.py", ["--steps", "3000"], (0.0, 1e-3), None),
    "time_sequence_prediction": ("time_sequence_prediction.py", ["--dry-run"], (0.0, 0.3), 4.0),
    "vae": ("vae.py", ["--dry-run"], (300.0, 600.0), 1.2),
    "dcgan_fakedata": ("dcgan.py", ["--dry-run"], (0.5, 6.0), 1.5),
    "dcgan_fashion": ("dcgan.py", ["--dry-run", "--dataset", "fashion-mnist"], (0.5, 6.0), 1.5),
    "word_lm_lstm": ("word_language_model.py", ["--dry-run", "--model", "LSTM"], (1.0, 4.0), 1.3),
    "word_lm_transformer": ("word_language_model.py", ["--dry-run", "--model", "Transformer"], (1.0, 4.0), 1.3),
    "siamese_network": ("siamese_network.py", ["--dry-run"], (0.3, 1.0), 1.3),
    "forward_forward": ("forward_forward.py", ["--dry-run"], (0.1, 1.5), 1.3),
}
USES_FASHION = {"vae", "dcgan_fashion", "siamese_network", "forward_forward"}


def _args(key, tmp_path):
    script, args, _, _ = CASES[key]
    args = list(args)
    if script in ("vae.py", "dcgan.py"):
        args += ["--out", str(tmp_path / "images")]
    if script == "word_language_model.py":
        args += ["--data", str(tmp_path / "corpus")]
    return script, args


_OURS = {}  # key -> rustgrad's final loss, so the torch comparison need not rerun our side


def _ours(key, tmp_path):
    if key not in _OURS:
        script, args = _args(key, tmp_path)
        _OURS[key] = final_loss(run_program(script, *args))
    return _OURS[key]


def _check_skip(key):
    if key in USES_FASHION and not HAS_FASHION:
        pytest.skip("Fashion-MNIST not installed")


@pytest.mark.parametrize("key", list(CASES))
def test_program_runs_under_rustgrad(key, tmp_path):
    _check_skip(key)
    loss = _ours(key, tmp_path)
    lo, hi = CASES[key][2]
    assert math.isfinite(loss) and lo <= loss <= hi, f"{key}: final loss {loss} outside [{lo}, {hi}]"


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("key", list(CASES))
def test_program_loss_in_torchs_range(key, tmp_path):
    _check_skip(key)
    ours = _ours(key, tmp_path)
    script, args = _args(key, tmp_path)
    theirs = final_loss(run_program(script, *args, backend="torch"))
    ratio = CASES[key][3]
    if ratio is None:  # both must reach the same convergence threshold
        lo, hi = CASES[key][2]
        assert lo <= theirs <= hi and lo <= ours <= hi, (ours, theirs)
    else:
        assert theirs / ratio <= ours <= theirs * ratio, f"{key}: rustgrad {ours} vs torch {theirs}"


@needs_fashion
def test_vae_writes_sample_grids(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    run_program("vae.py", "--dry-run", "--out", str(tmp_path))
    sample = np.asarray(Image.open(tmp_path / "sample_1.png"))
    assert sample.shape == (8 * 30 + 2, 8 * 30 + 2, 3)  # 64 digits, 8 a row, padding 2
    recon = np.asarray(Image.open(tmp_path / "reconstruction_1.png"))
    assert recon.shape == (2 * 30 + 2, 8 * 30 + 2, 3)  # 8 originals over their 8 reconstructions
    assert sample.std() > 0 and recon.std() > 0


def test_dcgan_writes_normalized_fakes(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    run_program("dcgan.py", "--dry-run", "--out", str(tmp_path))
    fake = np.asarray(Image.open(tmp_path / "fake_samples_epoch_000.png"))
    assert fake.shape == (8 * 18 + 2, 8 * 18 + 2, 3)
    assert fake.max() == 255  # normalize=True stretches each grid to the full range


def test_backend_switch_refuses_unknown_backend():
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(rustgrad.__file__)))
    env = dict(os.environ, PYTHONPATH=pkg_parent, RUSTGRAD_PROGRAM_BACKEND="jax")
    res = subprocess.run([sys.executable, os.path.join(PROGRAMS, "polynomial_regression.py"), "--dry-run"],
                         capture_output=True, text=True, env=env, cwd=PROGRAMS, timeout=120)
    assert res.returncode != 0 and "must be 'rustgrad' or 'torch'" in res.stderr
