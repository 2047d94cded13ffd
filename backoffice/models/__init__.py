"""SQLAlchemy models, one module per aggregate. Import them all here so Alembic sees them."""
from .base import TenantMixin, utcnow  # noqa: F401
from .company import Company, Plan, ProtocolSequence  # noqa: F401
from .users import PasswordReset, PermissionGroup, User  # noqa: F401
from .audit import AuditLog  # noqa: F401
from .departments import Department, DepartmentMember, reason_department  # noqa: F401
from .catalog import Reason, Tag  # noqa: F401
from .schedule import Holiday, Period, PeriodSchedule  # noqa: F401
from .templates import CompanySettings, MessageTemplate  # noqa: F401
from .webhooks import Webhook, WebhookDelivery  # noqa: F401
from .telephony import TelephonySettings  # noqa: F401
from .pauses import Pause, PauseWindow  # noqa: F401
from .channels import ChannelEvent, Connection, ProviderTemplate  # noqa: F401
from .contacts import Contact, ContactAddress  # noqa: F401
from .tickets import Message, Ticket, TicketEvent, message_tag, ticket_tag  # noqa: F401
from .farewells import FarewellMessage  # noqa: F401
from .presence import PauseSession, PresenceSession  # noqa: F401
from .contacts import ContactField, contact_tag  # noqa: F401
from .data_jobs import DataJob, DataJobError  # noqa: F401
from .users import SessionSocket, UserSession  # noqa: F401  (SEC-4)
from .automation import AutomationRule, Flow, FlowRun, FlowVersion, ScheduledMessage, SurveyAnswer  # noqa: F401
from .api import ApiToken, IdempotentRequest, Integration  # noqa: F401
from .reports import PanelKey, TicketReport  # noqa: F401
from .portal import (ContactMethod, CustomerOrganization, PortalAccount, PortalRequest,  # noqa: F401
                     PortalSettings, PortalToken, ServiceClassification,
                     ServiceSubclassification)
from .articles import Article, ArticleCategory, ArticleFeedback  # noqa: F401
