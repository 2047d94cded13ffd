"""The words of an article and of a query, the same way on both backends (ART-1).

Accents are taken out in Python (unicodedata), so "devolução" and "devolucao" are one
word without PostgreSQL's unaccent extension; the embedded mode stems with snowball's
Portuguese stemmer (the one PostgreSQL's `portuguese` configuration uses), so "boletos"
and "boleto" are one stem in SQLite's FTS5 too.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer
from markdown_it import MarkdownIt

WORD_RE = re.compile(r"[a-z0-9]+")
# Words that say nothing about an article (a subset of snowball's Portuguese list, which
# PostgreSQL drops by itself): in the embedded mode they would match every article.
STOPWORDS = frozenset("""
a ao aos as at ate com como da das de dela dele deles do dos e ela elas ele eles em
entre era essa esse esta este eu foi ha isso isto ja la lhe mais mas me meu minha muito
na nao nas nem no nos nossa nosso num numa o os ou para pela pelas pelo pelos por qual
quando que quem se sem ser seu sua suas seus so sobre tambem te tem ter um uma uns voce
voces vou estou esta estao foi quero preciso
""".split())

_stemmer = snowballstemmer.stemmer("portuguese")
_parser = MarkdownIt("commonmark", {"html": False})


def normalise(text: str | None) -> str:
    """Lower case, accents removed: 'Devolução' -> 'devolucao'."""
    decomposed = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _singular_ao(word: str) -> str:
    # "devoluções" loses its accents before stemming, and the stemmer then no longer sees
    # the plural of "devolução": fold "-oes" back to "-ao" (botoes, devolucoes, opcoes)
    return word[:-3] + "ao" if len(word) > 5 and word.endswith("oes") else word


def words(text: str | None) -> list[str]:
    """The words of `text`, normalised, stopwords left out."""
    return [_singular_ao(w) for w in WORD_RE.findall(normalise(text)) if w not in STOPWORDS]


@lru_cache(maxsize=4096)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


def stems(text: str | None) -> list[str]:
    return [stem(w) for w in words(text)]


def plain_text(markdown: str | None) -> str:
    """What a reader reads of a Markdown body: the text, without its markup."""
    parts: list[str] = []
    for token in _parser.parse(markdown or ""):
        for child in token.children or ():
            if child.type in ("text", "code_inline"):
                parts.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                parts.append(" ")
        if token.type in ("code_block", "fence"):
            parts.append(token.content)
        if token.type.endswith("_close") and token.block:
            parts.append("\n")
    return re.sub(r"[ \t]+", " ", "".join(parts)).strip()
