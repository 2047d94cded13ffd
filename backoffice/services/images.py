"""Company logo and user avatars (UX-5): checked by decoding, re-encoded, stored under
instance/.

An upload is accepted only when its first bytes are PNG, JPEG, WebP or GIF *and* Pillow
decodes it: a text file named .png, an SVG (which can carry script) or a truncated file
is refused with a pt-BR RuleError. The picture is then redrawn from its pixels (logo
fitted in LOGO_BOX, avatar cropped square to AVATAR_SIDE) and saved as PNG, so what is
served is always a small image we wrote ourselves, without the sender's metadata (EXIF
and its GPS position included).

Files live in instance/uploads/<company>/logo/<key> and .../avatars/<key>; every upload
gets a new random key, so the URL (which carries the key) may be cached for a year. The
previous file is deleted after the commit (after_commit.later), never before: a rollback
keeps the row pointing at a file that still exists.
"""
from __future__ import annotations

import functools
import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..lib import after_commit
from ..models import Company, User
from . import RuleError
from .saas import company_of_domain
from .templates import human_size, new_file_key

LOGO_BOX = (400, 120)
AVATAR_SIDE = 128
DEFAULT_LOGO_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_AVATAR_MAX_BYTES = 1024 * 1024
# A small file can still declare a huge canvas (a "decompression bomb"): refused before
# Pillow allocates it. 6000 x 6000 covers any phone camera.
MAX_PIXELS = 36_000_000
STORED_MIME = "image/png"
KEY_RE = re.compile(r"[0-9a-f]{32}")
LOGO_PATH = "/media/logo/{key}"
AVATAR_PATH = "/media/avatar/{key}"

NOT_AN_IMAGE = _l("O arquivo não é uma imagem PNG, JPEG ou WebP.")

# Background colours of the initials (white text on each passes WCAG AA, 4.5:1).
INITIALS_COLOURS = ("#1d4ed8", "#0f766e", "#7c3aed", "#b91c1c", "#9a3412", "#4338ca",
                    "#a21caf", "#15803d", "#374151", "#0e7490")


@dataclass
class Picture:
    """An accepted upload, already redrawn: the bytes to store and their type."""
    data: bytes
    mime: str = STORED_MIME


def logo_max_bytes() -> int:
    return int(current_app.config.get("LOGO_MAX_BYTES") or DEFAULT_LOGO_MAX_BYTES)


def avatar_max_bytes() -> int:
    return int(current_app.config.get("AVATAR_MAX_BYTES") or DEFAULT_AVATAR_MAX_BYTES)


def chosen(storage) -> bool:
    """Whether a form's file field carries a file (an empty file input sends a part
    without a name)."""
    return storage is not None and bool(getattr(storage, "filename", None))


def _looks_like_image(head: bytes) -> bool:
    return (head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff")
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
            or head[:6] in (b"GIF87a", b"GIF89a"))


def _read_bytes(storage, limit: int) -> bytes:
    data = storage.stream.read(limit + 1)
    if len(data) > limit:
        raise RuleError(_l("A imagem passa do limite de %(size)s.", size=human_size(limit)))
    if not data or not _looks_like_image(data[:16]):
        raise RuleError(NOT_AN_IMAGE)
    return data


def _decode(data: bytes):
    """The first frame of the image, fully decoded, upright, as RGB or RGBA."""
    from PIL import Image, ImageOps

    try:
        probe = Image.open(io.BytesIO(data))
        if probe.format not in ("PNG", "JPEG", "WEBP", "GIF"):
            raise RuleError(NOT_AN_IMAGE)
        width, height = probe.size
        if width < 1 or height < 1:
            raise RuleError(NOT_AN_IMAGE)
        if width * height > MAX_PIXELS:
            raise RuleError(_l("A imagem é grande demais: use no máximo 6000 × 6000 pixels."))
        probe.verify()  # checksums and structure; the object is unusable afterwards
        image = Image.open(io.BytesIO(data))
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image)
    except RuleError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        raise RuleError(NOT_AN_IMAGE) from None
    alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    return image.convert("RGBA" if alpha else "RGB")


def _png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def read_logo(storage) -> Picture | None:
    """The company logo from a FileStorage, fitted in LOGO_BOX keeping its proportions;
    None when no file was chosen. RuleError when it is not an image or too large."""
    if not chosen(storage):
        return None
    from PIL import Image

    image = _decode(_read_bytes(storage, logo_max_bytes()))
    image.thumbnail(LOGO_BOX, Image.Resampling.LANCZOS)
    return Picture(_png(image))


def read_avatar(storage) -> Picture | None:
    """A user's avatar from a FileStorage, cropped to a centred square of AVATAR_SIDE;
    None when no file was chosen. RuleError when it is not an image or too large."""
    if not chosen(storage):
        return None
    from PIL import Image, ImageOps

    image = _decode(_read_bytes(storage, avatar_max_bytes()))
    image = ImageOps.fit(image, (AVATAR_SIDE, AVATAR_SIDE), Image.Resampling.LANCZOS)
    return Picture(_png(image))


