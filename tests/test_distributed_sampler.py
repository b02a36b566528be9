"""DistributedSampler: PyTorch's algorithm, index streams compared with torch's."""

import math

import pytest
import rustgrad as rg
from rustgrad.utils.data import DistributedSampler


def shards(n, replicas, **kw):
    return [list(DistributedSampler(range(n), num_replicas=replicas, rank=r, **kw)) for r in range(replicas)]


@pytest.mark.parametrize("n,replicas", [(10, 2), (10, 3), (7, 4), (3, 5), (16, 4), (1, 3)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_streams_equal_torch_without_shuffle(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    for r in range(replicas):
        ours = DistributedSampler(range(n), num_replicas=replicas, rank=r, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), num_replicas=replicas, rank=r, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    del torch


@pytest.mark.parametrize("n,replicas", [(10, 2), (10, 3), (7, 4), (3, 5), (100, 8)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_streams_follow_torchs_algorithm(n, replicas, drop_last):
    """Shards are the permutation from seed+epoch, padded or cut, strided by rank. Compared with
    torch's sampler directly once rustgrad.randperm draws torch's stream for the seed (the RNG
    work in progress), and with the algorithm applied to rustgrad's permutation always."""
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    seed, epoch = 3, 2
    g = rg.Generator()
    g.manual_seed(seed + epoch)
    perm = rg.randperm(n, generator=g).tolist()
    tg = torch.Generator()
    tg.manual_seed(seed + epoch)
    same_stream = perm == torch.randperm(n, generator=tg).tolist()
    if drop_last and n % replicas:
        per = math.ceil((n - replicas) / replicas)
    else:
        per = math.ceil(n / replicas)
    total = per * replicas
    full = (perm * math.ceil(total / n))[:total] if not drop_last else perm[:total]
    for r in range(replicas):
        s = DistributedSampler(range(n), num_replicas=replicas, rank=r, seed=seed, drop_last=drop_last)
        s.set_epoch(epoch)
        got = list(s)
        assert got == full[r:total:replicas] and len(s) == per
        if same_stream:
            t = TorchSampler(range(n), num_replicas=replicas, rank=r, seed=seed, drop_last=drop_last)
            t.set_epoch(epoch)
            assert got == list(t)


def test_shards_are_disjoint_cover_and_change_with_epoch():
    n, replicas = 103, 4
    epochs = []
    for epoch in range(3):
        parts = []
        for r in range(replicas):
            s = DistributedSampler(range(n), num_replicas=replicas, rank=r, seed=7, drop_last=True)
            s.set_epoch(epoch)
            parts.append(list(s))
        flat = [i for p in parts for i in p]
        assert all(len(p) == 25 for p in parts)
        assert len(set(flat)) == len(flat) == 100  # disjoint, none repeated
        epochs.append(parts)
    assert epochs[0] != epochs[1] != epochs[2]
    # without drop_last: every index appears, and the padding repeats the first ones
    parts = shards(n, replicas, seed=7)
    flat = [i for p in parts for i in p]
    assert set(flat) == set(range(n)) and len(flat) == 104
    # the same seed and epoch give the same order on every call (every rank agrees)
    assert shards(n, replicas, seed=7) == parts


def test_bad_rank_and_missing_group():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(4), num_replicas=2, rank=-1)
    import rustgrad.distributed as dist

    if not dist.is_initialized():
        with pytest.raises((RuntimeError, ValueError)):
            DistributedSampler(range(4))


def test_works_with_dataloader():
    ds = rg.utils.data.TensorDataset(rg.arange(10))
    s = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    loader = rg.utils.data.DataLoader(ds, batch_size=2, sampler=s)
    got = [b[0].tolist() for b in loader]
    assert got == [[1, 3], [5, 7], [9]]
