# syntax=docker/dockerfile:1
# otp-service's application server (gunicorn). It is not meant to face clients itself: run it behind
# the buffering proxy of deploy/compose.yaml (nginx, deploy/nginx.conf), which reads each request
# whole, with timeouts, before gunicorn sees it (gunicorn's threads wait on a slow client with no
# timeout). docs/operations.md has the whole deployment. Two stages: the build stage makes a
# virtualenv with the package and its dependencies (wheels on x86_64, no compiler needed); the
# runtime stage copies only the virtualenv.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY otp_service ./otp_service
RUN /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OTP_ENV=production \
    OTP_BIND=0.0.0.0:8000
RUN groupadd --system --gid 10001 otp \
    && useradd --system --uid 10001 --gid otp --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin otp
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY wsgi.py gunicorn.conf.py ./
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# For the proxy in front, on the containers' network: never publish it to clients.
EXPOSE 8000
# Ready = Redis answers and holds the scripts (/readyz); slim has no curl, Python has urllib.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
# gunicorn stops on SIGTERM, finishing requests in flight for up to 20 s: `docker stop -t 30`.
STOPSIGNAL SIGTERM
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
