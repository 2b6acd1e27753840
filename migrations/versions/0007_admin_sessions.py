"""admin sessions: a per-admin session version, raised to sign the admin out everywhere

Revision ID: 0007_admin_sessions
Revises: 0005_live_money
Create Date: 2026-11-26 03:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_admin_sessions'
down_revision = '0006_holds_expiry'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('admins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    with op.batch_alter_table('admins', schema=None) as batch_op:
        batch_op.drop_column('session_version')
