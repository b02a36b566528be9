"""``python -m rustgrad``: print the build and machine report (see :func:`rustgrad.show_config`)."""

from rustgrad._config import show_config

show_config()
