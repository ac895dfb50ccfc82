"""
The bare Flask JSON endpoint the rejection path is compared with.

Served by the same gunicorn configuration as the service (``gunicorn -c gunicorn.conf.py
bench.bare_app:app``, run from the repository root): it reads a JSON body and answers a small JSON
object, with none of the service's work (authentication, validation, Redis, logging).
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

app = Flask("bare")


@app.get("/livez")
def livez() -> Response:
    """Liveness, as the service's: the harness waits for it."""
    return jsonify({"status": "ok"})


@app.post("/echo")
def echo() -> Response:
    """Parse the JSON body and answer a small JSON object."""
    body = request.get_json(silent=True) or {}
    return jsonify({"ok": True, "fields": len(body)})
