"""stripe events are recorded first and applied by a worker

Revision ID: 0004_deferred_stripe_events
Revises: 0003_payment_links
Create Date: 2026-11-25 19:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_deferred_stripe_events'
down_revision = '0003_payment_links'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.alter_column('processed_at', new_column_name='received_at',
                              existing_type=sa.DateTime(), existing_nullable=False)
        batch_op.add_column(sa.Column('payload', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('applied_at', sa.DateTime(), nullable=True))
    # Events recorded before this revision were applied when they arrived.
    op.execute('UPDATE stripe_events SET applied_at = received_at')
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.create_index('ix_stripe_events_pending', ['applied_at', 'received_at'], unique=False)


def downgrade():
    # Events not yet applied would be lost to the old synchronous code: refuse instead.
    pending = op.get_bind().execute(
        sa.text('SELECT COUNT(*) FROM stripe_events WHERE applied_at IS NULL')
    ).scalar()
    if pending:
        raise RuntimeError(f'{pending} Stripe events are not applied yet; run the worker first')
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index('ix_stripe_events_pending')
        batch_op.drop_column('applied_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('payload')
        batch_op.alter_column('received_at', new_column_name='processed_at',
                              existing_type=sa.DateTime(), existing_nullable=False)
