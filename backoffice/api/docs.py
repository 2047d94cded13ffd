"""The API's documentation (API-1): the OpenAPI document at /api/v1/openapi.json and a
page at /api/docs with Swagger UI, served from this installation (the swagger-ui-bundle
package's files; no CDN), and the webhook guide with the signature checks.

Both are public like any API reference: they describe the routes, never a company's data.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, abort, current_app, jsonify, render_template, send_from_directory

from .. import events

bp = Blueprint("api_docs", __name__)

SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)
SWAGGER_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js",
                           "swagger-ui-standalone-preset.js"})


@bp.get("/api/v1/openapi.json")
def openapi():
    response = jsonify(current_app.extensions["atende_api"].document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/api/docs")
@bp.get("/api/docs/")
def page():
    from ..webhooks import payloads, signing

    reference = (payloads.__doc__ or "").split("`data` by event:", 1)[-1].split("\n\nTimes are")[0]
    return render_template("api/docs.html", events=events.choices(),
                           payload_reference=textwrap.dedent(reference).strip("\n"),
                           python_snippet=signing.PYTHON_SNIPPET,
                           javascript_snippet=signing.JAVASCRIPT_SNIPPET,
                           signature_header=signing.HEADER)


@bp.get("/api/docs/assets/<name>")
def asset(name: str):
    if name not in SWAGGER_FILES:
        abort(404)
    return send_from_directory(SWAGGER_DIR, name, max_age=86400)
