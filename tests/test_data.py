"""rustgrad.utils.data: datasets, samplers, DataLoader (ordering, shuffling, workers), collate."""

import collections
import threading
import time

import numpy as np
import pytest
import rustgrad
from rustgrad.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.full((2,), i, dtype=np.float32), i * i


def _np(t):
    return t.numpy()


def test_tensor_dataset_and_subset():
    ds = TensorDataset(rustgrad.arange(5.0), rustgrad.arange(5))
    assert len(ds) == 5
    x, y = ds[3]
    assert x.item() == 3.0 and y.item() == 3
    with pytest.raises(ValueError):
        TensorDataset(rustgrad.zeros(3), rustgrad.zeros(4))
    sub = Subset(ds, [4, 0])
    assert len(sub) == 2 and sub[0][1].item() == 4


def test_concat_and_chain():
    c = ConcatDataset([Squares(3), Squares(2)])
    assert len(c) == 5
    assert [c[i][1] for i in range(5)] == [0, 1, 4, 0, 1]
    assert c[-1][1] == 1
    with pytest.raises(IndexError):
        c[5]

    class It(IterableDataset):
        def __init__(self, k):
            self.k = k

        def __iter__(self):
            return iter(range(self.k))

    assert list(ChainDataset([It(2), It(3)])) == [0, 1, 0, 1, 2]