# --- files on disk ------------------------------------------------------------------------

FOLDERS = {"logo": "logo", "avatar": "avatars"}


def path(company_id: int, kind: str, key: str) -> Path:
    if not KEY_RE.fullmatch(key or ""):
        raise ValueError("bad file key")
    return (Path(current_app.instance_path) / "uploads" / str(int(company_id))
            / FOLDERS[kind] / key)


def _write(company_id: int, kind: str, picture: Picture) -> str:
    """Write the file first (a crash leaves an orphan file, never a row without file)."""
    key = new_file_key()
    target = path(company_id, kind, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(picture.data)
    tmp.replace(target)
    return key


def discard_after_commit(company_id: int | None, kind: str, key: str | None) -> None:
    """Delete a stored file once the transaction that stopped using it has committed."""
    if not key or company_id is None:
        return
    try:
        old = path(company_id, kind, key)
    except ValueError:
        return
    after_commit.later(lambda: old.unlink(missing_ok=True))


def set_logo(company: Company, picture: Picture | None) -> None:
    """Replace (picture) or remove (None) the company's logo; the old file goes after the
    commit."""
    _replace(company, company.id, "logo", picture)


def set_avatar(user: User, picture: Picture | None) -> None:
    """Replace (picture) or remove (None) the user's avatar; the old file goes after the
    commit. The super user has no company, hence no folder, hence no avatar."""
    if user.company_id is None:
        raise RuleError(_l("Usuários sem empresa não têm foto."))
    _replace(user, user.company_id, "avatar", picture)


def replace_file(row, company_id: int, kind: str, picture: Picture | None) -> None:
    """`_replace` for other rows that keep a logo of the company (the portal's, POR-1)."""
    _replace(row, company_id, kind, picture)


def _replace(row, company_id: int, kind: str, picture: Picture | None) -> None:
    """Point `row.<kind>_key/_mime` at a new file (or at none) and drop the old file
    after the commit."""
    old = getattr(row, f"{kind}_key")
    key = mime = None
    if picture is not None:
        key, mime = _write(company_id, kind, picture), picture.mime
    setattr(row, f"{kind}_key", key)
    setattr(row, f"{kind}_mime", mime)
    discard_after_commit(company_id, kind, old)


# --- finding a file to serve ---------------------------------------------------------------


def logo_file(key: str) -> tuple[Path, str] | None:
    """The logo stored under `key` (public: it is shown on the login page), if any."""
    if not KEY_RE.fullmatch(key or ""):
        return None
    row = db.session.execute(select(Company.id, Company.logo_mime).where(
        Company.logo_key == key, Company.active.is_(True))).first()
    return _existing(row, "logo", key)


def avatar_file(key: str, viewer: User) -> tuple[Path, str] | None:
    """The avatar stored under `key`, for a viewer of the same company (or the super
    user); None for anyone else, the same answer as a missing file."""
    if not KEY_RE.fullmatch(key or "") or viewer is None:
        return None
    q = select(User.company_id, User.avatar_mime).where(User.avatar_key == key)
    if not viewer.is_superuser:
        q = q.where(User.company_id == viewer.company_id)
    return _existing(db.session.execute(q).first(), "avatar", key)


def _existing(row, kind: str, key: str) -> tuple[Path, str] | None:
    if row is None or row[0] is None:
        return None
    found = path(row[0], kind, key)
    return (found, row[1] or STORED_MIME) if found.is_file() else None


# --- what pages and JSON show --------------------------------------------------------------


def logo_url(company: Company | None) -> str | None:
    return LOGO_PATH.format(key=company.logo_key) if company is not None and company.logo_key else None


def avatar_url(user: User | None) -> str | None:
    return AVATAR_PATH.format(key=user.avatar_key) if user is not None and user.avatar_key else None


def initials(name: str | None) -> str:
    """Up to two letters: the first of the first and of the last word ("Ana Souza" ->
    "AS", "ana" -> "A")."""
    words = [w for w in re.split(r"[\s._@-]+", name or "") if w and w[0].isalnum()]
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def colour(name: str | None) -> str:
    """A colour that stays the same for a name (CRC-32: Python's hash() changes per run)."""
    return INITIALS_COLOURS[zlib.crc32((name or "").encode("utf-8")) % len(INITIALS_COLOURS)]


@functools.lru_cache(maxsize=4096)
def _drawn(name: str) -> tuple[str, str]:
    """A name's initials and colour, worked out once per process and name (SCL-5: about
    2 µs a name, and a page of the inbox names up to one agent per row)."""
    return initials(name), colour(name)


def avatar(user: User | None, name: str | None = None) -> dict:
    """The JSON shape of an avatar: the uploaded image's URL (or None) and the initials
    with their colour, which pages draw when there is no image."""
    name = name if name is not None else (user.name if user is not None else "")
    letters, color = _drawn(name or "")
    return {"url": avatar_url(user), "initials": letters, "color": color}


def login_company(domain: str | None) -> Company | None:
    """The active company whose domain is given (the login page shows its logo and name,
    nothing else)."""
    return company_of_domain(domain)
