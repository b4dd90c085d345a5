# Two images from one Dockerfile, both from uv.lock (no dev group):
#
#   full (the default target): every extra (`--extra all`: TFX, TensorFlow, Beam, tfx-bsl, kfp,
#     ML Metadata, scikit-learn, XGBoost, LightGBM); the TFX and KFP components' image.
#   slim (`--target slim`): the core and the `models` extra (scikit-learn, XGBoost, LightGBM),
#     no TensorFlow, Beam or TFX: CSV/Parquet data, prediction columns and joblib models on the
#     local engine (tests/test_container.py runs an evaluation in it).
#
#   DOCKER_BUILDKIT=1 docker build -t assay:0.1.0 .
#   DOCKER_BUILDKIT=1 docker build --target slim -t assay:0.1.0-slim .
#   docker run --rm --read-only --tmpfs /tmp -v "$PWD:/data:ro" -v "$PWD/out:/out" \
#       assay:0.1.0 evaluate --config /data/config.yaml --examples /data/eval --output /out
#   (as a KFP component: entrypoint.py kfp --executor-input '{{$}}'; see assay/kfp/)
#
# Needs BuildKit (RUN --mount) and nothing else: no `# syntax=` line (that would fetch a frontend
# image) and no image but PYTHON_IMAGE. The build stages reach PyPI and Debian's mirror; where
# they are reached through a TLS-intercepting proxy, the base image's CA bundle must hold its CA
# (README "The container"; tests/docker.sh builds such a stand-in base for the tests).
#
# Python 3.10.13, as .python-version pins it; TFX 1.16 needs Python < 3.11.
ARG PYTHON_IMAGE=python:3.10.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS tools
# A C/C++ compiler for the locked packages that build from source (pyfarmhash, dill 0.3.1.1,
# kfp 2.13.0, kfp-server-api, google-apitools, rouge-score). The build stages only.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends g++ \
    && rm -rf /var/lib/apt/lists/*
# TLS through the system's CA bundle (uv: the system's certificates; pip: PIP_CERT).
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    UV_SYSTEM_CERTS=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
ARG UV_VERSION=0.13.9
RUN python -m pip install --quiet "uv==${UV_VERSION}"
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.10 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/assay/.venv
WORKDIR /src
COPY pyproject.toml uv.lock ./

# The dependencies, in their own stage and layer: they change only when pyproject.toml or uv.lock
# does (the runtime copies this venv as one large layer that a code change leaves cached).
FROM tools AS build
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra all --no-install-project \
    && rm -f /opt/assay/.venv/.lock

FROM build AS project
COPY README.md ./
COPY component/ component/
# The assay package itself, and its files gathered under /project as they lie in the venv.
# --refresh-package / --reinstall-package: uv's cache would otherwise reuse the wheel it built
# before while pyproject.toml is unchanged (its cache keys), i.e. install the old code.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra all --no-editable \
        --refresh-package assay --reinstall-package assay \
    && cd / && mkdir /project \
    && cp -a --parents opt/assay/.venv/bin/assay \
        opt/assay/.venv/lib/python3.10/site-packages/assay \
        opt/assay/.venv/lib/python3.10/site-packages/assay-*.dist-info /project/

# The slim image's venv: the core and the models extra only, from the same lock.
FROM tools AS slim-build
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra models --no-install-project \
    && rm -f /opt/assay/.venv/.lock

FROM slim-build AS slim-project
COPY README.md ./
COPY component/ component/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra models --no-editable \
        --refresh-package assay --reinstall-package assay \
    && cd / && mkdir /project \
    && cp -a --parents opt/assay/.venv/bin/assay \
        opt/assay/.venv/lib/python3.10/site-packages/assay \
        opt/assay/.venv/lib/python3.10/site-packages/assay-*.dist-info /project/

# What both runtimes share: no compiler, no uv, no pip cache; the venv and the entrypoint (copied
# last in each: the large venv layer stays cached when they change), owned by root, run as uid
# 10001. It writes only to its output and to TMPDIR, so it runs with a
# read-only root filesystem (`docker run --read-only --tmpfs /tmp`).
FROM ${PYTHON_IMAGE} AS runtime
# A fixed uid, so volumes can be prepared for it; no shell login, no password.
RUN groupadd --system --gid 10001 assay \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/assay \
        --shell /usr/sbin/nologin assay
ENV PATH=/opt/assay/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HOME=/home/assay
USER 10001:10001
WORKDIR /home/assay
ENTRYPOINT ["python", "/opt/assay/container/entrypoint.py"]
CMD ["--help"]

FROM runtime AS slim
COPY --from=slim-build /opt/assay/.venv /opt/assay/.venv
COPY --from=slim-project /project/ /
COPY container/ /opt/assay/container/

# The full image: the default target, so it stays the last stage.
FROM runtime AS full
COPY --from=build /opt/assay/.venv /opt/assay/.venv
COPY --from=project /project/ /
COPY container/ /opt/assay/container/
