"""The help center's blueprint, apart from the package so its modules import it without
importing the package that imports them (no cycle), as channels/webchat does."""
from flask import Blueprint

bp = Blueprint("help", __name__, url_prefix="/ajuda/<domain>")
