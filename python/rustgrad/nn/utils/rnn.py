"""``nn.utils.rnn``: pad_sequence (packing is not supported)."""

import rustgrad

__all__ = ["pad_sequence"]


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stacks variable-length (L_i, *) tensors into (L_max, B, *) (or (B, L_max, *))."""
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = max_len - s.shape[0]
        if extra:
            fill = rustgrad.full((extra,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype)
            parts = [s, fill] if padding_side == "right" else [fill, s]
            s = rustgrad.cat(parts, 0)
        padded.append(s)
    return rustgrad.stack(padded, 0 if batch_first else 1)
