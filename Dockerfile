# syntax=docker/dockerfile:1
# The assay image: the locked runtime dependencies (uv.lock, no dev group) plus the models
# extra (scikit-learn, XGBoost, LightGBM), the assay package, and container/entrypoint.py.
#
#   docker build -t assay:0.1.0 .
#   docker run --rm -v "$PWD:/data" assay:0.1.0 evaluate --config /data/config.yaml \
#       --examples /data/eval --output /data/out           # the `assay` CLI
#   (as a KFP component: entrypoint.py kfp --executor-input '{{$}}'; see assay/kfp/)
#
# Python 3.10.13, as .python-version pins it; TFX 1.16 needs Python < 3.11.
ARG PYTHON_IMAGE=python:3.10.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.10 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/assay/.venv
WORKDIR /src
# Dependencies first, in their own layer: it changes only when uv.lock does.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra models --no-install-project
COPY component/ component/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra models --no-editable

FROM ${PYTHON_IMAGE}
# A fixed uid, so volumes can be prepared for it; no shell login, no password.
RUN useradd --system --uid 10001 --create-home --home-dir /home/assay assay
COPY --from=build /opt/assay/.venv /opt/assay/.venv
COPY container/ /opt/assay/container/
ENV PATH=/opt/assay/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HOME=/home/assay
USER 10001
WORKDIR /home/assay
ENTRYPOINT ["python", "/opt/assay/container/entrypoint.py"]
CMD ["--help"]
