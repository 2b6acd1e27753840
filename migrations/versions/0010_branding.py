"""branding: a provider's display name, accent colour and logo on customer pages

Revision ID: 0010_branding
Revises: 0009_stripe_refresh
Create Date: 2026-11-26 04:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_branding'
down_revision = '0009_stripe_refresh'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('accent_color', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('logo', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('logo_type', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('logo_hash', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_column('logo_hash')
        batch_op.drop_column('logo_type')
        batch_op.drop_column('logo')
        batch_op.drop_column('accent_color')
        batch_op.drop_column('display_name')
