"""Data-parallel training in PyTorch's DDP shape: init_process_group, DistributedSampler,
DistributedDataParallel, set_epoch, rank-0 checkpoints behind a barrier. Only the imports differ
from the PyTorch script.

    python -m rustgrad.distributed.run --nproc-per-node 2 examples/ddp.py --epochs 1
    mpirun -n 4 python examples/ddp.py --limit 8000       # the same, started by mpirun
    python examples/ddp.py                                 # one process works too

``--batch-size`` is per rank (as in PyTorch), so N ranks train with a global batch N times larger.
"""

import argparse

import _common  # noqa: F401  (sets sys.path for a source checkout)
import rustgrad as torch
import rustgrad.distributed as dist
import rustgrad.nn.functional as F
from _common import image_datasets
from rustgrad import nn
from rustgrad.nn.parallel import DistributedDataParallel as DDP
from rustgrad.utils.data import DataLoader
from rustgrad.utils.data.distributed import DistributedSampler
from rustgrad.vision import transforms


class Net(nn.Module):
    """The MNIST convnet of examples/cnn.py without dropout (deterministic, so N ranks and one
    process can be compared exactly)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def main(argv=None):
    p = argparse.ArgumentParser(description="DistributedDataParallel convnet on Fashion-MNIST.")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32, help="per rank")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.5)
    p.add_argument("--data", default=_common.DEFAULT_DATA)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--limit", type=int, default=None, help="use only the first N training samples")
    p.add_argument("--test-limit", type=int, default=2000)
    p.add_argument("--test-batch-size", type=int, default=500)
    p.add_argument("--no-shuffle", action="store_true", help="keep the dataset order (for exact comparisons)")
    p.add_argument("--checkpoint", default="", help="rank 0 saves the model here after every epoch")
    args = p.parse_args(argv)

    dist.init_process_group(backend="gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    args.test_limit = args.test_limit or None
    train_set, test_set = image_datasets(args, tf, tf)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=not args.no_shuffle,
                                 seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)
    test_sampler = DistributedSampler(test_set, shuffle=False)
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size, sampler=test_sampler)

    model = DDP(Net())
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        model.train()
        seen, loss_sum = 0, 0.0
        for data, target in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(data), target)
            loss.backward()
            optimizer.step()
            seen += target.shape[0]
            loss_sum += loss.item() * target.shape[0]
        stats = torch.tensor([loss_sum, float(seen)], dtype=torch.float64)
        dist.all_reduce(stats)
        # every rank scores its shard of the test set; the counts are summed across ranks
        model.eval()
        score = torch.zeros(2, dtype=torch.float64)
        with torch.no_grad():
            for data, target in test_loader:
                score[0] += (model(data).argmax(dim=1) == target).sum().item()
                score[1] += target.shape[0]
        dist.all_reduce(score)
        if args.checkpoint:
            if rank == 0:
                torch.save({"epoch": epoch, "model": model.module.state_dict()}, args.checkpoint)
            dist.barrier()  # nobody reads the checkpoint before rank 0 has written it
            state = torch.load(args.checkpoint)
            assert state["epoch"] == epoch
        if rank == 0:
            print(f"epoch {epoch}: train loss {stats[0].item() / stats[1].item():.6f}, "
                  f"test accuracy {score[0].item() / score[1].item():.4f} ({world} ranks)", flush=True)
    if rank == 0:
        checksum = sum(float(p.detach().double().abs().sum().item()) for p in model.module.parameters())
        print(f"parameter checksum: {checksum:.6f}")
        print(f"final test accuracy: {score[0].item() / score[1].item():.4f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
