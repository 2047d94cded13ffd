"""Socket.IO rooms (RTM-1): joined only from the server-side identity of the user.

A client never names the room it wants; the server derives them from the logged-in user,
so a forged company or ticket id in an event cannot subscribe anyone to another tenant.
"""
from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_socketio import join_room

from .extensions import socketio


def company_room(company_id: int) -> str:
    return f"company:{company_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def rooms_for(user) -> list[str]:
    """Every room a user may be in; later issues add department and ticket rooms."""
    if user.is_superuser or user.company_id is None:
        return [user_room(user.id)]
    return [company_room(user.company_id), user_room(user.id)]


def emit_to_company(company_id: int, event: str, data: dict) -> None:
    socketio.emit(event, data, to=company_room(company_id))


@socketio.on("connect")
def on_connect(auth=None):
    if not current_user.is_authenticated:
        return False  # refused: the client gets a connect_error
    for room in rooms_for(current_user):
        join_room(room)
    socketio.emit("hello", {"rooms": rooms_for(current_user)}, to=request.sid)
