"""signed requests bound to their request: each provider's signature format, and the
signatures already used

Revision ID: 0016_signed_requests
Revises: 0013_firstrun
Create Date: 2026-12-02 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_signed_requests'
down_revision = '0013_firstrun'
branch_labels = None
depends_on = None

FORMATS = ('timestamped', 'body')


def upgrade():
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature_format', sa.Enum(*FORMATS, name='signatureformat', native_enum=False, length=24), server_default='timestamped', nullable=False))
    # A provider that was given a request-signing secret signs bodies the only way there was:
    # it keeps doing so until it, or an admin, moves to the timestamped form.
    op.execute("UPDATE providers SET signature_format = 'body' WHERE request_secret_salt IS NOT NULL")

    op.create_table('seen_signatures',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_seen_signatures'))
    )
    with op.batch_alter_table('seen_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seen_signatures_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('seen_signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seen_signatures_expires_at'))
    op.drop_table('seen_signatures')
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_column('signature_format')
