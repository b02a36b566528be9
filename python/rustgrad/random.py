"""``torch.random``: seeding and state of the default generators, and ``fork_rng``."""

from rustgrad._random import (  # noqa: F401
    Generator,
    default_generator,
    fork_rng,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
