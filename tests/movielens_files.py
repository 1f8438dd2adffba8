"""Writers for tiny MovieLens releases in each native layout (shared by the tests)."""

from __future__ import annotations

from pathlib import Path

# (user, movie, rating, timestamp); movie 3 is rated twice by user 2 (a duplicate).
RATINGS = [
    (1, 1, 5, 978300760), (1, 2, 3, 978302109), (1, 3, 4, 978301968),
    (2, 1, 4, 978298413), (2, 3, 2, 978299026), (2, 3, 4, 978299999),
    (3, 2, 1, 978297039),
]
MOVIES = [
    (1, "Toy Story (1995)", ["Animation", "Children's", "Comedy"]),
    (2, "Jumanji (1995)", ["Adventure", "Children's", "Fantasy"]),
    (3, "Grumpier Old Men, The (1995)", ["Comedy", "Romance"]),
]
ML100K_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western"]


def write_ml100k(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "u.data").write_text("".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in RATINGS))
    lines = []
    for movie_id, title, genres in MOVIES:
        flags = "|".join("1" if g in genres else "0" for g in ML100K_GENRES)
        lines.append(f"{movie_id}|{title}|01-Jan-1995||http://us.imdb.com/x|{flags}\n")
    (root / "u.item").write_bytes("".join(lines).replace("Toy", "Töy").encode("latin-1"))
    (root / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n"
                                 "3|23|M|writer|32067\n")
    return root


def write_ml1m(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "ratings.dat").write_text("".join(f"{u}::{m}::{r}::{t}\n" for u, m, r, t in RATINGS))
    (root / "movies.dat").write_bytes("".join(
        f"{m}::{title}::{'|'.join(genres)}\n" for m, title, genres in MOVIES
    ).replace("Toy", "Töy").encode("latin-1"))
    (root / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n"
                                    "3::M::25::15::55117\n")
    return root


def write_ml10m(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "ratings.dat").write_text(
        "".join(f"{u}::{m}::{r - 0.5}::{t}\n" for u, m, r, t in RATINGS))
    (root / "movies.dat").write_text("".join(
        f"{m}::{title}::{'|'.join(genres)}\n" for m, title, genres in MOVIES), encoding="utf-8")
    (root / "tags.dat").write_text("1::1::pixar::1188263867\n2::3::old men: grumpy::1188263880\n")
    return root


def write_csv_release(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{m},{r - 0.5 if m == 2 else float(r)},{t}\n" for u, m, r, t in RATINGS))
    (root / "movies.csv").write_text(
        "movieId,title,genres\n"
        '1,Toy Story (1995),Adventure|Animation|Children|Comedy\n'
        '2,"Jumanji, The Game (1995)",Adventure|Children|Fantasy\n'
        "3,Grumpier Old Men (1995),(no genres listed)\n", encoding="utf-8")
    (root / "tags.csv").write_text("userId,movieId,tag,timestamp\n"
                                   '1,1,pixar,1445714994\n2,1,"funny, clever",1445714996\n')
    (root / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n2,0113497,\n"
                                    "3,0113228,15602\n")
    return root


WRITERS = {"ml-100k": write_ml100k, "ml-1m": write_ml1m, "ml-10m": write_ml10m,
           "movielens-csv": write_csv_release}


PLANTED_GENRES = ("Action", "Comedy", "Drama", "Horror")


def write_planted_ml1m(root: Path, *, n_users: int = 80, per_genre: int = 30, n_cold: int = 8,
                       seed: int = 0) -> Path:
    """An ml-1m-layout release with planted tastes: user u belongs to group u % 4 and loves
    the movies of genre PLANTED_GENRES[group] (4-5 stars) and dislikes the rest (1-2 stars).
    Gender and occupation follow the group, so demographics carry the taste too. The last
    ``n_cold`` movies (one genre each) have no ratings."""
    import numpy as np

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    movies, genre_of = [], []
    for g, genre in enumerate(PLANTED_GENRES):
        for j in range(per_genre):
            movies.append(f"{len(movies) + 1}::{genre} Movie {j} ({1980 + j})::{genre}")
            genre_of.append(g)
    n_rated = len(movies)
    for j in range(n_cold):
        genre = PLANTED_GENRES[j % 4]
        movies.append(f"{len(movies) + 1}::Cold {genre} {j} (2020)::{genre}")
    (root / "movies.dat").write_text("\n".join(movies) + "\n", encoding="latin-1")
    genre_of_arr = np.array(genre_of)
    weights = 1.0 / np.arange(1, per_genre + 1) ** 0.8  # popularity skew inside a genre
    lines, users = [], []
    for user in range(1, n_users + 1):
        group = user % 4
        own = np.flatnonzero(genre_of_arr == group)
        other = np.flatnonzero(genre_of_arr != group)
        liked = rng.choice(own, size=16, replace=False, p=weights / weights.sum())
        disliked = rng.choice(other, size=8, replace=False)
        chosen = np.concatenate([liked, disliked])
        stars = np.concatenate([rng.integers(4, 6, 16), rng.integers(1, 3, 8)])
        order = rng.permutation(len(chosen))
        start = 978_300_000 + user * 10_000
        for step, k in enumerate(order):
            lines.append(f"{user}::{chosen[k] + 1}::{stars[k]}::{start + step * 60}")
        gender = "M" if group < 2 else "F"
        age = (18, 25, 35, 45)[group]
        users.append(f"{user}::{gender}::{age}::{group + 1}::12345")
    (root / "ratings.dat").write_text("\n".join(lines) + "\n")
    (root / "users.dat").write_text("\n".join(users) + "\n")
    assert n_rated == per_genre * 4
    return root
