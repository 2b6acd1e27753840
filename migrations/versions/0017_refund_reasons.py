"""refunds keep the reason they were asked for with (the API's and Stripe's `reason`)

Revision ID: 0017_refund_reasons
Revises: 0015_fair_holds
Create Date: 2026-12-03 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_refund_reasons'
down_revision = '0015_fair_holds'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_column('reason')
