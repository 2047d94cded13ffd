"""SQLAlchemy models, one module per aggregate. Import them all here so Alembic sees them."""
from .base import TenantMixin, utcnow  # noqa: F401
from .company import Company, Plan, ProtocolSequence  # noqa: F401
from .users import PermissionGroup, User  # noqa: F401
from .audit import AuditLog  # noqa: F401
from .catalog import Reason, Tag  # noqa: F401
from .schedule import Holiday, Period, PeriodSchedule  # noqa: F401
