"""providers.contact_email: where a provider's people hear that one of its webhook
endpoints keeps failing

Revision ID: 0023_provider_contact_email
Revises: 0022_alerts
Create Date: 2026-12-03 14:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023_provider_contact_email'
down_revision = '0022_alerts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_email', sa.String(length=320), nullable=True))


def downgrade():
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_column('contact_email')
