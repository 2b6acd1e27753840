"""stripe refresh: the PaymentIntent's client secret is kept with its order, so a checkout
page shown again asks Stripe nothing

Revision ID: 0009_stripe_refresh
Revises: 0005_live_money
Create Date: 2026-11-26 04:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_stripe_refresh'
down_revision = '0008_provider_security'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_client_secret', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('stripe_client_secret')
