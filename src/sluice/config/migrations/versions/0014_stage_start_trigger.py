"""A stage's start moves its run: the database sets `current_stage` and the heartbeat.

Inserting a stage's log row (the stage starts) updates its run's `current_stage` and
`heartbeat_at` in the same statement's trigger, so the run and its stage logs cannot
disagree about which stage runs and a stage start is one statement, not two.

Revision ID: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

NAME = "sluice_run_stage_started"
UPDATE = (
    "UPDATE pipeline_runs_master SET current_stage = NEW.stage_order,"
    " heartbeat_at = NEW.started_at WHERE id = NEW.pipeline_run_id"
)
CREATE = {
    "sqlite": [
        f"CREATE TRIGGER {NAME} AFTER INSERT ON pipeline_run_stage_logs\nBEGIN\n    {UPDATE};\nEND"
    ],
    "postgresql": [
        f"CREATE FUNCTION {NAME}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n    {UPDATE};\n    RETURN NULL;\nEND\n$$",
        f"CREATE TRIGGER {NAME} AFTER INSERT ON pipeline_run_stage_logs FOR EACH ROW"
        f" EXECUTE FUNCTION {NAME}()",
    ],
}
DROP = {
    "sqlite": [f"DROP TRIGGER IF EXISTS {NAME}"],
    "postgresql": [
        f"DROP TRIGGER IF EXISTS {NAME} ON pipeline_run_stage_logs",
        f"DROP FUNCTION IF EXISTS {NAME}()",
    ],
}


def upgrade() -> None:
    for statement in CREATE[op.get_context().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP[op.get_context().dialect.name]:
        op.execute(statement)
