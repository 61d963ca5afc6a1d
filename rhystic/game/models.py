"""The game table's tables: one state row per room (with its version), the log, and chat.

A room's rows go with the room: ON DELETE CASCADE on PostgreSQL, and a listener for
SQLite, which enforces no foreign keys unless asked to.
"""
from datetime import datetime

from sqlalchemy import (
    JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint, delete, event,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import Room, utcnow


class GameState(db.Model):
    __tablename__ = 'game_states'

    room_id: Mapped[str] = mapped_column(
        String(40), ForeignKey('rooms.id', ondelete='CASCADE'), primary_key=True)
    # Bumped by every change; a write succeeds only on the version it read (store.py).
    version: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class GameLogEntry(db.Model):
    __tablename__ = 'game_log'
    __table_args__ = (UniqueConstraint('room_id', 'seq', name='uq_game_log_room_seq'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[str] = mapped_column(
        String(40), ForeignKey('rooms.id', ondelete='CASCADE'))
    seq: Mapped[int] = mapped_column(Integer)      # the entry's number within its room
    game: Mapped[int] = mapped_column(Integer)     # which game of the room it belongs to
    entry: Mapped[dict] = mapped_column(JSON)


class ChatMessage(db.Model):
    __tablename__ = 'chat_messages'
    __table_args__ = (Index('ix_chat_messages_room_id_id', 'room_id', 'id'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[str] = mapped_column(
        String(40), ForeignKey('rooms.id', ondelete='CASCADE'))
    user_id: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(String(500))
    at: Mapped[float] = mapped_column(Float)       # unix seconds, like the log's `at`

    def to_dict(self):
        return {'id': self.id, 'user_id': self.user_id, 'name': self.name, 'text': self.text,
                'at': self.at}


@event.listens_for(Room, 'after_delete')
def _delete_room_rows(mapper, connection, room):
    for model in (GameLogEntry, ChatMessage, GameState):
        connection.execute(delete(model).where(model.room_id == room.id))