def test_random_split_lengths_fractions_and_seed():
    parts = random_split(range(10), [7, 3], generator=rustgrad.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [7, 3]
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    again = random_split(range(10), [7, 3], generator=rustgrad.Generator().manual_seed(1))
    assert list(again[0]) == list(parts[0])
    fr = random_split(range(11), [0.5, 0.5])
    assert sorted(len(p) for p in fr) == [5, 6]
    with pytest.raises(ValueError):
        random_split(range(10), [3, 3])


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    g = rustgrad.Generator().manual_seed(3)
    perm = list(RandomSampler(range(10), generator=g))
    assert sorted(perm) == list(range(10)) and perm != list(range(10))
    g.manual_seed(3)
    assert list(RandomSampler(range(10), generator=g)) == perm
    rep = list(RandomSampler(range(3), replacement=True, num_samples=20))
    assert len(rep) == 20 and set(rep) <= {0, 1, 2}
    more = list(RandomSampler(range(3), num_samples=7))
    assert len(more) == 7 and sorted(more[:3]) == [0, 1, 2]
    with pytest.raises(ValueError):
        RandomSampler(range(3), num_samples=0)
    assert sorted(SubsetRandomSampler([5, 7, 9])) == [5, 7, 9]
    w = list(WeightedRandomSampler([0.0, 1.0, 0.0], 10))
    assert w == [1] * 10
    nr = list(WeightedRandomSampler([1, 1, 1, 1], 4, replacement=False))
    assert sorted(nr) == [0, 1, 2, 3]
    assert list(BatchSampler(range(5), 2, False)) == [[0, 1], [2, 3], [4]]
    assert list(BatchSampler(range(5), 2, True)) == [[0, 1], [2, 3]]
    assert len(BatchSampler(range(5), 2, False)) == 3 and len(BatchSampler(range(5), 2, True)) == 2
    with pytest.raises(ValueError):
        BatchSampler(range(5), 0, False)


def test_dataloader_order_batching_drop_last():
    dl = DataLoader(Squares(10), batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 and len(batches) == 3
    x, y = batches[0]
    assert x.shape == (4, 2) and x.dtype == rustgrad.float32
    assert y.dtype == rustgrad.int64 and _np(y).tolist() == [0, 1, 4, 9]
    assert _np(batches[-1][1]).tolist() == [64, 81]
    dl2 = DataLoader(Squares(10), batch_size=4, drop_last=True)
    assert len(dl2) == 2 and len(list(dl2)) == 2
    # batch_size=None: no auto-batching, NumPy converted to tensors
    x, y = next(iter(DataLoader(Squares(3), batch_size=None)))
    assert isinstance(x, rustgrad.Tensor) and x.shape == (2,) and y == 0


def test_dataloader_shuffle_reproducible():
    def epoch(seed):
        rustgrad.manual_seed(seed)
        return [_np(y).tolist() for _, y in DataLoader(Squares(20), batch_size=5, shuffle=True)]

    a, b, c = epoch(1), epoch(1), epoch(2)
    assert a == b and a != c
    assert sorted(sum(a, [])) == sorted(i * i for i in range(20))
    g = rustgrad.Generator().manual_seed(5)
    d1 = [_np(y).tolist() for _, y in DataLoader(Squares(20), batch_size=5, shuffle=True, generator=g)]
    g.manual_seed(5)
    d2 = [_np(y).tolist() for _, y in DataLoader(Squares(20), batch_size=5, shuffle=True, generator=g)]
    assert d1 == d2


def test_dataloader_argument_errors():
    with pytest.raises(ValueError):
        DataLoader(Squares(3), shuffle=True, sampler=SequentialSampler(range(3)))
    with pytest.raises(ValueError):
        DataLoader(Squares(3), batch_size=2, batch_sampler=BatchSampler(range(3), 2, False))
    with pytest.raises(ValueError):
        DataLoader(Squares(3), num_workers=-1)
    with pytest.raises(ValueError):
        DataLoader(Squares(3), prefetch_factor=2)
    bs = DataLoader(Squares(5), batch_sampler=BatchSampler(range(5), 2, False))
    assert [_np(y).tolist() for _, y in bs] == [[0, 1], [4, 9], [16]]


class Slow(Dataset):
    """Sleeps per item (releasing the GIL like native work does) and records threads used."""

    def __init__(self, n, delay=0.0):
        self.n, self.delay = n, delay
        self.threads = set()
        self.infos = set()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        time.sleep(self.delay * ((i * 7) % 3))  # uneven per-item cost: out-of-order completion
        self.threads.add(threading.get_ident())
        info = get_worker_info()
        if info is not None:
            self.infos.add((info.id, info.num_workers))
        return {"x": np.arange(3) + i, "i": i}


def test_workers_match_single_process_and_preserve_order():
    rustgrad.manual_seed(7)
    ref = [
        (_np(b["x"]).tolist(), _np(b["i"]).tolist()) for b in DataLoader(Slow(23), batch_size=3, shuffle=True)
    ]
    ds = Slow(23, delay=0.002)
    rustgrad.manual_seed(7)
    got = [
        (_np(b["x"]).tolist(), _np(b["i"]).tolist())
        for b in DataLoader(ds, batch_size=3, shuffle=True, num_workers=3)
    ]
    assert got == ref
    assert len(ds.threads) >= 2 and threading.get_ident() not in ds.threads
    assert {w for w, _ in ds.infos} <= {0, 1, 2} and {n for _, n in ds.infos} == {3}
    assert get_worker_info() is None


def test_workers_run_in_parallel():
    ds = Slow(16)
    ds.delay = 0.01  # items cost 0/10/20 ms
    t0 = time.perf_counter()
    list(DataLoader(ds, batch_size=2, num_workers=0))
    serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    list(DataLoader(ds, batch_size=2, num_workers=4))
    parallel = time.perf_counter() - t0
    assert parallel < serial * 0.6, (serial, parallel)


def test_worker_exception_propagates_and_worker_init():
    class Bad(Squares):
        def __getitem__(self, i):
            if i == 5:
                raise KeyError("boom at 5")
            return super().__getitem__(i)

    with pytest.raises(KeyError, match="boom at 5"):
        list(DataLoader(Bad(10), batch_size=2, num_workers=2))
    seen = []
    list(DataLoader(Squares(4), batch_size=2, num_workers=2, worker_init_fn=seen.append))
    assert sorted(seen) == [0, 1]
    dl = DataLoader(Squares(6), batch_size=2, num_workers=2, persistent_workers=True)
    assert [_np(y).tolist() for _, y in dl] == [_np(y).tolist() for _, y in dl]


def test_iterable_dataset_with_workers_shards():
    class Sharded(IterableDataset):
        def __iter__(self):
            info = get_worker_info()
            wid, nw = (0, 1) if info is None else (info.id, info.num_workers)
            return iter(range(wid, 12, nw))

    single = sorted(sum((_np(b).tolist() for b in DataLoader(Sharded(), batch_size=4)), []))
    multi = sorted(sum((_np(b).tolist() for b in DataLoader(Sharded(), batch_size=2, num_workers=3)), []))
    assert single == multi == list(range(12))

    class Fails(IterableDataset):
        def __iter__(self):
            yield 1
            raise ValueError("iter failed")

    with pytest.raises(ValueError, match="iter failed"):
        list(DataLoader(Fails(), batch_size=1, num_workers=2))


def test_default_collate_types():
    out = default_collate([(1, 2.5, True, "a"), (2, 3.5, False, "b")])
    assert isinstance(out, list) and len(out) == 4
    assert out[0].dtype == rustgrad.int64 and _np(out[0]).tolist() == [1, 2]
    assert out[1].dtype == rustgrad.float64 and _np(out[1]).tolist() == [2.5, 3.5]
    assert out[2].dtype == rustgrad.bool
    assert out[3] == ["a", "b"]
    d = default_collate([{"a": np.ones((2, 2), np.uint8), "b": rustgrad.tensor([1.0])}] * 3)
    assert d["a"].shape == (3, 2, 2) and d["a"].dtype == rustgrad.uint8
    assert d["b"].shape == (3, 1) and d["b"].dtype == rustgrad.float32
    od = default_collate([collections.OrderedDict(z=1, a=2)] * 2)
    assert isinstance(od, collections.OrderedDict) and list(od) == ["z", "a"]
    Point = collections.namedtuple("Point", "x y")
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and _np(p.x).tolist() == [1, 3]
    npscal = default_collate([np.float32(1), np.float32(2)])
    assert npscal.dtype == rustgrad.float32
    nested = default_collate([[np.zeros(2), 1], [np.ones(2), 2]])
    assert isinstance(nested, list) and nested[0].dtype == rustgrad.float64
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([rustgrad.zeros(2), rustgrad.zeros(3)])
    with pytest.raises(TypeError):
        default_collate([object(), object()])


def test_default_convert():
    c = default_convert({"a": np.arange(3), "b": [np.zeros(1)], "s": "x"})
    assert isinstance(c["a"], rustgrad.Tensor) and c["a"].dtype == rustgrad.int64
    assert isinstance(c["b"][0], rustgrad.Tensor) and c["s"] == "x"


class ThreadCount(Dataset):
    """Reports the compute threads of the process that loads each item."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return rustgrad.tensor(rustgrad.get_num_threads())


def test_process_workers_run_one_compute_thread():
    # PyTorch's workers call set_num_threads(1); the training process keeps its own count.
    before = rustgrad.get_num_threads()
    dl = DataLoader(ThreadCount(), batch_size=2, num_workers=2, multiprocessing_context="spawn")
    assert [b.tolist() for b in dl] == [[1, 1], [1, 1]]
    assert rustgrad.get_num_threads() == before


def test_process_workers_spawn_match_single():
    rustgrad.manual_seed(4)
    ref = [(_np(x).tolist(), _np(y).tolist()) for x, y in DataLoader(Squares(9), batch_size=2, shuffle=True)]
    rustgrad.manual_seed(4)
    dl = DataLoader(Squares(9), batch_size=2, shuffle=True, num_workers=2, multiprocessing_context="spawn")
    got = [(_np(x).tolist(), _np(y).tolist()) for x, y in dl]
    assert got == ref
    with pytest.raises(ValueError, match="fork"):
        DataLoader(Squares(3), num_workers=2, multiprocessing_context="fork")
