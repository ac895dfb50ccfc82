"""gunicorn configuration: ``gunicorn -c gunicorn.conf.py wsgi:app`` (values in the package)."""

from otp_service.server.gunicorn_config import *  # noqa: F403
