enabled = False
benchmark = False
deterministic = False


def is_available():
    return False
