"""resend without doubling: a resend keeps the attempt count and starts its retry schedule
from the attempts made so far

Revision ID: 0013_firstrun
Revises: 0009_stripe_refresh
Create Date: 2026-11-26 04:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_firstrun'
down_revision = '0010_branding'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('schedule_start', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('schedule_start')
