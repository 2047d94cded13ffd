"""The portal's blueprint, apart from the package so its modules import it without a cycle."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal/<domain>")
