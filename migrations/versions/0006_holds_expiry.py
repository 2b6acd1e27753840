"""holds and expiry: the client behind a link's order, the expired status, link views
rolled up by day

Revision ID: 0006_holds_expiry
Revises: 0005_live_money
Create Date: 2026-11-26 03:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_holds_expiry'
down_revision = '0005_live_money'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_hash', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_orders_link_client', ['payment_link_id', 'client_hash'], unique=False)

    op.create_table('link_view_days',
    sa.Column('payment_link_id', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('unique_visitors', sa.Integer(), nullable=False),
    sa.Column('last_seen_visitors', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['payment_link_id'], ['payment_links.id'], name=op.f('fk_link_view_days_payment_link_id_payment_links')),
    sa.PrimaryKeyConstraint('payment_link_id', 'day', name=op.f('pk_link_view_days'))
    )


def downgrade():
    # The earlier schema has no expired status: such orders go back to failed (unpaid,
    # nothing charged), which is what they were before expiring or close to it.
    op.execute("UPDATE orders SET status = 'failed' WHERE status = 'expired'")
    op.drop_table('link_view_days')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_link_client')
        batch_op.drop_column('client_hash')
