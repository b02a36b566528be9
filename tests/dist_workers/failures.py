"""A rank that stops taking part: ``timeout`` (rank 1 sleeps outside the collective: rank 0 gets
DistBackendError within the group's timeout) and ``kill`` (rank 1 dies mid-run: the job ends
instead of hanging)."""

import datetime
import os
import signal
import sys
import time

import rustgrad as rg
import rustgrad.distributed as dist


def main(mode):
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=3))
    r = dist.get_rank()
    t = rg.ones(1000)
    for _ in range(20):
        dist.all_reduce(t)
    print(f"[{r}] warmed up", flush=True)
    if mode == "timeout":
        if r == 1:
            time.sleep(20)
            return
        t0 = time.monotonic()
        try:
            dist.all_reduce(t)
        except dist.DistBackendError as e:
            assert isinstance(e, RuntimeError)
            print(f"[{r}] TIMEOUT after {time.monotonic() - t0:.1f}s: {e}", flush=True)
            sys.exit(3)
        print(f"[{r}] FINISHED (unexpected)", flush=True)
    else:
        for step in range(10_000):
            if r == 1 and step == 50:
                os.kill(os.getpid(), signal.SIGKILL)
            dist.all_reduce(t)
        print(f"[{r}] FINISHED (unexpected)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
