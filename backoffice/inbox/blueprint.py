"""The inbox blueprint, apart from the package so its route modules import it without
importing the package that imports them (no cycle)."""
from flask import Blueprint

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
