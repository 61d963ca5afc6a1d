"""room_controls: a room's host, lock and knock setting

Revision ID: 7d3e9a1c5b20
Revises: 0b7c2d9e4a15
Create Date: 2026-11-28 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7d3e9a1c5b20'
down_revision = '0b7c2d9e4a15'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('room_controls',
    sa.Column('room_id', sa.String(length=40), nullable=False),
    sa.Column('host', sa.String(length=24), nullable=True),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('knock', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('room_id')
    )


def downgrade():
    op.drop_table('room_controls')
