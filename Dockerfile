# Two images from one file, each installed from the lock (requirements/lock.txt):
#   docker build --target api     -t movielens-recommender-api .      (python -m app; no TensorFlow)
#   docker build --target trainer -t movielens-recommender-trainer .  (python -m training)
# They share only the on-disk contract (the recommender_core package) and the models volume.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MODEL_DIR=/srv/models

WORKDIR /srv

# The package metadata, the lock and the version's source only: the dependency layers below
# are rebuilt when these change, not when the code does.
COPY pyproject.toml README.md ./
COPY requirements/lock.txt requirements/lock.txt
COPY recommender_core/__init__.py recommender_core/__init__.py


FROM base AS api

ENV HOST=0.0.0.0 \
    PORT=8000

COPY app/__init__.py app/__init__.py
RUN python -m pip install --no-cache-dir -c requirements/lock.txt ".[serve]"

# The service's code and the shared contract; no trainer, no TensorFlow.
COPY recommender_core recommender_core
COPY app app
RUN python -m pip install --no-cache-dir --no-deps .

# Not root. The models folder (a named volume in compose) and the feedback folder (the default
# SQLite store; compose points the api at PostgreSQL instead) belong to that user.
COPY --chown=10001:10001 models /srv/models
COPY --chown=10001:10001 feedback /srv/feedback
USER 10001:10001

EXPOSE 8000
# Healthy only once a verified bundle is served (GET /ready), not merely alive.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-m", "app.healthcheck", "http://127.0.0.1:8000/ready"]
# `python -m app`: uvicorn with HOST/PORT/WORKERS/LOG_LEVEL and a graceful drain on SIGTERM.
CMD ["python", "-m", "app"]


FROM base AS trainer

ENV KERAS_BACKEND=tensorflow \
    TF_CPP_MIN_LOG_LEVEL=3 \
    MOVIELENS_CACHE=/srv/models/.cache

COPY training/__init__.py training/__init__.py
RUN python -m pip install --no-cache-dir -c requirements/lock.txt ".[train]"

# The trainer's code, the shared contract and the bundled sample dataset (GroupLens' README
# and license travel with it).
COPY recommender_core recommender_core
COPY training training
COPY data data
RUN python -m pip install --no-cache-dir --no-deps .

COPY --chown=10001:10001 models /srv/models
USER 10001:10001

# Trains only when /srv/models/current is missing or cannot be served by this version.
CMD ["python", "-m", "training", "-q", "train", "--data", "ml-latest-small", \
     "--out", "/srv/models", "--if-missing"]
