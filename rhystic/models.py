"""Users and rooms. The rules about them live here, so routes and handlers stay thin."""
import hashlib
import re
import secrets
import unicodedata
from datetime import datetime, timedelta, timezone

from flask_login import UserMixin
from sqlalchemy import String, false as sa_false, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .errors import ApiError, ValidationError
from .extensions import db

USERNAME_RE = re.compile(r'^[a-z0-9_-]{3,32}$')
ROOM_ID_RE = re.compile(r'^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$')
# No 0/o, 1/l/i: a room id is read aloud across a table.
ROOM_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'
ROOM_ID_GROUPS = (3, 4, 3)  # 10 symbols of 31: 49.5 bits
MAX_PEERS_LIMIT = 8


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def hash_token(token):
    # Tokens are 256 random bits, so a fast hash is enough and lets us look them up.
    return hashlib.sha256(token.encode()).hexdigest()


# Letters and symbols by category that still draw nothing: the Hangul fillers and the
# blank Braille pattern, favourites for names that look empty.
BLANK_CHARACTERS = frozenset('\u115f\u1160\u3164\uffa0\u2800')
# Combining marks stacked on one character. Three is enough for Vietnamese, Thai or a
# Tibetan stack; more is "Zalgo" text that smears over the tiles around it.
MAX_MARKS_PER_CHARACTER = 3


def clean_display_name(value):
    if not isinstance(value, str):
        raise ValidationError('display_name must be a string', 'display_name')
    # The limit holds for what was sent as well as what is kept: docs/openapi.yaml says
    # maxLength 40, so 41 characters are refused even when stripping would shorten them.
    if len(value) > 40:
        raise ValidationError('display_name must be 1 to 40 characters', 'display_name')
    value = unicodedata.normalize('NFC', value).strip()
    if not 1 <= len(value) <= 40:
        raise ValidationError('display_name must be 1 to 40 characters', 'display_name')
    if not value.isprintable():
        raise ValidationError('display_name must be printable characters only', 'display_name')
    if not any(_visible(ch) for ch in value):
        raise ValidationError('display_name must have at least one visible character '
                              '(a letter, digit, punctuation mark or symbol)', 'display_name')
    if _most_marks_on_one_character(value) > MAX_MARKS_PER_CHARACTER:
        raise ValidationError(f'display_name may stack at most {MAX_MARKS_PER_CHARACTER} '
                              'accents or other combining marks on one character',
                              'display_name')
    return value


def _visible(ch):
    return unicodedata.category(ch)[0] in 'LNPS' and ch not in BLANK_CHARACTERS


def _most_marks_on_one_character(text):
    # Nonspacing and enclosing marks stack; spacing marks (Mc) take room of their own.
    most = run = 0
    for ch in text:
        run = run + 1 if unicodedata.category(ch) in ('Mn', 'Me') else 0
        most = max(most, run)
    return most


