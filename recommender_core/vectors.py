"""The two vector operations both sides rank with: the best ``k`` of a score row (or of each
row of a matrix) and rows scaled to unit length. Vectorised: no loop over users or movies."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int, offset: int = 0) -> np.ndarray:
    """Indices of the best scores from rank ``offset`` (0 = best) to ``offset + k``, best
    first, of a row (1-d, non-finite scores left out: a filtered movie never comes back) or of
    each row of a matrix (2-d, every row as long: ``-inf`` ranks last). A tie goes to the
    lower index, so a shorter list is a prefix of a longer one and pages never overlap."""
    if scores.ndim == 1:
        return _top_of_row(scores, k, offset)
    rows = scores
    width = rows.shape[1]
    want = min(offset + k, width)
    if want <= 0 or k <= 0:
        return np.zeros((len(rows), 0), dtype=np.int64)
    cut = np.partition(rows, width - want, axis=1)[:, width - want]
    above = rows > cut[:, None]
    tied = rows == cut[:, None]
    room = want - above.sum(axis=1)
    excess = tied.sum(axis=1) > room
    if excess.any():  # every score at the cut competes: the lower indices win
        sub = tied[excess]
        tied[excess] = sub & (np.cumsum(sub, axis=1) <= room[excess, None])
    chosen = np.nonzero(above | tied)[1].reshape(len(rows), want)
    values = np.take_along_axis(rows, chosen, axis=1)
    order = np.lexsort((chosen, -values), axis=1)
    return np.take_along_axis(chosen, order, axis=1)[:, offset:]


def _top_of_row(scores: np.ndarray, k: int, offset: int) -> np.ndarray:
    """top_k of one row (the service's hot path: a few passes over the row, no 2-d work)."""
    want = min(offset + k, len(scores))
    if want <= 0 or k <= 0:
        return np.zeros(0, dtype=np.int64)
    cut = scores[np.argpartition(scores, len(scores) - want)[len(scores) - want:]].min()
    # every score at the cut competes, not the arbitrary subset argpartition picked
    best = (np.flatnonzero(scores >= cut) if np.isfinite(cut)
            else np.flatnonzero(np.isfinite(scores)))  # fewer candidates than wanted
    return best[np.lexsort((best, -scores[best]))][offset:want]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` with every row scaled to length 1 (a zero row stays zero), float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
