"""Secrets encrypted at rest (SEC-8): Fernet tokens in the database, plain text in Python.

The keys are the app's ENCRYPTION_KEYS (backoffice.config: the environment variable of
that name, comma-separated Fernet keys, else one key generated once into
instance/encryption_key). The first key encrypts; every key decrypts, so a key is
rotated by putting the new one first and keeping the old one after it until every
secret has been written again.

`EncryptedText` is the column type: the ORM and Core statements alike encrypt on the way
in and decrypt on the way out, so no code outside this module sees a token. Fernet
tokens are random (a new IV each time), so these columns cannot be compared in a WHERE.
"""
from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

CONFIG_KEY = "ENCRYPTION_KEYS"


class SecretKeyError(RuntimeError):
    """The configured keys cannot read a stored secret, or are not Fernet keys."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def parse_keys(value) -> tuple[str, ...]:
    """'k1, k2' or ['k1', 'k2'] -> ('k1', 'k2'), empty parts dropped."""
    if isinstance(value, str):
        value = value.split(",")
    return tuple(k.strip() for k in (value or ()) if k and k.strip())


@lru_cache(maxsize=8)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise SecretKeyError(f"{CONFIG_KEY} está vazio: nenhuma chave para cifrar os segredos.")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError):
        # never echo the keys themselves
        raise SecretKeyError(f"{CONFIG_KEY} tem uma chave inválida: cada chave é uma chave "
                             "Fernet (32 bytes em base64 url-safe), separadas por vírgula.") from None


def cipher(keys=None) -> MultiFernet:
    return _cipher(parse_keys(keys if keys is not None else current_app.config.get(CONFIG_KEY)))


def encrypt(text: str, keys=None) -> str:
    return cipher(keys).encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str, keys=None) -> str:
    try:
        return cipher(keys).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise SecretKeyError(
            f"Não foi possível decifrar um segredo gravado: nenhuma chave de {CONFIG_KEY} o "
            "abre. Configure a chave com que ele foi cifrado (a antiga depois da nova, ao "
            "trocar de chave).") from None


class EncryptedText(TypeDecorator):
    """Text column holding a Fernet token of the value; None stays NULL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return encrypt(str(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return decrypt(value)
