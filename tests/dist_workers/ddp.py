"""DistributedDataParallel on N ranks against one process training on the combined batch.

Every rank also trains a local reference copy on the whole batch (the single-process result),
so one launch checks both. Prints "[rank] ALL OK" at the end."""

import copy

import numpy as np
import rustgrad as rg
import rustgrad.distributed as dist
import rustgrad.nn as nn
import rustgrad.nn.functional as F
from rustgrad.nn.parallel import DistributedDataParallel as DDP

TOL = 1e-5


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.fc2 = nn.Linear(16, 3)
        self.register_buffer("steps", rg.zeros(1))

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.fc = nn.Linear(4 * 2 * 2, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        x = F.relu(self.conv2(x))
        return self.fc(x.flatten(1))


class Branchy(nn.Module):
    """``unused`` never takes part in forward."""

    def __init__(self):
        super().__init__()
        self.used = nn.Linear(6, 3)
        self.unused = nn.Linear(6, 3)

    def forward(self, x):
        return self.used(x)


def batch(step, shape, total):
    rs = np.random.default_rng(100 + step)
    x = rs.standard_normal((total,) + shape).astype(np.float32)
    y = rs.integers(0, 3, size=total)
    return rg.from_numpy(x), rg.from_numpy(y)


def close(a, b, what):
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        d = float(np.abs(pa.detach().numpy() - pb.detach().numpy()).max())
        assert d <= TOL, f"{what}: {na} differs by {d}"


def train(make, shape, r, n, steps=4, accumulate=False, **ddp_kw):
    rg.manual_seed(r)  # different initial weights per rank: DDP must broadcast rank 0's
    model = make()
    ddp = DDP(model, **ddp_kw)
    ref = copy.deepcopy(model)
    opt = rg.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ropt = rg.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    per = 4
    for step in range(steps):
        micro = [batch(10 * step + k, shape, per * n) for k in range(2 if accumulate else 1)]
        opt.zero_grad()
        for k, (x, y) in enumerate(micro):
            xs, ys = x[r * per:(r + 1) * per], y[r * per:(r + 1) * per]
            if accumulate and k == 0:
                with ddp.no_sync():
                    F.cross_entropy(ddp(xs), ys).backward()
                # still local: gradients differ across ranks until the synced backward
            else:
                F.cross_entropy(ddp(xs), ys).backward()
        opt.step()
        ropt.zero_grad()
        for x, y in micro:
            F.cross_entropy(ref(x), y).backward()
        ropt.step()
        close(ddp.module, ref, f"{make.__name__} step {step} accumulate={accumulate} {ddp_kw}")
    return ddp


def main():
    dist.init_process_group("gloo")  # a PyTorch script's backend name runs on MPI too
    r, n = dist.get_rank(), dist.get_world_size()

    ddp = train(MLP, (6,), r, n)
    assert all(k.startswith("module.") for k in ddp.state_dict()), list(ddp.state_dict())
    assert "module.steps" in ddp.state_dict() and isinstance(ddp.module, MLP)
    # a tiny cap: one bucket per parameter, so several all-reduces overlap backward
    train(MLP, (6,), r, n, bucket_cap_mb=1e-6)
    train(MLP, (6,), r, n, accumulate=True)
    train(MLP, (6,), r, n, gradient_as_bucket_view=True, accumulate=True)
    train(CNN, (1, 8, 8), r, n)
    train(CNN, (1, 8, 8), r, n, accumulate=True, bucket_cap_mb=1e-4)

    # buffers come from rank 0
    rg.manual_seed(r)
    m = MLP()
    m.steps.fill_(float(r + 5))
    d = DDP(m)
    assert float(d.module.steps.item()) == 5.0
    w = d.module.fc1.weight.detach().clone()
    dist.broadcast(w, 0)
    assert np.array_equal(w.numpy(), d.module.fc1.weight.detach().numpy()), "parameters not broadcast at construction"

    # find_unused_parameters: the unused layer keeps grad None, the rest is averaged
    rg.manual_seed(r)
    bm = Branchy()
    bd = DDP(bm, find_unused_parameters=True)
    bref = copy.deepcopy(bm)
    for step in range(2):
        x, y = batch(step, (6,), 4 * n)
        bd.zero_grad()
        F.cross_entropy(bd(x[4 * r:4 * r + 4]), y[4 * r:4 * r + 4]).backward()
        bref.zero_grad()
        F.cross_entropy(bref(x), y).backward()
        assert bd.module.unused.weight.grad is None
        g, rg_ = bd.module.used.weight.grad.numpy(), bref.used.weight.grad.numpy()
        assert np.abs(g - rg_).max() <= TOL, (step, np.abs(g - rg_).max(), g, rg_)

    # without it, an unused parameter is reported at the next forward, as in PyTorch
    rg.manual_seed(0)
    bd2 = DDP(Branchy())
    x, y = batch(0, (6,), 4)
    F.cross_entropy(bd2(x), y).backward()
    try:
        bd2(x)
    except RuntimeError as e:
        assert "Expected to have finished reduction in the prior iteration" in str(e)
    else:
        raise AssertionError("unused parameter not reported")

    # ranks holding different models are refused
    try:
        DDP(MLP() if r == 0 else CNN())
    except RuntimeError as e:
        assert "DDP expects same model across all ranks" in str(e), e
    else:
        raise AssertionError("mismatched models not detected")
    dist.barrier()
    print(f"[{r}] ALL OK", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
