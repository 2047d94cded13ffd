"""The webchat blueprint, apart from the package so its modules import it without
importing the package that imports them (no cycle)."""
from flask import Blueprint

from ...extensions import csrf

bp = Blueprint("webchat", __name__)

# CSRF protects cookie-authenticated forms. Nothing here uses a cookie: a visitor is
# identified by the random token the frame sends in the X-Visitor-Token header, which
# another site can neither read nor make a browser send, so a forged cross-site POST
# carries no identity to abuse. (CSRF tokens would also need a session cookie, which a
# third-party iframe often does not get.)
csrf.exempt(bp)
