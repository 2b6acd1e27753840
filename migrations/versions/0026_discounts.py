"""discounts and chosen amounts (issue 21): the discount_codes table, an order's discount
(discount_code_id, discount_code, discount_minor) and a payment link's chosen amount
(min_amount_minor, max_amount_minor, preset_amount_minor)

Additive: a new table and nullable columns without defaults, so older processes keep
running while it is applied (they leave the new columns empty: no discount, a priced link).

Revision ID: 0026_discounts
Revises: 0025_checkout_fields
Create Date: 2026-12-03 16:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026_discounts'
down_revision = '0025_checkout_fields'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('discount_codes',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('provider_id', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('code_key', sa.String(length=40), nullable=False),
    sa.Column('percent_off_bp', sa.Integer(), nullable=True),
    sa.Column('amount_off_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('starts_at', sa.DateTime(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('max_redemptions', sa.Integer(), nullable=True),
    sa.Column('applies_to_links', sa.Text(), nullable=False),
    sa.Column('applies_to_services', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_discount_codes_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_discount_codes')),
    sa.UniqueConstraint('provider_id', 'code_key', name=op.f('uq_discount_codes_provider_id_code_key'))
    )
    with op.batch_alter_table('discount_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discount_codes_provider_id'), ['provider_id'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discount_code_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('discount_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('discount_minor', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_discount_code_id'), ['discount_code_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_orders_discount_code_id_discount_codes'), 'discount_codes', ['discount_code_id'], ['id'])

    with op.batch_alter_table('payment_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_amount_minor', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('max_amount_minor', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('preset_amount_minor', sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('payment_links', schema=None) as batch_op:
        batch_op.drop_column('preset_amount_minor')
        batch_op.drop_column('max_amount_minor')
        batch_op.drop_column('min_amount_minor')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_orders_discount_code_id_discount_codes'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_orders_discount_code_id'))
        batch_op.drop_column('discount_minor')
        batch_op.drop_column('discount_code')
        batch_op.drop_column('discount_code_id')

    with op.batch_alter_table('discount_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discount_codes_provider_id'))

    op.drop_table('discount_codes')
