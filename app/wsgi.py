"""The WSGI entry point for production serving:

    gunicorn -c deploy/gunicorn.conf.py app.wsgi:app

Production mode unless ``BIHUAN_ENV`` says otherwise: JSON log lines, and the secret key must come
from ``BIHUAN_SECRET_KEY``. The timer sweep does not run in web workers; run ``bihuan scheduler``
beside them (docs/deploy.md).
"""
from __future__ import annotations

import os

os.environ.setdefault("BIHUAN_ENV", "production")

from app import create_app  # noqa: E402
from app.observability.logging import configure_from_environment  # noqa: E402

configure_from_environment()
app = create_app()
