"""Persistent ORM objects from one Core row (SCL-5): the login of every request.

Every request and socket event loads its user, with the company and the permission group,
by one statement (services.sessions.find). Through the ORM's query machinery that costs
about as much again as the statement's round trip: the loading context, a row processor
per entity and per eager load, the identity map's bookkeeping. The same three objects
built from a Core row of the same columns cost a fraction of it.

`Entity.take` builds an object from its table's columns in a row and attaches it to the
session as if a query had loaded it: its column values are its loaded, committed state
(`make_transient_to_detached`, then `Session.add`), so it compares, flushes, expires and
refreshes like any loaded object, and attributes it was not given (relationships) load
lazily on first use, as after a query. An object of the same identity already in the
session wins: the session keeps one object per row.

Only table columns are read: a model with a column_property or a deferred column would
need the query (`Entity` refuses such a model).
"""
from __future__ import annotations

from sqlalchemy import Table, inspect
from sqlalchemy.orm import Session, make_transient_to_detached


class Entity:
    """How to read one model's columns out of a wider row, from a position on."""

    def __init__(self, model: type):
        mapper = inspect(model)
        table = mapper.local_table
        if not isinstance(table, Table) or mapper.inherits is not None:
            raise TypeError(f"{model.__name__}: a plain table model is required")
        props = mapper.column_attrs
        if len(props) != len(table.c) or any(p.deferred for p in props):
            raise TypeError(f"{model.__name__}: column properties or deferred columns")
        self.model = model
        self.mapper = mapper
        self.columns = list(table.c)
        self.keys = [mapper.get_property_by_column(c).key for c in self.columns]
        self.primary = self.columns.index(table.primary_key.columns.values()[0])
        if len(table.primary_key.columns) != 1:
            raise TypeError(f"{model.__name__}: a single-column primary key is required")

    def take(self, session: Session, row, start: int, links: dict | None = None):
        """The object whose columns begin at `row[start]`, persistent in `session`; None
        when its primary key is NULL (an outer join that found nothing). `links`:
        relationships to set as loaded (key -> object or None), only on a new object."""
        ident = row[start + self.primary]
        if ident is None:
            return None
        found = session.identity_map.get(self.mapper.identity_key_from_primary_key((ident,)))
        if found is not None:
            return found
        obj = self.mapper.class_manager.new_instance()
        values = obj.__dict__
        values.update(zip(self.keys, row[start:start + len(self.keys)]))
        if links:
            values.update(links)
        make_transient_to_detached(obj)
        session.add(obj)
        return obj

    def __len__(self) -> int:
        return len(self.columns)
