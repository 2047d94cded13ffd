"""Rules for Templates de mensagens (TPL-1..TPL-3): shortcut format and uniqueness,
what each kind needs, and the attachment file (type by content and extension, size,
storage under the instance folder with a random name)."""
from __future__ import annotations

import io
import re
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import MessageTemplate
from ..models.templates import KIND_ATTACHMENT, TEMPLATE_KINDS
from . import RuleError

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
MAX_BODY = 4096

# "/" then a letter or digit, then letters, digits, "-" or "_"; 40 characters in all.
# ASCII only: what an agent types after "/" in the message bar, and lower() folds it the
# same way in Python, SQLite and PostgreSQL. \Z, not $ (which allows a trailing newline).
SHORTCUT_RE = re.compile(r"^/[a-z0-9][a-z0-9_-]{0,38}\Z")
SHORTCUT_MESSAGE = _l("Atalho inválido: use / seguido de letras sem acento, números, - ou _ "
                      "(até 40 caracteres), por exemplo /bomdia.")

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _is_jpeg(head: bytes) -> bool:
    return head.startswith(b"\xff\xd8\xff")


def _is_png(head: bytes) -> bool:
    return head.startswith(b"\x89PNG\r\n\x1a\n")


def _is_gif(head: bytes) -> bool:
    return head[:6] in (b"GIF87a", b"GIF89a")


