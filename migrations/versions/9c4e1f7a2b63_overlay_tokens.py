"""overlay_tokens: one stream overlay link per room (its token's hash)

Revision ID: 9c4e1f7a2b63
Revises: 7d3e9a1c5b20
Create Date: 2026-11-28 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9c4e1f7a2b63'
down_revision = '7d3e9a1c5b20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('overlay_tokens',
    sa.Column('room_id', sa.String(length=40), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('room_id')
    )


def downgrade():
    op.drop_table('overlay_tokens')
