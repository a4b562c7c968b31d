"""Initial schema of the operational store (hand-written; mirrors overdue.store.tables).

Money is BIGINT fen, business dates DATE, instants TIMESTAMP WITH TIME ZONE (naive UTC on SQLite).
The audit log is append-only: triggers refuse UPDATE and DELETE on PostgreSQL and SQLite.
Values of enumerations are frozen here on purpose (a migration must not change when the code does).

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)

AUDIT_REFUSAL = "audit_log is append-only"

_PG_GUARD = (
    "CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{AUDIT_REFUSAL}'; END; $$",
    "CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()",
)
_PG_UNGUARD = (
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_update_or_delete ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_refuse_change()",
)
_SQLITE_GUARD = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{AUDIT_REFUSAL}'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{AUDIT_REFUSAL}'); END",
)
_SQLITE_UNGUARD = (
    "DROP TRIGGER IF EXISTS audit_log_no_update",
    "DROP TRIGGER IF EXISTS audit_log_no_delete",
)


def _dialect() -> str:
    return op.get_bind().dialect.name


def _create_audit_guard() -> None:
    statements = {"postgresql": _PG_GUARD, "sqlite": _SQLITE_GUARD}.get(_dialect())
    if statements is None:
        raise NotImplementedError(f"no append-only guard for {_dialect()}")
    for statement in statements:
        op.execute(statement)


def _drop_audit_guard() -> None:
    for statement in {"postgresql": _PG_UNGUARD, "sqlite": _SQLITE_UNGUARD}.get(_dialect(), ()):
        op.execute(statement)


def upgrade() -> None:
    """Create every table of the operational store, then the audit log's guard triggers."""
    op.create_table(
        "agencies",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("daily_contact_allowance", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
        sa.UniqueConstraint("code", name=op.f("uq_agencies_code")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("actor_user_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor_user_id", "at"], unique=False)
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"], unique=False)

    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=400), nullable=True),
        sa.Column("id_number", sa.String(length=40), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("do_not_contact", sa.Boolean(), nullable=False),
        sa.Column("dispute", sa.Boolean(), nullable=False),
        sa.Column("hardship", sa.Boolean(), nullable=False),
        sa.Column("vulnerable", sa.Boolean(), nullable=False),
        sa.Column("deceased", sa.Boolean(), nullable=False),
        sa.Column("bankruptcy", sa.Boolean(), nullable=False),
        sa.Column("cease_communication", sa.Boolean(), nullable=False),
        sa.Column("contact_window_start", sa.Time(), nullable=True),
        sa.Column("contact_window_end", sa.Time(), nullable=True),
        sa.Column("personal_data_purged_on", sa.Date(), nullable=True),
        sa.Column("updated_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "language IN ('zh-CN', 'en')", name=op.f("ck_customers_language_values")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    op.create_table(
        "inbound_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.Column("processed_at", INSTANT, nullable=True),
        sa.CheckConstraint(
            "kind IN ('payment', 'delivery_receipt', 'call_outcome', 'reply')",
            name=op.f("ck_inbound_events_kind_values"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_events")),
        sa.UniqueConstraint("kind", "external_id", name="uq_inbound_events_kind_external_id"),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index("ix_login_attempts_ip_at", "login_attempts", ["ip", "at"], unique=False)
    op.create_index(
        "ix_login_attempts_username_at", "login_attempts", ["username", "at"], unique=False
    )

    op.create_table(
        "outbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("to_address", sa.String(length=400), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", INSTANT, nullable=False),
        sa.Column("locked_at", INSTANT, nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("sent_at", INSTANT, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed', 'dead')",
            name=op.f("ck_outbox_status_values"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    op.create_index(
        "ix_outbox_status_next_attempt", "outbox", ["status", "next_attempt_at"], unique=False
    )

    op.create_table(
        "payments",
        sa.Column("id", ID, nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_payments_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payments_payment_id")),
    )
    op.create_index(
        "ix_payments_account_value_date", "payments", ["account_id", "value_date"], unique=False
    )

    op.create_table(
        "teams",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "kind IN ('collection', 'customer_service', 'risk', 'legal', 'agency')",
            name=op.f("ck_teams_kind_values"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("product", sa.String(length=20), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("bucket_cn", sa.String(length=4), nullable=False),
        sa.Column("total_overdue_fen", sa.BigInteger(), nullable=False),
        sa.Column("charged_off_on", sa.Date(), nullable=True),
        sa.Column("snapshot_as_of", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_accounts_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_accounts")),
    )
    op.create_index(op.f("ix_accounts_customer_id"), "accounts", ["customer_id"], unique=False)

    op.create_table(
        "channel_preferences",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("opted_out_at", INSTANT, nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "channel IN ('push', 'sms', 'email', 'voice_robot', 'voice_agent', 'letter', 'field_visit', 'agency', 'legal')",
            name=op.f("ck_channel_preferences_channel_values"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_channel_preferences_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_preferences")),
        sa.UniqueConstraint(
            "customer_id", "channel", name="uq_channel_preferences_customer_channel"
        ),
    )
    op.create_table(
        "contact_points",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=400), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('phone', 'email', 'address', 'app')",
            name=op.f("ck_contact_points_kind_values"),
        ),
        sa.CheckConstraint(
            "relation IN ('debtor', 'emergency_contact')",
            name=op.f("ck_contact_points_relation_values"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_contact_points_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_points")),
    )
    op.create_index(
        op.f("ix_contact_points_customer_id"), "contact_points", ["customer_id"], unique=False
    )

    op.create_table(
        "payment_reversals",
        sa.Column("id", ID, nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("reversed_on", sa.Date(), nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.payment_id"],
            name=op.f("fk_payment_reversals_payment_id_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reversals")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payment_reversals_payment_id")),
    )
    op.create_table(
        "queues",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("bucket", sa.String(length=4), nullable=True),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("team_id", ID, nullable=True),
        sa.Column("sla_days", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.CheckConstraint("sla_days >= 0", name=op.f("ck_queues_sla_days_nonnegative")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_queues_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_queues_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("team_id", ID, nullable=True),
        sa.Column("agency_id", ID, nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("max_open_cases", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.CheckConstraint("language IN ('zh-CN', 'en')", name=op.f("ck_users_language_values")),
        sa.CheckConstraint(
            "role IN ('admin', 'manager', 'analyst', 'collector', 'agency', 'customer_service', 'auditor')",
            name=op.f("ck_users_role_values"),
        ),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_users_capacity_nonnegative")),
        sa.CheckConstraint("max_open_cases >= 0", name=op.f("ck_users_max_open_cases_nonnegative")),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_users_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_users_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "cases",
        sa.Column("case_id", ID, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("close_reason", sa.String(length=30), nullable=True),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("bucket_cn", sa.String(length=4), nullable=False),
        sa.Column("overdue_fen", sa.BigInteger(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("penalty_fen", sa.BigInteger(), nullable=False),
        sa.Column("balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=True),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("score_model_version", sa.String(length=100), nullable=True),
        sa.Column("priority_score", sa.BigInteger(), nullable=False),
        sa.Column("assigned_user_id", ID, nullable=True),
        sa.Column("team_id", ID, nullable=True),
        sa.Column("agency_id", ID, nullable=True),
        sa.Column("pause_reason", sa.String(length=30), nullable=True),
        sa.Column("next_promise_on", sa.Date(), nullable=True),
        sa.Column("sla_due_on", sa.Date(), nullable=True),
        sa.Column("last_contact_at", INSTANT, nullable=True),
        sa.Column("updated_on", sa.Date(), nullable=False),
        sa.CheckConstraint(
            "(status = 'closed') = (closed_on IS NOT NULL)",
            name=op.f("ck_cases_closed_on_iff_closed"),
        ),
        sa.CheckConstraint(
            "close_reason IN ('cured', 'settled', 'charged_off_placed', 'written_off')",
            name=op.f("ck_cases_close_reason_values"),
        ),
        sa.CheckConstraint("language IN ('zh-CN', 'en')", name=op.f("ck_cases_language_values")),
        sa.CheckConstraint(
            "status IN ('open', 'paused', 'closed')", name=op.f("ck_cases_status_values")
        ),
        sa.CheckConstraint("balance_fen >= 0", name=op.f("ck_cases_balance_nonnegative")),
        sa.CheckConstraint("overdue_fen >= 0", name=op.f("ck_cases_overdue_nonnegative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_cases_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_cases_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_user_id"], ["users.id"], name=op.f("fk_cases_assigned_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.customer_id"], name=op.f("fk_cases_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_cases_team_id_teams")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_cases")),
    )
    op.create_index("ix_cases_account_status", "cases", ["account_id", "status"], unique=False)
    op.create_index("ix_cases_agency_status", "cases", ["agency_id", "status"], unique=False)
    op.create_index(
        "ix_cases_assigned_status_priority",
        "cases",
        ["assigned_user_id", "status", "priority_score"],
        unique=False,
    )
    op.create_index(op.f("ix_cases_customer_id"), "cases", ["customer_id"], unique=False)
    op.create_index(
        "ix_cases_queue_status", "cases", ["queue", "status", "priority_score"], unique=False
    )
    op.create_index("ix_cases_status_priority", "cases", ["status", "priority_score"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("csrf_token", sa.String(length=128), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("expires_at", INSTANT, nullable=False),
        sa.Column("last_seen_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(
        op.f("ix_web_sessions_expires_at"), "web_sessions", ["expires_at"], unique=False
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"], unique=False)

    op.create_table(
        "approvals",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("proposed_by", ID, nullable=False),
        sa.Column("proposed_at", INSTANT, nullable=False),
        sa.Column("approved_by", ID, nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decided_at", INSTANT, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('waiver', 'plan', 'settlement')", name=op.f("ck_approvals_kind_values")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')", name=op.f("ck_approvals_status_values")
        ),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_approvals_amount_nonnegative")),
        sa.CheckConstraint(
            "approved_by IS NULL OR approved_by <> proposed_by",
            name=op.f("ck_approvals_maker_is_not_checker"),
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["users.id"], name=op.f("fk_approvals_approved_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_approvals_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by"], ["users.id"], name=op.f("fk_approvals_proposed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    op.create_index(op.f("ix_approvals_case_id"), "approvals", ["case_id"], unique=False)

    op.create_table(
        "assignments",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("team_id", ID, nullable=True),
        sa.Column("agency_id", ID, nullable=True),
        sa.Column("assigned_at", INSTANT, nullable=False),
        sa.Column("assigned_by", ID, nullable=True),
        sa.Column("ended_at", INSTANT, nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_assignments_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by"], ["users.id"], name=op.f("fk_assignments_assigned_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_assignments_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_assignments_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_assignments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    op.create_index(op.f("ix_assignments_case_id"), "assignments", ["case_id"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=400), nullable=True),
        sa.CheckConstraint(
            "kind IN ('opened', 'updated', 'bucket_changed', 'paused', 'resumed', 'closed', 'reopened')",
            name=op.f("ck_case_events_kind_values"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    op.create_index(op.f("ix_case_events_case_id"), "case_events", ["case_id"], unique=False)

    op.create_table(
        "contact_attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("to_address", sa.String(length=400), nullable=True),
        sa.Column("attempted_at", INSTANT, nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("right_party", sa.Boolean(), nullable=False),
        sa.Column("conversation", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("recording_ref", sa.String(length=400), nullable=True),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("agency_id", ID, nullable=True),
        sa.Column("blocked_rule", sa.String(length=40), nullable=True),
        sa.Column("strategy", sa.String(length=100), nullable=True),
        sa.Column("strategy_version", sa.String(length=100), nullable=True),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.Column("arm", sa.String(length=100), nullable=True),
        sa.Column("contact_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "channel IN ('push', 'sms', 'email', 'voice_robot', 'voice_agent', 'letter', 'field_visit', 'agency', 'legal')",
            name=op.f("ck_contact_attempts_channel_values"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_contact_attempts_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_contact_attempts_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_contact_attempts_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_contact_attempts_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_contact_attempts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_attempts")),
        sa.UniqueConstraint("contact_id", name=op.f("uq_contact_attempts_contact_id")),
    )
    op.create_index(
        "ix_contact_attempts_case_at", "contact_attempts", ["case_id", "attempted_at"], unique=False
    )
    op.create_index(
        "ix_contact_attempts_customer_at",
        "contact_attempts",
        ["customer_id", "attempted_at"],
        unique=False,
    )
    op.create_index(
        "ix_contact_attempts_user_at", "contact_attempts", ["user_id", "attempted_at"], unique=False
    )

    op.create_table(
        "notes",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_notes_case_id_cases")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(op.f("ix_notes_case_id"), "notes", ["case_id"], unique=False)

    op.create_table(
        "placements",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("agency_id", ID, nullable=False),
        sa.Column("placed_on", sa.Date(), nullable=False),
        sa.Column("recalled_on", sa.Date(), nullable=True),
        sa.Column("daily_contact_allowance", sa.Integer(), nullable=False),
        sa.Column("placed_by", ID, nullable=True),
        sa.Column("recall_reason", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "daily_contact_allowance >= 0", name=op.f("ck_placements_allowance_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_placements_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_placements_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["placed_by"], ["users.id"], name=op.f("fk_placements_placed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placements")),
    )
    op.create_index(
        "ix_placements_agency_recalled", "placements", ["agency_id", "recalled_on"], unique=False
    )
    op.create_index(op.f("ix_placements_case_id"), "placements", ["case_id"], unique=False)

    op.create_table(
        "transfers",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("from_team_id", ID, nullable=True),
        sa.Column("to_team_id", ID, nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("resolved_at", INSTANT, nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "reason IN ('dispute', 'hardship', 'fraud', 'legal', 'other')",
            name=op.f("ck_transfers_reason_values"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'resolved', 'rejected')", name=op.f("ck_transfers_status_values")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_transfers_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_transfers_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["from_team_id"], ["teams.id"], name=op.f("fk_transfers_from_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["to_team_id"], ["teams.id"], name=op.f("fk_transfers_to_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    op.create_index(op.f("ix_transfers_case_id"), "transfers", ["case_id"], unique=False)

    op.create_table(
        "complaints",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("contact_attempt_id", ID, nullable=True),
        sa.Column("collector_user_id", ID, nullable=True),
        sa.Column("agency_id", ID, nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_at", INSTANT, nullable=True),
        sa.Column("sla_due_at", INSTANT, nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'resolved')", name=op.f("ck_complaints_status_values")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_complaints_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_complaints_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["collector_user_id"], ["users.id"], name=op.f("fk_complaints_collector_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["contact_attempt_id"],
            ["contact_attempts.id"],
            name=op.f("fk_complaints_contact_attempt_id_contact_attempts"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_complaints_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_complaints_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    op.create_index("ix_complaints_received_at", "complaints", ["received_at"], unique=False)

    op.create_table(
        "plans",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("installments", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("approval_id", ID, nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "status IN ('proposed', 'active', 'completed', 'broken', 'cancelled', 'rejected')",
            name=op.f("ck_plans_status_values"),
        ),
        sa.CheckConstraint("total_fen > 0", name=op.f("ck_plans_total_positive")),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_plans_approval_id_approvals")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_plans_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_plans_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    op.create_index(op.f("ix_plans_case_id"), "plans", ["case_id"], unique=False)

    op.create_table(
        "promises",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("promised_date", sa.Date(), nullable=False),
        sa.Column("promised_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("kept_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("contact_attempt_id", ID, nullable=True),
        sa.Column("reminder_due_on", sa.Date(), nullable=True),
        sa.Column("reminder_sent_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'kept', 'broken', 'cancelled')",
            name=op.f("ck_promises_status_values"),
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_promises_amount_positive")),
        sa.CheckConstraint(
            "kept_amount_fen >= 0", name=op.f("ck_promises_kept_amount_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_promises_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["contact_attempt_id"],
            ["contact_attempts.id"],
            name=op.f("fk_promises_contact_attempt_id_contact_attempts"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_promises_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises")),
    )
    op.create_index(op.f("ix_promises_case_id"), "promises", ["case_id"], unique=False)
    op.create_index(
        "ix_promises_status_date", "promises", ["status", "promised_date"], unique=False
    )

    op.create_table(
        "quality_reviews",
        sa.Column("id", ID, nullable=False),
        sa.Column("contact_attempt_id", ID, nullable=False),
        sa.Column("reviewer_user_id", ID, nullable=False),
        sa.Column("reviewed_at", INSTANT, nullable=False),
        sa.Column("collector_user_id", ID, nullable=True),
        sa.Column("agency_id", ID, nullable=True),
        sa.Column("checklist_scores", sa.JSON(), nullable=False),
        sa.Column("violations", sa.JSON(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "score >= 0 AND score <= 100", name=op.f("ck_quality_reviews_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_quality_reviews_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["collector_user_id"],
            ["users.id"],
            name=op.f("fk_quality_reviews_collector_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_attempt_id"],
            ["contact_attempts.id"],
            name=op.f("fk_quality_reviews_contact_attempt_id_contact_attempts"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_user_id"],
            ["users.id"],
            name=op.f("fk_quality_reviews_reviewer_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_reviews")),
    )
    op.create_index(
        op.f("ix_quality_reviews_contact_attempt_id"),
        "quality_reviews",
        ["contact_attempt_id"],
        unique=False,
    )

    op.create_table(
        "settlements",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("overdue_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("discount_fen", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("approval_id", ID, nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('proposed', 'active', 'paid', 'broken', 'cancelled', 'rejected')",
            name=op.f("ck_settlements_status_values"),
        ),
        sa.CheckConstraint(
            "amount_fen + discount_fen = overdue_fen",
            name=op.f("ck_settlements_amount_plus_discount"),
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_settlements_amount_positive")),
        sa.CheckConstraint("discount_fen >= 0", name=op.f("ck_settlements_discount_nonnegative")),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_settlements_approval_id_approvals")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_settlements_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_settlements_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlements")),
    )
    op.create_index(op.f("ix_settlements_case_id"), "settlements", ["case_id"], unique=False)

    op.create_table(
        "plan_installments",
        sa.Column("id", ID, nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "status IN ('due', 'paid', 'missed')", name=op.f("ck_plan_installments_status_values")
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_plan_installments_amount_positive")),
        sa.CheckConstraint("paid_fen >= 0", name=op.f("ck_plan_installments_paid_nonnegative")),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_plan_installments_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_installments")),
        sa.UniqueConstraint("plan_id", "seq", name="uq_plan_installments_plan_seq"),
    )
    _create_audit_guard()


def downgrade() -> None:
    """Drop the audit triggers, then every table, dependents first."""
    _drop_audit_guard()
    op.drop_table("plan_installments")
    op.drop_index(op.f("ix_settlements_case_id"), table_name="settlements")

    op.drop_table("settlements")
    op.drop_index(op.f("ix_quality_reviews_contact_attempt_id"), table_name="quality_reviews")

    op.drop_table("quality_reviews")
    op.drop_index("ix_promises_status_date", table_name="promises")
    op.drop_index(op.f("ix_promises_case_id"), table_name="promises")

    op.drop_table("promises")
    op.drop_index(op.f("ix_plans_case_id"), table_name="plans")

    op.drop_table("plans")
    op.drop_index("ix_complaints_received_at", table_name="complaints")

    op.drop_table("complaints")
    op.drop_index(op.f("ix_transfers_case_id"), table_name="transfers")

    op.drop_table("transfers")
    op.drop_index(op.f("ix_placements_case_id"), table_name="placements")
    op.drop_index("ix_placements_agency_recalled", table_name="placements")

    op.drop_table("placements")
    op.drop_index(op.f("ix_notes_case_id"), table_name="notes")

    op.drop_table("notes")
    op.drop_index("ix_contact_attempts_user_at", table_name="contact_attempts")
    op.drop_index("ix_contact_attempts_customer_at", table_name="contact_attempts")
    op.drop_index("ix_contact_attempts_case_at", table_name="contact_attempts")

    op.drop_table("contact_attempts")
    op.drop_index(op.f("ix_case_events_case_id"), table_name="case_events")

    op.drop_table("case_events")
    op.drop_index(op.f("ix_assignments_case_id"), table_name="assignments")

    op.drop_table("assignments")
    op.drop_index(op.f("ix_approvals_case_id"), table_name="approvals")

    op.drop_table("approvals")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_index(op.f("ix_web_sessions_expires_at"), table_name="web_sessions")

    op.drop_table("web_sessions")
    op.drop_index("ix_cases_status_priority", table_name="cases")
    op.drop_index("ix_cases_queue_status", table_name="cases")
    op.drop_index(op.f("ix_cases_customer_id"), table_name="cases")
    op.drop_index("ix_cases_assigned_status_priority", table_name="cases")
    op.drop_index("ix_cases_agency_status", table_name="cases")
    op.drop_index("ix_cases_account_status", table_name="cases")

    op.drop_table("cases")
    op.drop_table("users")
    op.drop_table("queues")
    op.drop_table("payment_reversals")
    op.drop_index(op.f("ix_contact_points_customer_id"), table_name="contact_points")

    op.drop_table("contact_points")
    op.drop_table("channel_preferences")
    op.drop_index(op.f("ix_accounts_customer_id"), table_name="accounts")

    op.drop_table("accounts")
    op.drop_table("teams")
    op.drop_index("ix_payments_account_value_date", table_name="payments")

    op.drop_table("payments")
    op.drop_index("ix_outbox_status_next_attempt", table_name="outbox")

    op.drop_table("outbox")
    op.drop_index("ix_login_attempts_username_at", table_name="login_attempts")
    op.drop_index("ix_login_attempts_ip_at", table_name="login_attempts")

    op.drop_table("login_attempts")
    op.drop_table("inbound_events")
    op.drop_table("customers")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_index("ix_audit_log_actor_at", table_name="audit_log")

    op.drop_table("audit_log")
    op.drop_table("agencies")
