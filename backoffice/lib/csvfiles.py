"""Reading CSV files as people make them (IMP-3) and writing ones Excel opens (EXP-1).

Reading: the encoding is UTF-8 (with or without BOM) when the whole file decodes as
such, else Windows-1252, Excel pt-BR's "CSV (separado por ponto e vírgula)"; charset
guessers misread short cp1252 files. The delimiter is whichever of ; , tab appears most
in the header line (outside quotes), ";" on a tie. Both can be overridden by the user.
Files are streamed, never read whole.

Writing: ";" and UTF-8 with BOM (Excel pt-BR then splits columns and shows accents), and
cells a spreadsheet would run as a formula (= + - @, tab, CR) are prefixed with "'".
"""
from __future__ import annotations

import codecs
import functools
import csv
import io
import unicodedata
from pathlib import Path
from typing import IO, Iterable, Iterator

from flask_babel import lazy_gettext as _l

from .errors import RuleError

ENCODINGS = {
    "utf-8-sig": _l("UTF-8"),
    "cp1252": _l("Windows-1252 (Excel)"),
    "latin-1": _l("ISO-8859-1"),
}
DELIMITERS = {";": _l("Ponto e vírgula (;)"), ",": _l("Vírgula (,)"), "\t": _l("Tabulação")}
CHUNK = 1024 * 1024

# Magic numbers of what people rename to .csv by mistake, with a hint each.
_NOT_CSV = (
    (b"PK\x03\x04", _l("O arquivo é uma planilha do Excel (.xlsx) ou um .zip, não um CSV. "
                        "No Excel, use Arquivo > Salvar como > CSV (separado por ponto e vírgula).")),
    (b"\xd0\xcf\x11\xe0", _l("O arquivo é uma planilha do Excel antigo (.xls), não um CSV. "
                             "No Excel, use Arquivo > Salvar como > CSV (separado por ponto e vírgula).")),
    (b"%PDF", _l("O arquivo é um PDF, não um CSV.")),
    (b"\x89PNG", _l("O arquivo é uma imagem, não um CSV.")),
    (b"\xff\xd8\xff", _l("O arquivo é uma imagem, não um CSV.")),
    (b"GIF8", _l("O arquivo é uma imagem, não um CSV.")),
)


def check_is_text(head: bytes) -> None:
    """RuleError when the first bytes are no CSV (spreadsheet, image, any binary)."""
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        raise RuleError(_l("O arquivo está vazio."))
    for magic, message in _NOT_CSV:
        if head.startswith(magic):
            raise RuleError(message)
    if b"\x00" in head:
        raise RuleError(_l("O arquivo não é um CSV de texto (tem conteúdo binário). "
                           "Salve a planilha como CSV e envie de novo."))


def detect_encoding(path: Path) -> str:
    """utf-8-sig if the whole file is valid UTF-8, else cp1252 (latin-1 for the bytes
    cp1252 leaves undefined). Streams the file in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    decoder = codecs.getincrementaldecoder("cp1252")()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                decoder.decode(chunk)
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _header_line(text: str) -> str:
    """The first record's text, quoted line breaks included."""
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch in "\r\n" and not quoted:
            if text[:i].strip():
                return text[:i]
    return text


def detect_delimiter(sample: str) -> str:
    line = _header_line(sample.lstrip("\r\n"))
    counts = {d: 0 for d in DELIMITERS}
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: (counts[d], d == ";"))
    return best if counts[best] else ";"


def open_text(path: Path, encoding: str) -> IO[str]:
    # newline="" lets the csv module see quoted line breaks; "replace" keeps a stray
    # undecodable byte (the user chose the wrong encoding) from aborting the whole import
    return open(path, encoding=encoding, errors="replace", newline="")


def read_sample(path: Path, encoding: str, size: int = 64 * 1024) -> str:
    with open_text(path, encoding) as fh:
        return fh.read(size)


def records(fh: IO[str], delimiter: str) -> Iterator[list[str]]:
    """Every record of the file, the header first; a blank line is an empty list."""
    return csv.reader(fh, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)


@functools.lru_cache(maxsize=4096)  # an import folds the same few tag names on every row
def fold(text: str) -> str:
    """A header or label compared loosely: no accents, lower case, words joined by "_"
    ("Telefone ", "TELEFONE", "Téléfone" -> "telefone"; "E-mail" -> "e_mail")."""
    plain = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch)).lower()
    out, gap = [], False
    for ch in plain:
        if ch.isalnum():
            if gap and out:
                out.append("_")
            out.append(ch)
            gap = False
        else:
            gap = True
    return "".join(out)


# -- writing ---------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """A cell as text, neutralised if Excel would run it as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class ExcelWriter:
    """Rows to ";" separated UTF-8 text with a BOM, Excel pt-BR's dialect."""

    def __init__(self, out: IO[str]):
        self._writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")

    def row(self, cells: Iterable) -> None:
        self._writer.writerow([safe_cell(c) for c in cells])


def open_for_excel(path: Path) -> IO[str]:
    return open(path, "w", encoding="utf-8-sig", newline="")


def rows_to_text(rows: Iterable[Iterable]) -> str:
    """Small CSVs built in memory (the template, Flask-Admin list exports)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = ExcelWriter(buf)
    for row in rows:
        writer.row(row)
    return buf.getvalue()