class User(UserMixin, db.Model):
    __tablename__ = 'users'

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, index=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(40))
    is_guest: Mapped[bool] = mapped_column(default=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Sessions carry the epoch they were made in (get_id); raising it ends them all.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default='0')
    avatar_url: Mapped[str | None] = mapped_column(String(500))

    def get_id(self):
        # What the session and the remember-me cookie hold: see by_session_id.
        return f'{self.public_id}:{self.session_epoch}'

    @classmethod
    def by_session_id(cls, value):
        """The user a session names, unless its epoch has passed (sign out everywhere,
        or a guest upgraded by signing in). A session from before epochs is epoch 0."""
        if not isinstance(value, str):
            return None
        public_id, _, epoch = value.partition(':')
        user = cls.by_public_id(public_id)
        if user is None or str(user.session_epoch) != (epoch or '0'):
            return None
        return user

    @property
    def signed_in(self):
        """Whether a sign-in provider vouches for this account (not a guest or an API
        account alone)."""
        return db.session.scalar(
            select(func.count()).select_from(UserIdentity)
            .where(UserIdentity.user_id == self.id)) > 0

    def rotate_token(self):
        """A new API token; the old one stops working. Returns the new one (shown once)."""
        token = secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        return token

    def end_sessions(self):
        """Sign out everywhere: every session and remember-me cookie of this account
        stops working, and so does its API token. Returns the new token."""
        self.session_epoch += 1
        token = self.rotate_token()
        db.session.commit()
        return token

    def to_dict(self):
        return {'user_id': self.public_id, 'username': self.username,
                'display_name': self.display_name}

    @classmethod
    def create(cls, username, display_name, guest=False):
        """Create a user; returns (user, token). The token is shown once, never stored."""
        if not isinstance(username, str):
            raise ValidationError('username must be a string', 'username')
        username = username.strip().lower()
        if not USERNAME_RE.match(username):
            raise ValidationError(
                'username must be 3 to 32 of a-z, 0-9, _ and -', 'username')
        token = secrets.token_urlsafe(32)
        user = cls(public_id='u_' + secrets.token_urlsafe(12), username=username,
                   display_name=clean_display_name(display_name), is_guest=guest,
                   token_hash=hash_token(token))
        db.session.add(user)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise ApiError(409, f'username {username!r} is taken', 'username_taken') from None
        return user, token

    @classmethod
    def create_guest(cls, display_name):
        display_name = clean_display_name(display_name)
        for _ in range(5):
            try:
                return cls.create('guest-' + secrets.token_hex(5), display_name, guest=True)
            except ApiError as exc:
                if exc.status != 409:
                    raise
        raise ApiError(503, 'could not allocate a guest name; try again')

    @classmethod
    def by_public_id(cls, public_id):
        return db.session.scalar(select(cls).where(cls.public_id == public_id))

    @classmethod
    def by_token(cls, token):
        if not isinstance(token, str) or not 10 <= len(token) <= 200:
            return None
        return db.session.scalar(select(cls).where(cls.token_hash == hash_token(token)))

    def rename(self, display_name):
        self.display_name = clean_display_name(display_name)
        db.session.commit()


