"""`rustgrad.show_config()` and `python -m rustgrad`: the bug-report header tells the truth about the
build and the machine."""

import io
import os
import subprocess
import sys

import pytest
import rustgrad


def _cpuinfo_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def test_config_dict_matches_the_machine():
    c = rustgrad._config.config_dict()
    assert c["version"] == rustgrad.__version__
    assert c["threads"] == rustgrad.get_num_threads()
    assert c["profile"] in ("debug", "release")
    flags = _cpuinfo_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo")
    # Run-time detection must agree with what the kernel reports for this CPU, both ways.
    for feat, flag in [("avx2", "avx2"), ("fma", "fma"), ("avx512f", "avx512f"), ("f16c", "f16c")]:
        assert (feat in c["cpu_features"]) == (flag in flags), feat
    path = c["simd_path"]
    if os.environ.get("RUSTGRAD_SIMD") is None:
        expected = "Avx512" if {"avx512f", "avx512vl"} <= flags else "Avx2Fma" if {"avx2", "fma"} <= flags else "Portable"
        assert path == expected


def test_show_config_prints_the_report():
    buf = io.StringIO()
    rustgrad.show_config(file=buf)
    out = buf.getvalue()
    assert out.startswith(f"rustgrad {rustgrad.__version__}")
    assert f"threads: {rustgrad.get_num_threads()}" in out
    if rustgrad.wgpu.is_available():
        assert rustgrad.wgpu.get_device_name() in out
    else:
        assert "none found" in out


def test_python_dash_m_rustgrad():
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(rustgrad.__file__)))
    env = dict(os.environ, PYTHONPATH=pkg_parent)
    res = subprocess.run([sys.executable, "-m", "rustgrad"], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("rustgrad ")
    assert "features detected:" in res.stdout


@pytest.mark.skipif(os.environ.get("RUSTGRAD_EXPECT_WHEEL") != "1", reason="not running against the built wheel")
def test_suite_runs_against_the_installed_abi3_wheel():
    # scripts/test.sh sets RUSTGRAD_EXPECT_WHEEL=1: the package under test must be the venv's
    # installed wheel (stable-ABI extension), not the checkout's python/ directory.
    repo_python = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")
    assert not os.path.abspath(rustgrad.__file__).startswith(repo_python + os.sep)
    assert "site-packages" in rustgrad.__file__
    assert rustgrad._config.config_dict()["abi3"]
    assert rustgrad._config.config_dict()["profile"] == "release"
