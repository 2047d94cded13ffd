"""Saving and publishing chatbot flows (AUT-2).

The editor saves the graph as the flow's draft (checked first: a draft that could leave a
customer stuck is refused with every reason); publishing copies the stored draft into a
new FlowVersion, numbered after the last one, which is never changed afterwards: a
conversation finishes on the version it started on.
"""
from __future__ import annotations

import copy

from flask_babel import gettext as _
from sqlalchemy import event, func, select

from ...extensions import db
from ...models.automation import Flow, FlowVersion
from ...services import RuleError
from . import checker

check = checker.check


def save_draft(flow: Flow, graph) -> None:
    """Store `graph` as the flow's draft, or RuleError with every reason ("; ")."""
    reasons = checker.check(flow.company_id, graph)
    if reasons:
        raise RuleError("; ".join(reasons))
    flow.draft = copy.deepcopy(graph)  # a new object: the JSON column sees the change


def publish(flow: Flow, user=None) -> FlowVersion:
    """The stored draft, checked again, as the flow's next version (published now)."""
    graph = flow.draft or {}
    reasons = checker.check(flow.company_id, graph)
    if reasons:
        raise RuleError("; ".join(reasons))
    if flow.id is None:
        db.session.flush()
    last = db.session.scalar(select(func.max(FlowVersion.number))
                             .where(FlowVersion.flow_id == flow.id)) or 0
    version = FlowVersion(company_id=flow.company_id, flow_id=flow.id, number=last + 1,
                          graph=copy.deepcopy(graph),
                          published_by_id=getattr(user, "id", None))
    db.session.add(version)
    db.session.flush()
    flow.published_version = version
    flow.published_version_id = version.id
    return version


@event.listens_for(FlowVersion, "before_update")
def _immutable(mapper, connection, version: FlowVersion) -> None:
    """A published version is never changed (its runs read it)."""
    state = db.inspect(version)
    if any(state.attrs[name].history.has_changes() for name in ("graph", "number", "flow_id")):
        raise RuleError(_("Uma versão publicada não pode ser alterada."))
