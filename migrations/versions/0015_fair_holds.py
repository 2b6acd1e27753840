"""fair holds: a link's order is held from when the customer starts paying, for a short
time the checkout page extends, and belongs to one browser as well as one address

Revision ID: 0015_fair_holds
Revises: 0016_signed_requests
Create Date: 2026-12-03 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_fair_holds'
down_revision = '0016_signed_requests'
branch_labels = None
depends_on = None


def upgrade():
    # Orders opened before hold nothing until their customer starts paying again.
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('browser_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hold_started_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('held_until', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('held_until')
        batch_op.drop_column('hold_started_at')
        batch_op.drop_column('browser_hash')
