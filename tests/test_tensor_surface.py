"""Tensor's Python surface is defined once: every public name has a docstring, the ``.pyi`` stub
lists exactly what exists, the unary-op list drives functions and methods, import order does not
matter, and the flags/``where`` PyTorch programs use behave as in PyTorch."""

import ast
import inspect
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import rustgrad as rg
from rustgrad import _tensor_methods
from rustgrad._unary_ops import UNARY_OPS

ROOT = pathlib.Path(__file__).resolve().parent.parent
STUB = ROOT / "python" / "rustgrad" / "_rustgrad.pyi"


def _public():
    return sorted(n for n in dir(rg.Tensor) if not n.startswith("_"))


def _stub_tensor_names():
    tree = ast.parse(STUB.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor")
    names = set()
    for node in cls.body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
    return names


def test_every_public_name_has_a_docstring():
    missing = []
    for name in _public():
        raw = inspect.getattr_static(rg.Tensor, name)
        doc = getattr(raw, "__doc__", None)
        # A plain data attribute's __doc__ is its type's; a descriptor or function has its own.
        if not doc or doc == type(raw).__doc__:
            missing.append(name)
    assert not missing, f"Tensor names without a docstring: {missing}"


def test_stub_lists_exactly_the_public_names():
    stub = {n for n in _stub_tensor_names() if not n.startswith("_")}
    public = set(_public())
    assert not public - stub, f"in dir(Tensor) but not in the .pyi: {sorted(public - stub)}"
    assert not stub - public, f"in the .pyi but not on Tensor: {sorted(stub - public)}"


def test_stub_is_what_the_generator_writes():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_tensor_stub
    finally:
        sys.path.pop(0)
    assert gen_tensor_stub.updated_stub(rg.Tensor) == STUB.read_text(), \
        "python/rustgrad/_rustgrad.pyi is stale: run scripts/gen_tensor_stub.py"


def test_stub_has_no_catch_all_getattr():
    # A class-level __getattr__ in the stub would make every misspelled method type-check.
    assert "__getattr__" not in _stub_tensor_names()


def test_help_tells_the_truth():
    assert "sum over" in rg.Tensor.sum.__doc__
    assert "out=" in inspect.signature(rg.add).parameters["out"].name + "="
    assert rg.Tensor.where.__doc__.startswith("``where(condition, y)``")
    assert list(inspect.signature(rg.Tensor.clamp).parameters) == ["self", "min", "max"]


def test_methods_come_from_the_surface_package():
    table = _tensor_methods.methods()
    for name, value in table.items():
        assert inspect.getattr_static(rg.Tensor, name) is value, name


def test_no_module_assigns_tensor_attributes_outside_the_surface():
    pkg = ROOT / "python" / "rustgrad"
    offenders = []
    for path in pkg.rglob("*.py"):
        if path.parent.name == "_tensor_methods" or path.name == "_fallback.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, (ast.Name, ast.Attribute)) \
                        and getattr(t.value, "id", getattr(t.value, "attr", None)) == "Tensor":
                    offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr" and node.args \
                    and getattr(node.args[0], "id", getattr(node.args[0], "attr", None)) == "Tensor":
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders


def test_import_order_does_not_matter():
    # The family modules no longer patch the class at import, so importing them first (in any
    # order) and the package afterwards gives the same surface.
    code = ("import rustgrad._linalg, rustgrad._indexing, rustgrad._shape, rustgrad._reduce, rustgrad._functional\n"
            "import rustgrad as rg\n"
            "print(len([n for n in dir(rg.Tensor) if not n.startswith('_')]))")
    # The rustgrad under test (the installed wheel in CI), not the checkout's python/.
    env = {"PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(rg.__file__)))}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert int(r.stdout.strip()) == len(_public())


@pytest.mark.parametrize("name", UNARY_OPS)
def test_unary_list_drives_function_method_and_inplace(name):
    x = rg.tensor([0.25, 0.5, 2.0])
    f = getattr(rg, name)(x)
    m = getattr(x, name)()
    np.testing.assert_allclose(f.numpy(), m.numpy())
    y = x.clone()
    assert getattr(y, name + "_")() is y
    np.testing.assert_allclose(y.numpy(), f.numpy(), rtol=1e-6)
    assert getattr(rg, name).__doc__ and getattr(rg.Tensor, name).__doc__ and getattr(rg.Tensor, name + "_").__doc__


def test_device_flags():
    t = rg.ones(2)
    assert (t.is_cuda, t.is_xpu, t.is_mps, t.is_meta, t.is_sparse, t.is_quantized) == (False,) * 6
    assert t.is_cpu


def test_flags_match_torch():
    torch = pytest.importorskip("torch", exc_type=ImportError)
    t, u = rg.ones(2), torch.ones(2)
    for flag in ("is_cuda", "is_xpu", "is_mps", "is_meta", "is_sparse", "is_quantized", "is_cpu"):
        assert getattr(t, flag) == getattr(u, flag), flag


def test_where_method():
    a = np.array([[1.0, -2.0], [3.0, -4.0]], dtype=np.float32)
    x = rg.tensor(a)
    r = x.where(x > 0, rg.zeros(2, 2))
    np.testing.assert_array_equal(r.numpy(), np.where(a > 0, a, 0))
    np.testing.assert_array_equal(x.where(x < 0, 7.0).numpy(), np.where(a < 0, a, 7.0))


def test_where_method_matches_torch_and_gradient():
    torch = pytest.importorskip("torch", exc_type=ImportError)
    a = np.array([1.0, -2.0, 3.0], dtype=np.float64)
    x = rg.tensor(a).requires_grad_()
    xt = torch.tensor(a, requires_grad=True)
    r = x.where(x > 0, -x * 2)
    rt = xt.where(xt > 0, -xt * 2)
    np.testing.assert_allclose(r.detach().numpy(), rt.detach().numpy())
    r.sum().backward()
    rt.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


def test_where_method_gradcheck():
    x = rg.tensor([1.0, -2.0, 3.0], dtype=rg.float64).requires_grad_()
    y = rg.tensor([0.5, 0.25, -1.0], dtype=rg.float64).requires_grad_()
    assert rg.autograd.gradcheck(lambda a, b: a.where(a > 0, b), (x, y))


def test_resize_():
    t = rg.arange(6.0)
    p = t.data_ptr()
    assert t.resize_(2, 3) is t and tuple(t.shape) == (2, 3) and t.data_ptr() == p
    np.testing.assert_array_equal(t.numpy(), np.arange(6.0).reshape(2, 3))
    t.resize_(4)
    np.testing.assert_array_equal(t.numpy(), np.arange(4.0))
    t.resize_(0)
    assert t.numel() == 0
    with pytest.raises(RuntimeError, match="negative dimension"):
        t.resize_(-1)
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        rg.ones(2, requires_grad=True).resize_(3)
