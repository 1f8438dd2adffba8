"""The framework floor: a FastAPI endpoint returning a constant 10-movie list in the service's
response shape (uvicorn benchmarks.trivial_app:app)."""

from fastapi import FastAPI

app = FastAPI()
ITEMS = [{"movie_id": i, "title": f"Movie {i} (2000)", "genres": ["Drama"], "score": 1.0 / i}
         for i in range(1, 11)]


@app.get("/recommend/{user_id}")
async def recommend(user_id: int, k: int = 10) -> dict:
    return {"user_id": user_id, "model_version": "constant", "strategy": "personalized",
            "items": ITEMS[:k]}
