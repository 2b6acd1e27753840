"""Bare Flask baselines, served with the same gunicorn settings as Kassa."""

import os

from flask import Flask, jsonify, render_template, request
from jinja2 import DictLoader

PAGE = "<!doctype html><title>baseline</title><body><p>{{ filler }}</p></body>"
FILLER = "x" * max(int(os.environ.get("BASELINE_PAGE_BYTES", "4000")) - len(PAGE) + 13, 0)

app = Flask(__name__)
# A loaded template, compiled once and cached by Jinja as Kassa's templates are.
app.jinja_loader = DictLoader({"page.html": PAGE})


@app.get("/page")
def page():
    """A template rendered to the same size as the checkout page."""
    return render_template("page.html", filler=FILLER)


@app.post("/echo")
def echo():
    """Read a JSON body and answer JSON: the least a POST endpoint does."""
    body = request.get_json(force=True, silent=True) or {}
    return jsonify(ok=True, keys=len(body))
