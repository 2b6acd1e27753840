"""Bare Flask baselines, served with the same gunicorn settings as Kassa."""

import os

from flask import Flask, jsonify, render_template_string, request

app = Flask(__name__)
PAGE = "<!doctype html><title>baseline</title><body><p>{{ filler }}</p></body>"
FILLER = "x" * max(int(os.environ.get("BASELINE_PAGE_BYTES", "4000")) - len(PAGE) + 13, 0)


@app.get("/page")
def page():
    """A template rendered to the same size as the checkout page."""
    return render_template_string(PAGE, filler=FILLER)


@app.post("/echo")
def echo():
    """Read a JSON body and answer JSON: the least a POST endpoint does."""
    body = request.get_json(force=True, silent=True) or {}
    return jsonify(ok=True, keys=len(body))
