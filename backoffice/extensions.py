"""Extension objects, created unbound and attached in create_app()."""
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, with its engine looked up once.

    Flask-SQLAlchemy's get_bind finds the app's engines through the app context on every
    statement and at each step of a flush (twice per mapper flushed, deleting or not):
    about 1% of an inbound message's CPU (SCL-3). A session lives within one app context
    (Flask-SQLAlchemy's scope), so its app and that app's engines cannot change under
    it. Several binds (SQLALCHEMY_BINDS, unused here) still go the long way."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is not None:
            return bind
        engine = self.__dict__.get("_one_engine")
        if engine is None:
            engines = self._db.engines
            if len(engines) != 1 or None not in engines:
                return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
            engine = self._one_engine = engines[None]
        return engine


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# threading mode explicitly: eventlet would be picked if installed, and it is unmaintained.
socketio = SocketIO(async_mode="threading")
