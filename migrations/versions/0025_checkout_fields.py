"""What a checkout asks before paying: custom fields and the customer's e-mail on payment
links and services, terms and privacy URLs on providers, the answers (custom fields, e-mail,
its language, terms consent) on orders, and which mails are a sandbox order's

Additive, safe with old processes running: every new column is nullable or has a server
default (old code never names them; its rows take the defaults: no questions asked).

Revision ID: 0025_checkout_fields
Revises: 0024_stripe_received_at
Create Date: 2026-12-03 16:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025_checkout_fields'
down_revision = '0024_stripe_received_at'
branch_labels = None
depends_on = None

COLLECT_EMAIL = ('off', 'optional', 'required')


def _questions(batch_op):
    batch_op.add_column(
        sa.Column('custom_fields_json', sa.Text(), server_default='[]', nullable=False)
    )
    batch_op.add_column(
        sa.Column(
            'collect_email',
            sa.Enum(*COLLECT_EMAIL, name='collectemail', native_enum=False, length=24),
            server_default='off',
            nullable=False,
        )
    )


def upgrade():
    with op.batch_alter_table('services', schema=None) as batch_op:
        _questions(batch_op)
    with op.batch_alter_table('payment_links', schema=None) as batch_op:
        _questions(batch_op)
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('terms_url', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('privacy_url', sa.String(length=2048), nullable=True))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('custom_fields_json', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('customer_email', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('customer_locale', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('terms_accepted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('details_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('mails', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('sandbox', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('mails', schema=None) as batch_op:
        batch_op.drop_column('sandbox')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        for name in (
            'details_at',
            'terms_accepted_at',
            'customer_locale',
            'customer_email',
            'custom_fields_json',
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_column('privacy_url')
        batch_op.drop_column('terms_url')
    for table in ('payment_links', 'services'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('collect_email')
            batch_op.drop_column('custom_fields_json')
