"""live money: order livemode, paid currency, accepted underpayments, payment attempts,
disputes, refunds by id, settings, the Stripe Payment Link behind a service's Buy Button

Revision ID: 0005_live_money
Revises: 0004_deferred_stripe_events
Create Date: 2026-11-26 01:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_live_money'
down_revision = '0004_deferred_stripe_events'
branch_labels = None
depends_on = None

STATUSES = ('pending', 'processing', 'paid', 'underpaid', 'failed', 'canceled',
            'partially_refunded', 'refunded', 'disputed', 'dispute_lost')


def upgrade():
    # Before upgrades ran in one transaction on SQLite, a failed run of this revision could
    # keep this column (its first step) while the revision stayed 0004: add it only once.
    services = {column['name'] for column in sa.inspect(op.get_bind()).get_columns('services')}
    if 'stripe_payment_link_id' not in services:
        with op.batch_alter_table('services', schema=None) as batch_op:
            batch_op.add_column(sa.Column('stripe_payment_link_id', sa.String(length=64), nullable=True))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('livemode', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('paid_currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('accepted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('payment_attempt', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_event_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('status_before_dispute', sa.Enum(*STATUSES, name='orderstatus', native_enum=False, length=24), nullable=True))
        batch_op.add_column(sa.Column('dispute_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('dispute_status', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('dispute_reason', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('dispute_amount_minor', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('dispute_evidence_due_by', sa.DateTime(), nullable=True))

    op.create_table('refunds',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=True),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('request_key', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_refunds_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
    sa.UniqueConstraint('request_key', name=op.f('uq_refunds_request_key'))
    )
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refunds_payment_intent_id'), ['payment_intent_id'], unique=False)

    op.create_table('settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_settings'))
    )


def downgrade():
    # The new statuses have no place in the earlier schema's meaning.
    bind = op.get_bind()
    newer = bind.execute(sa.text(
        "SELECT count(*) FROM orders WHERE status IN "
        "('underpaid', 'partially_refunded', 'disputed', 'dispute_lost')"
    )).scalar()
    if newer:
        raise RuntimeError(
            f"{newer} order(s) are underpaid, partially refunded or disputed; "
            "settle them before downgrading"
        )
    op.drop_table('settings')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_payment_intent_id'))
        batch_op.drop_index(batch_op.f('ix_refunds_order_id'))
    op.drop_table('refunds')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        for column in ('dispute_evidence_due_by', 'dispute_amount_minor', 'dispute_reason',
                       'dispute_status', 'dispute_id', 'status_before_dispute',
                       'last_event_at', 'payment_attempt', 'accepted_at', 'paid_currency',
                       'livemode'):
            batch_op.drop_column(column)
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_column('stripe_payment_link_id')
