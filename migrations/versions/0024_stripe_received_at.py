"""notifications.stripe_received_at: when Kassa acknowledged the Stripe event that caused
a notification, so that its delivery measures Stripe's 200 to the provider's without a
query

Revision ID: 0024_stripe_received_at
Revises: 0023_provider_contact_email
Create Date: 2026-12-03 16:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024_stripe_received_at'
down_revision = '0023_provider_contact_email'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable and without a default: safe while older processes run (they leave it empty).
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_received_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('stripe_received_at')
