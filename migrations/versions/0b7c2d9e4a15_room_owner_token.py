"""rooms: a one-time owner token for rooms created without signing in

Revision ID: 0b7c2d9e4a15
Revises: f6f510e3873d
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0b7c2d9e4a15'
down_revision = 'f6f510e3873d'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable, no default: existing rooms have an owner or none, and no token to claim.
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_token_hash', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.drop_column('owner_token_hash')
