"""provider security: IP allowlists, signed requests, API key scopes, the audit log

Revision ID: 0008_provider_security
Revises: 0005_live_money
Create Date: 2026-11-26 04:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_provider_security'
down_revision = '0007_admin_sessions'
branch_labels = None
depends_on = None

ALL_SCOPES = 'orders:write orders:read links:write links:read'
ACTOR_KINDS = ('admin', 'api-key', 'cli', 'system')


def upgrade():
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ip_allowlist', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('require_signed_requests', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('request_secret_salt', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('request_secret_prefix', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('request_secret_created_at', sa.DateTime(), nullable=True))

    # Keys issued before scopes existed keep doing everything they could.
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=200), server_default=ALL_SCOPES, nullable=False))

    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor_kind', sa.Enum(*ACTOR_KINDS, name='actorkind', native_enum=False, length=24), nullable=False),
    sa.Column('actor_label', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('subject_type', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.String(length=255), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entries_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_entries_subject', ['subject_type', 'subject_id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        # The app never changes an entry; the database refuses it too (TRUNCATE stays possible
        # for an operator who means it).
        op.execute("""
            CREATE OR REPLACE FUNCTION audit_entries_are_final() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit entries are never updated or deleted';
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER audit_entries_are_final BEFORE UPDATE OR DELETE ON audit_entries
            FOR EACH ROW EXECUTE FUNCTION audit_entries_are_final()
        """)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER audit_entries_are_final ON audit_entries')
        op.execute('DROP FUNCTION audit_entries_are_final()')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_subject')
        batch_op.drop_index(batch_op.f('ix_audit_entries_at'))
        batch_op.drop_index(batch_op.f('ix_audit_entries_action'))
    op.drop_table('audit_entries')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('scopes')
    with op.batch_alter_table('providers', schema=None) as batch_op:
        for column in ('request_secret_created_at', 'request_secret_prefix',
                       'request_secret_salt', 'require_signed_requests', 'ip_allowlist'):
            batch_op.drop_column(column)
