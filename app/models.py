"""Imports every model so that metadata (and Alembic) sees all tables."""
from .attachments.models import Attachment  # noqa: F401
from .auth.models import LoginAttempt, User, UserRole  # noqa: F401
from .calendar.models import CalendarOverride, CalendarYear, ProvisionalDeadline  # noqa: F401
from .cases.models import AuditEntry, Case, CaseCounter, Incident, ReadyTask, WorkflowInstance  # noqa: F401
from .db import Base  # noqa: F401
from .intake.models import RepeatCall  # noqa: F401
from .notifications.models import Notification, OutboxMessage  # noqa: F401
from .org.models import Department, Grid, GridTeamMember, OrgUnit  # noqa: F401
from .processes.models import ProcessDraft, ProcessVersion, WhatifRun  # noqa: F401
from .supervision.models import SupervisionItem  # noqa: F401
from .reports.report_models import JobRun, Report  # noqa: F401
from .reports.score_models import ScoreMonth  # noqa: F401
from .reports.rollup_models import DailyRollup, TaskDwell  # noqa: F401
from .reports.kpi_rollup import KpiDaily, KpiHandling  # noqa: F401
from .scheduling.models import SchedulerHeartbeat  # noqa: F401
from .operations.models import ArchivedState  # noqa: F401
from .api.models import ApiClient, ApiKey, IdempotentRequest, WebhookDelivery  # noqa: F401
from .volunteers.models import Activity, Federation, LedgerEntry, Organiser, Redemption, Reward, Signup, Team, Volunteer  # noqa: F401
from .patrol.models import Patrol, PatrolReport, SpotCheck  # noqa: F401
from .joint.models import CoHandler, DisposalRecord, JointMeeting, LeaderInstruction  # noqa: F401
