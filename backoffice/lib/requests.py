"""The request class's text cleaning (SEC-7): every text a client sends reaches the views
without NUL characters.

PostgreSQL refuses NUL inside text (a DataError, a 500 on any query that carries it:
a search, a filter, a login e-mail, a form field), and JSON may also carry lone UTF-16
surrogates ("\\ud800"), which no database encoding accepts. Neither is anything a person
types: they are dropped, in one place, from the query string, the form fields, the names
of uploaded files, JSON bodies and URL path values, so the rest of the text is kept as
typed (the inbox already dropped NUL from messages; refusing the whole request would lose
the user's form for an invisible character).
"""
from __future__ import annotations

import re

from flask import Request
from flask import json as flask_json
from werkzeug.utils import cached_property

_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def clean_text(value: str) -> str:
    return _UNSAFE.sub("", value) if _UNSAFE.search(value) else value


def clean_data(value):
    """Strings inside lists and dicts (keys too) of a parsed JSON body, cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_data(v) for v in value]
    if isinstance(value, dict):
        return {clean_data(k): clean_data(v) for k, v in value.items()}
    return value


def _clean_multidict(data):
    if not any(_UNSAFE.search(k) or any(_UNSAFE.search(v) for v in values)
               for k, values in data.lists()):
        return data
    return type(data)([(clean_text(k), clean_text(v))
                       for k, values in data.lists() for v in values])


class _CleaningJson:
    """A JSON provider whose `loads` cleans what it parsed (Request.get_json calls it)."""

    def __init__(self, provider):
        self._provider = provider

    def __getattr__(self, name):
        return getattr(self._provider, name)

    def loads(self, data, **kwargs):
        return clean_data(self._provider.loads(data, **kwargs))


class CleanTextRequest(Request):
    # Flask sets each request's json_module to the app's JSON provider: wrap it there.
    @property
    def json_module(self):
        return self.__dict__.get("_json_module") or _CleaningJson(flask_json)

    @json_module.setter
    def json_module(self, provider):
        self.__dict__["_json_module"] = _CleaningJson(provider)

    @cached_property
    def args(self):
        return _clean_multidict(super().args)

    def _load_form_data(self) -> None:
        super()._load_form_data()
        d = self.__dict__
        d["form"] = _clean_multidict(d["form"])
        for _name, storages in d["files"].lists():
            for storage in storages:
                if storage.filename:
                    storage.filename = clean_text(storage.filename)

    @property
    def view_args(self):
        return self.__dict__.get("_view_args")

    @view_args.setter
    def view_args(self, value):
        # set by Flask when it matches the URL; path values are text too
        if value:
            value = {k: clean_text(v) if isinstance(v, str) else v for k, v in value.items()}
        self.__dict__["_view_args"] = value
