"""``rustgrad.cuda``: present so scripts that probe for CUDA run; no CUDA backend exists."""


def is_available():
    return False


def device_count():
    return 0


def manual_seed(seed):
    return None


def manual_seed_all(seed):
    return None


def synchronize(device=None):
    return None


def empty_cache():
    return None
