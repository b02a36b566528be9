"""``DistributedSampler``: each rank's share of a dataset (``torch.utils.data.distributed``)."""

import math

import rustgrad
from rustgrad.utils.data.sampler import Sampler


class DistributedSampler(Sampler):
    """Indices of ``dataset`` for rank ``rank`` of ``num_replicas`` (PyTorch's algorithm).

    With ``shuffle``, the indices are a permutation drawn with ``rustgrad.randperm`` from a
    generator seeded with ``seed + epoch`` (call :meth:`set_epoch` every epoch so the order
    changes; every rank must use the same ``seed``). The list is then padded by repeating its
    start (or, with ``drop_last``, cut) so it divides evenly, and rank ``r`` takes every
    ``num_replicas``-th index starting at ``r``: the ranks' shards are disjoint and equally long,
    and together cover the dataset. ``num_replicas``/``rank`` default to the process group's."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from rustgrad import distributed as dist

            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(self.dataset)
        if self.drop_last and n % self.num_replicas != 0:
            # Cut to the largest multiple of num_replicas, so no rank gets a repeated index.
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            g = rustgrad.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = rustgrad.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[: self.total_size]
        assert len(indices) == self.total_size
        indices = indices[self.rank : self.total_size : self.num_replicas]
        assert len(indices) == self.num_samples
        return iter(indices)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Set the epoch, which (added to ``seed``) seeds the shuffle: call before each epoch."""
        self.epoch = epoch
