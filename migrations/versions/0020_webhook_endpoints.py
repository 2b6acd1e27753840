"""webhook endpoints: several per provider, each with its events and its own secret; the
provider's webhook URL and secret become its first endpoint

Revision ID: 0020_webhook_endpoints
Revises: 0019_embed_origins
Create Date: 2026-12-03 11:00:00

Each provider with a webhook URL gets one endpoint with that URL, its signing secret (and
the previous one, still signing beside it when a rotation was under way) and its 410
state, taking every event; its notifications, delivered or not, belong to that endpoint and
keep their ids, which stay their webhook-ids. A provider without a webhook URL had a secret
nothing was signed with: it gets one with its first endpoint.
"""
import base64
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_webhook_endpoints'
down_revision = '0019_embed_origins'
branch_labels = None
depends_on = None

MOVED = ('webhook_url', 'webhook_secret', 'previous_webhook_secret',
         'webhook_secret_rotated_at', 'webhook_disabled_at')

# Untyped: each value is copied as the database gives it, whatever its type.
providers = sa.table('providers', sa.column('id'), sa.column('created_at'),
                     *(sa.column(name) for name in MOVED))
endpoints = sa.table(
    'webhook_endpoints', *(sa.column(name) for name in (
        'id', 'provider_id', 'url', 'description', 'events', 'active', 'secret',
        'previous_secret', 'secret_rotated_at', 'disabled_at', 'created_at', 'updated_at'))
)
notifications = sa.table(
    'notifications', sa.column('id'), sa.column('provider_id'), sa.column('endpoint_id'),
    sa.column('message_id'),
)


def upgrade():
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('provider_id', sa.String(length=32), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('description', sa.String(length=255), server_default='', nullable=False),
    sa.Column('events', sa.Text(), server_default='*', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('secret', sa.String(length=80), nullable=False),
    sa.Column('previous_secret', sa.String(length=80), nullable=True),
    sa.Column('secret_rotated_at', sa.DateTime(), nullable=True),
    sa.Column('disabled_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_webhook_endpoints_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_endpoints_provider_id'), ['provider_id'], unique=False)

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('endpoint_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('message_id', sa.String(length=40), nullable=True))

    connection = op.get_bind()
    rows = connection.execute(
        sa.select(providers).where(providers.c.webhook_url.is_not(None))
    ).mappings().all()
    for row in rows:
        endpoint_id = 'we_' + secrets.token_hex(12)
        connection.execute(endpoints.insert().values(
            id=endpoint_id, provider_id=row['id'], url=row['webhook_url'], description='',
            events='*', active=True, secret=row['webhook_secret'],
            previous_secret=row['previous_webhook_secret'],
            secret_rotated_at=row['webhook_secret_rotated_at'],
            disabled_at=row['webhook_disabled_at'],
            created_at=row['created_at'], updated_at=row['created_at'],
        ))
        connection.execute(
            notifications.update().where(notifications.c.provider_id == row['id'])
            .values(endpoint_id=endpoint_id)
        )
    connection.execute(notifications.update().values(message_id=notifications.c.id))

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('message_id', existing_type=sa.String(length=40), nullable=False)
        batch_op.create_index(batch_op.f('ix_notifications_endpoint_id'), ['endpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_message_id'), ['message_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_notifications_endpoint_id_webhook_endpoints'), 'webhook_endpoints', ['endpoint_id'], ['id'])

    with op.batch_alter_table('providers', schema=None) as batch_op:
        for name in MOVED:
            batch_op.drop_column(name)


def downgrade():
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_url', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('webhook_secret', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('previous_webhook_secret', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('webhook_secret_rotated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('webhook_disabled_at', sa.DateTime(), nullable=True))

    # Each provider keeps its first endpoint; one without gets a new secret, as before.
    connection = op.get_bind()
    first = {}
    for row in connection.execute(
        sa.select(endpoints).order_by(endpoints.c.created_at, endpoints.c.id)
    ).mappings():
        first.setdefault(row['provider_id'], row)
    for (provider_id,) in connection.execute(sa.select(providers.c.id)).all():
        row = first.get(provider_id)
        values = {'webhook_secret': 'whsec_' + base64.b64encode(secrets.token_bytes(32)).decode()}
        if row is not None:
            values = {
                'webhook_url': row['url'], 'webhook_secret': row['secret'],
                'previous_webhook_secret': row['previous_secret'],
                'webhook_secret_rotated_at': row['secret_rotated_at'],
                'webhook_disabled_at': row['disabled_at'],
            }
        connection.execute(providers.update().where(providers.c.id == provider_id).values(**values))

    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.alter_column('webhook_secret', existing_type=sa.String(length=80), nullable=False)

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_notifications_endpoint_id_webhook_endpoints'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_notifications_message_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_endpoint_id'))
        batch_op.drop_column('message_id')
        batch_op.drop_column('endpoint_id')

    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_endpoints_provider_id'))
    op.drop_table('webhook_endpoints')
