"""Locale and time zone per request: the user's choice, else the company's, else pt-BR."""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_login import current_user

log = logging.getLogger(__name__)
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

SUPPORTED = ("pt_BR", "en")


# Flask-Babel parses what the selector returns on every request unless it is a Locale
# already; these are read-only and shared (SCL-5: parsing was ~2% of an inbox list request)
_LOCALES = {code: Locale.parse(code) for code in SUPPORTED}


def select_locale() -> Locale:
    user = current_user
    if getattr(user, "is_authenticated", False):
        if user.language in SUPPORTED:
            return _LOCALES[user.language]
        company = user.company
        if company is not None and company.language in SUPPORTED:
            return _LOCALES[company.language]
    return _LOCALES["pt_BR"]


def select_timezone() -> str:
    user = current_user
    if getattr(user, "is_authenticated", False) and user.company is not None:
        return user.company.timezone or "America/Sao_Paulo"
    return "America/Sao_Paulo"


def compile_catalogues(translations_dir: Path = TRANSLATIONS) -> list[Path]:
    """Compile every <lang>/LC_MESSAGES/*.po whose .mo is missing or older than the .po.

    Run by create_app, so a fresh clone, `make run` and the tests never depend on a
    separate compile step (the .mo files are not versioned). Same result as
    `pybabel compile -f`. Written to a temporary file and renamed, so a concurrent
    reader never sees half a file. Returns the .mo files (re)written.
    """
    written = []
    for po_path in sorted(translations_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=po_path.parent.parent.name)
        try:
            fd, tmp = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
        except OSError as exc:  # read-only install: the packaged .mo is used as is
            log.warning("cannot compile %s: %s", po_path, exc)
            continue
        try:
            with os.fdopen(fd, "wb") as f:
                write_mo(f, catalog, use_fuzzy=True)
            os.chmod(tmp, 0o644)
            os.replace(tmp, mo_path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        written.append(mo_path)
    if written and translations_dir == TRANSLATIONS:
        # flask-babel caches loaded translations on the (module-global) Babel object.
        from .extensions import babel

        domain = vars(babel).get("domain_instance")
        if domain is not None:
            domain.cache.clear()
    return written