def _is_webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _is_mp4(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


def _is_mp3(head: bytes) -> bool:
    # An ID3 tag, or an MPEG audio frame header (11 sync bits set).
    return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def _is_ogg(head: bytes) -> bool:
    return head.startswith(b"OggS")


def _is_pdf(head: bytes) -> bool:
    return head.startswith(b"%PDF-")


def _zip_with(*members: str):
    """An Office Open XML file: a zip holding [Content_Types].xml and the part named."""
    def check(head: bytes, data: bytes) -> bool:
        if not head.startswith(b"PK\x03\x04"):
            return False
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return False
        return "[Content_Types].xml" in names and any(m in names for m in members)
    return check


def _head_only(check):
    return lambda head, data: check(head)


# extension -> (mime type sent back, content check). The extension and the first bytes
# must agree: a text file renamed .png, or an .exe, is refused.
ALLOWED: dict[str, tuple[str, object]] = {
    ".jpg": ("image/jpeg", _head_only(_is_jpeg)),
    ".jpeg": ("image/jpeg", _head_only(_is_jpeg)),
    ".png": ("image/png", _head_only(_is_png)),
    ".gif": ("image/gif", _head_only(_is_gif)),
    ".webp": ("image/webp", _head_only(_is_webp)),
    ".mp4": ("video/mp4", _head_only(_is_mp4)),
    ".mp3": ("audio/mpeg", _head_only(_is_mp3)),
    ".ogg": ("audio/ogg", _head_only(_is_ogg)),
    ".oga": ("audio/ogg", _head_only(_is_ogg)),
    ".opus": ("audio/ogg", _head_only(_is_ogg)),
    ".pdf": ("application/pdf", _head_only(_is_pdf)),
    ".docx": (DOCX, _zip_with("word/document.xml")),
    ".xlsx": (XLSX, _zip_with("xl/workbook.xml")),
}


@dataclass
class Upload:
    data: bytes
    name: str
    mime: str

    @property
    def size(self) -> int:
        return len(self.data)


def max_bytes() -> int:
    return int(current_app.config.get("TEMPLATE_MAX_BYTES") or DEFAULT_MAX_BYTES)


def human_size(n: int) -> str:
    mb = 1024 * 1024
    if n >= mb and n % mb == 0:
        return f"{n // mb} MB"
    if n >= mb:
        return f"{n / mb:.1f} MB".replace(".", ",")
    return f"{max(n // 1024, 1)} KB"


def _display_name(name: str) -> str:
    """The user's file name, kept only for display and downloads: no path, no control
    characters, at most 255 characters."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[-255:] or "arquivo"


def read_upload(storage, limit: int | None = None) -> Upload:
    """Check a werkzeug FileStorage; RuleError with the reason when it is refused."""
    limit = limit or max_bytes()
    name = _display_name(storage.filename or "")
    data = storage.stream.read(limit + 1)
    if len(data) > limit:
        raise RuleError(_l("Arquivo grande demais: máximo %(size)s", size=human_size(limit)))
    ext = Path(name).suffix.lower()
    allowed = ALLOWED.get(ext)
    if allowed is None or not data or not allowed[1](data[:16], data):
        raise RuleError(_l("Tipo de arquivo não permitido: %(name)s. Envie imagem (JPEG, PNG, "
                           "GIF, WebP), vídeo MP4, áudio MP3 ou OGG, ou documento PDF, DOCX ou "
                           "XLSX.", name=name))
    return Upload(data=data, name=name, mime=allowed[0])


# --- the row -------------------------------------------------------------------------------


def normalise_shortcut(value: str | None) -> str:
    value = (value or "").strip().lower()
    if value and not value.startswith("/"):
        value = "/" + value
    if not SHORTCUT_RE.match(value):
        raise RuleError(SHORTCUT_MESSAGE)
    return value


def check_shortcut(company_id: int, value: str | None, exclude_id: int | None = None) -> str:
    shortcut = normalise_shortcut(value)
    q = MessageTemplate.owned(company_id, MessageTemplate.id).where(
        MessageTemplate.shortcut == shortcut)
    if exclude_id is not None:
        q = q.where(MessageTemplate.id != exclude_id)
    if db.session.scalar(q) is not None:
        raise RuleError(_l("Já existe um template com o atalho %(shortcut)s.", shortcut=shortcut))
    return shortcut


def check_template(template: MessageTemplate, upload: Upload | None, exclude_id: int | None) -> None:
    """Tidy and check a template before it is saved (the file itself is checked by
    read_upload). Raises RuleError."""
    if template.kind not in TEMPLATE_KINDS:
        raise RuleError(_l("Tipo de template inválido."))
    template.shortcut = check_shortcut(template.company_id, template.shortcut, exclude_id)
    template.title = (template.title or "").strip()
    if not template.title:
        raise RuleError(_l("Informe o título do template."))
    template.body = (template.body or "").strip() or None
    if template.body and len(template.body) > MAX_BODY:
        raise RuleError(_l("A mensagem pode ter no máximo %(n)s caracteres.", n=MAX_BODY))
    if template.kind == KIND_ATTACHMENT:
        if upload is None and not template.file_key:
            raise RuleError(_l("Envie o arquivo do template de anexo."))
    else:
        if upload is not None:
            raise RuleError(_l("Só templates do tipo Anexo levam arquivo."))
        if not template.body:
            raise RuleError(_l("Informe a mensagem do template."))


# --- files on disk -------------------------------------------------------------------------


def upload_dir(company_id: int) -> Path:
    return Path(current_app.instance_path) / "uploads" / str(int(company_id)) / "templates"


def file_path(company_id: int, key: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}", key or ""):
        raise ValueError("bad file key")
    return upload_dir(company_id) / key


def new_file_key() -> str:
    return secrets.token_hex(16)


def write_file(company_id: int, key: str, data: bytes) -> Path:
    path = file_path(company_id, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def remove_file(company_id: int, key: str | None) -> None:
    if not key:
        return
    try:
        file_path(company_id, key).unlink(missing_ok=True)
    except ValueError:
        pass


def attach(template: MessageTemplate, upload: Upload) -> str:
    """Point the row at a new random file name; returns the key (write_file saves it)."""
    template.file_key = new_file_key()
    template.file_name = upload.name
    template.file_mime = upload.mime
    template.file_size = upload.size
    return template.file_key


def detach(template: MessageTemplate) -> None:
    template.file_key = template.file_name = template.file_mime = None
    template.file_size = None
