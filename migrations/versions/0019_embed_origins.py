"""providers list the sites that may show their payment links in kassa.js's overlay

Revision ID: 0019_embed_origins
Revises: 0018_idempotency_keys
Create Date: 2026-12-04 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_embed_origins'
down_revision = '0018_idempotency_keys'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('embed_origins', sa.Text(), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_column('embed_origins')
