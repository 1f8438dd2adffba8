"""The hybrid's item-item part: EASE (Steck 2019) on the train likes, reduced to a low rank so
that it is one more block of the user and movie vectors, scored by the same dot product.

A user's item-item score of movie j is ``Σ_{i liked} B[i, j]``, with B the EASE weights; the
truncated SVD ``B ≈ (U·Σ)·Vᵀ`` turns that into ``(Σ_{i liked} P[i]) · Q[j]`` with ``P = U·Σ``
and ``Q = V``: the user side is the sum of P over every movie the user liked (fresh likes
posted to the service add their rows), the movie side is Q. On the temporal split the hybrid
alone ranks below EASE, and EASE is strongest where the hybrid is weakest (users with many
likes; BENCHMARKS.md, "Item-item part"); their sum beats both. Its weight is chosen on the
validation carve-out, like the popularity prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from training.data.interactions import Interactions
from training.models.ease import EASE

#: EASE inverts an items × items matrix: beyond this many liked movies, only the most liked
#: take part (8,192² float64 is 512 MiB; a larger catalogue's rare movies rely on the towers)
MAX_ITEMS = 8_192
#: columns of the part (EASE's truncated SVD); on both variants of ml-latest-small rank 256
#: kept the exact EASE sum's gain within 0.001 (BENCHMARKS.md, "Item-item part")
RANK = 256
#: weights of the item-item part tried on validation, in units of its scores' spread
WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
#: weights of likes posted after training (the ``fresh`` input) tried on the feedback
#: simulation: on ml-latest-small's carve-out they counted more than the training likes
#: (validation NDCG@10 rose up to 4, the end of WEIGHT_GRID)
FRESH_GRID = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass(frozen=True)
class ItemItem:
    """Low-rank EASE weights of one training set."""

    liked: np.ndarray  # (n_items, rank) P: a liked movie's contribution to the user side
    movies: np.ndarray  # (n_items, rank) Q: the movie side
    l2: float  # EASE's λ (chosen on a carve-out of the data it was fitted on, unless given)
    scale: float  # 1 / std of the item-item scores of a sample of users (weights are in its units)
    users: np.ndarray  # (n_users, rank) each user's sum of P over their likes (user_part)

    @property
    def rank(self) -> int:
        return int(self.liked.shape[1])

    def user_part(self, likes: sp.csr_matrix) -> np.ndarray:
        """(users, rank): the sum of P over each user's liked movies (rows of ``likes``)."""
        return user_part(likes, self.liked)


def fit_item_item(data: Interactions, rank: int, *, l2: float | None = None,
                  seed: int = 0, max_items: int = MAX_ITEMS, progress: bool = False) -> ItemItem:
    """EASE on ``data``'s likes (λ tuned as the EASE baseline does when ``l2`` is None), then
    its rank-``rank`` truncated SVD. A movie outside EASE's items has zero rows. ``progress``:
    a bar over the EASE fits and the SVD (minutes at 8,192 movies on 2 cores)."""
    from sklearn.utils.extmath import randomized_svd

    fits = 1 + (len(EASE.GRID) if l2 is None else 0)
    bar = tqdm(total=fits + 1, desc="item-item part (EASE, SVD)", disable=not progress,
               leave=False)
    ease = EASE(l2, max_items=max_items).fit(data, seed=seed, on_fit=lambda: bar.update(1))
    active = ease.active
    n_items = data.n_items
    rank = max(1, min(rank, len(active) - 1))
    into = np.zeros((n_items, rank), np.float32)
    out = np.zeros((n_items, rank), np.float32)
    if len(active) > 1:
        left, values, right = randomized_svd(ease.weights, n_components=rank, random_state=seed)
        into[active] = left * values
        out[active] = right.T
    bar.update(1)
    bar.close()
    likes = data.likes.tocsr()
    users = np.random.default_rng(seed).permutation(likes.shape[0])[:1000]
    sample = (likes[users].astype(np.float32) @ into) @ out.T
    spread = float(np.std(sample))
    return ItemItem(into, out, float(ease.l2 or 0.0), 1.0 / spread if spread > 0 else 0.0,
                    user_part(data.likes, into))


def user_part(likes: sp.csr_matrix, liked: np.ndarray) -> np.ndarray:
    """(users, rank): the sum of the rows of ``liked`` (P) over each user's liked movies
    (rows of ``likes``)."""
    return np.asarray(likes.astype(np.float32) @ liked, dtype=np.float32)