class Room(db.Model):
    __tablename__ = 'rooms'

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(80))
    max_peers: Mapped[int] = mapped_column(default=MAX_PEERS_LIMIT)
    created_by: Mapped[int | None] = mapped_column(db.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_active_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # A room made without signing in has no owner; whoever presents its one-time owner
    # token (see claim) becomes it. Only the token's hash is kept, and only until used.
    owner_token_hash: Mapped[str | None] = mapped_column(String(64))

    def to_dict(self, peer_count=0):
        return {'id': self.id, 'name': self.name, 'peer_count': peer_count,
                'max_peers': self.max_peers}

    def owner_public_id(self):
        if self.created_by is None:
            return None
        owner = db.session.get(User, self.created_by)
        return owner.public_id if owner else None

    @staticmethod
    def new_id():
        symbols = (secrets.choice(ROOM_ALPHABET) for _ in range(sum(ROOM_ID_GROUPS)))
        text = ''.join(symbols)
        parts, start = [], 0
        for size in ROOM_ID_GROUPS:
            parts.append(text[start:start + size])
            start += size
        return '-'.join(parts)

    @staticmethod
    def valid_id(room_id):
        return isinstance(room_id, str) and bool(ROOM_ID_RE.match(room_id))

    @staticmethod
    def clean_fields(name=None, max_peers=None, default_max=MAX_PEERS_LIMIT):
        if name is not None:
            if not isinstance(name, str):
                raise ValidationError('name must be a string', 'name')
            name = unicodedata.normalize('NFC', name).strip()
            if len(name) > 80 or not name.isprintable():
                raise ValidationError('name must be at most 80 printable characters', 'name')
            name = name or None
        if max_peers is None:
            max_peers = default_max
        if isinstance(max_peers, bool) or not isinstance(max_peers, int) \
                or not 2 <= max_peers <= MAX_PEERS_LIMIT:
            raise ValidationError(f'max_peers must be an integer from 2 to {MAX_PEERS_LIMIT}',
                                  'max_peers')
        return name, max_peers

    @classmethod
    def create(cls, creator, name=None, max_peers=None, room_id=None,
               default_max=MAX_PEERS_LIMIT, owner_token_hash=None):
        name, max_peers = cls.clean_fields(name, max_peers, default_max)
        if room_id is not None and not cls.valid_id(room_id):
            raise ValidationError('room id must be 3 to 40 of a-z, 0-9 and -', 'room_id')
        for _ in range(5):
            room = cls(id=room_id or cls.new_id(), name=name, max_peers=max_peers,
                       created_by=creator.id if creator else None,
                       owner_token_hash=owner_token_hash)
            db.session.add(room)
            try:
                db.session.commit()
                return room
            except IntegrityError:
                db.session.rollback()
                if room_id:
                    existing = cls.get(room_id)
                    if existing:
                        return existing
        raise ApiError(503, 'could not allocate a room id; try again')

    @classmethod
    def create_unclaimed(cls, name=None, max_peers=None, default_max=MAX_PEERS_LIMIT):
        """A room with no owner yet; returns (room, owner token). The token is shown
        once, and makes whoever presents it to claim() the room's owner."""
        token = secrets.token_urlsafe(32)
        room = cls.create(None, name, max_peers, default_max=default_max,
                          owner_token_hash=hash_token(token))
        return room, token

    @classmethod
    def claim(cls, room_id, token, user):
        """Make user the owner of an unclaimed room, spending its owner token.

        One conditional UPDATE, so that of two claims racing with the same token exactly
        one wins. False for a wrong token, a spent one, or a room that has an owner.
        """
        if not isinstance(token, str) or not 10 <= len(token) <= 200:
            return False
        claimed = db.session.execute(
            update(cls).where(cls.id == room_id, cls.owner_token_hash == hash_token(token))
            .values(created_by=user.id, owner_token_hash=None))
        db.session.commit()
        return claimed.rowcount == 1

    @classmethod
    def get(cls, room_id):
        if not cls.valid_id(room_id):
            return None
        return db.session.get(cls, room_id)

    @classmethod
    def get_or_create(cls, room_id, creator, default_max=MAX_PEERS_LIMIT):
        return cls.get(room_id) or cls.create(creator, room_id=room_id, default_max=default_max)

    def touch(self, unless_within=0):
        """Mark the room as in use; a write is skipped if it was marked that recently."""
        now = utcnow()
        if unless_within and now - self.last_active_at < timedelta(seconds=unless_within):
            return
        self.last_active_at = now
        db.session.commit()

    @classmethod
    def prune(cls, idle_days, now=None):
        """Delete rooms idle for idle_days; returns how many went."""
        cutoff = (now or utcnow()) - timedelta(days=idle_days)
        doomed = db.session.scalars(select(cls).where(cls.last_active_at < cutoff)).all()
        for room in doomed:
            db.session.delete(room)
        db.session.commit()
        return len(doomed)

    @classmethod
    def count(cls):
        return db.session.scalar(select(func.count()).select_from(cls))


class RoomControl(db.Model):
    """A room's host, lock, knock and signed-in-only settings, as
    rhystic/signaling/control.py keeps them; here so that they outlive a restart.
    No row: the creator hosts, and the room is open."""
    __tablename__ = 'room_controls'

    room_id: Mapped[str] = mapped_column(db.ForeignKey('rooms.id', ondelete='CASCADE'),
                                         primary_key=True)
    host: Mapped[str | None] = mapped_column(String(24))
    locked: Mapped[bool] = mapped_column(default=False)
    knock: Mapped[bool] = mapped_column(default=False)
    signed_in_only: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UserIdentity(db.Model):
    """A provider's account linked to a user; the rules are in rhystic/identities.py.

    (provider, issuer, subject) is the key: a subject is unique only within its issuer,
    and one provider's word about an account is never taken for another's."""
    __tablename__ = 'user_identities'
    __table_args__ = (db.UniqueConstraint('provider', 'issuer', 'subject',
                                          name='uq_user_identities_provider_issuer_subject'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(db.ForeignKey('users.id', ondelete='CASCADE'),
                                         index=True)
    provider: Mapped[str] = mapped_column(String(32))
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
