# One image for both roles: `python -m training train` (trainer) and uvicorn (api).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KERAS_BACKEND=tensorflow \
    TF_CPP_MIN_LOG_LEVEL=3 \
    MODEL_DIR=/srv/models \
    HOST=0.0.0.0 \
    PORT=8000 \
    MOVIELENS_CACHE=/srv/models/.cache

WORKDIR /srv

# Dependencies in their own layer: only the package metadata, so code changes reuse it.
COPY pyproject.toml README.md bundle_format.py feedback_store.py ./
COPY training/__init__.py training/__init__.py
COPY app/__init__.py app/__init__.py
RUN python -m pip install --no-cache-dir .

# The code and the bundled sample dataset (GroupLens' README and license travel with it).
# bundle_format.py and feedback_store.py (copied above) are the on-disk contracts both roles
# import: the bundle, and the feedback database.
COPY training training
COPY app app
COPY data data
RUN python -m pip install --no-cache-dir --no-deps .

# Not root. The models folder (a named volume in compose) belongs to that user, and so does
# the feedback folder, where the default SQLite feedback store lives (FEEDBACK_URL; compose
# points the api at PostgreSQL instead).
COPY --chown=10001:10001 models /srv/models
COPY --chown=10001:10001 feedback /srv/feedback
USER 10001:10001

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-m", "app.healthcheck", "http://127.0.0.1:8000/health"]
# `python -m app`: uvicorn with HOST/PORT/LOG_LEVEL and a graceful drain on SIGTERM.
CMD ["python", "-m", "app"]
