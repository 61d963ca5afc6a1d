"""Who a provider's account is here: the rules of signing in, in plain Python over the models.

A guest who signs in is upgraded in place (same account: rooms, name, hosting); the same
provider account from another browser reaches that account; a signed-in account can link
more providers. An account is found only by (provider, issuer, subject): a subject that
one provider vouches for says nothing about another provider's account of the same id.
"""
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .errors import ValidationError
from .extensions import db
from .models import Room, RoomControl, User, UserIdentity, clean_display_name, utcnow

MAX_SUBJECT = 255
MAX_AVATAR_URL = 500


@dataclass(frozen=True)
class Profile:
    """What a provider says about the person: the key, and what we show of them."""
    provider: str
    issuer: str
    subject: str
    display_name: str | None = None
    avatar_url: str | None = None


@dataclass(frozen=True)
class SignedIn:
    user: User
    # new: a new account; upgraded: the caller's guest (or API) account, now signed in;
    # linked: one more provider on the caller's signed-in account; returning: the
    # provider account's own user (a guest caller's rooms follow them to it).
    outcome: str


def clean_avatar_url(value):
    """An https URL of reasonable length, or None: a picture is a nicety, never a reason
    to refuse a sign-in, and never a link to something other than an image server."""
    if not isinstance(value, str) or len(value) > MAX_AVATAR_URL:
        return None
    parts = urlsplit(value)
    if parts.scheme != 'https' or not parts.hostname or '@' in parts.netloc:
        return None
    return value


def display_name_from(name):
    """A provider's name for someone, made into a display name (or 'Player')."""
    try:
        return clean_display_name(name[:40] if isinstance(name, str) else name)
    except ValidationError:
        return 'Player'


def sign_in(profile, current=None):
    """The account this provider account signs in to, given who the browser is now
    (current: a User, or None). Commits. Returns a SignedIn."""
    if not isinstance(profile.subject, str) or not 1 <= len(profile.subject) <= MAX_SUBJECT:
        raise ValidationError('the provider sent no usable subject (sub)')
    for _ in range(2):  # a second attempt after losing a race to link the same account
        try:
            return _sign_in(profile, current)
        except IntegrityError:
            db.session.rollback()
    raise ValidationError('the same account is signing in twice at once; try again')


def _sign_in(profile, current):
    identity = db.session.scalar(select(UserIdentity).where(
        UserIdentity.provider == profile.provider, UserIdentity.issuer == profile.issuer,
        UserIdentity.subject == profile.subject))
    if identity is not None:
        user = db.session.get(User, identity.user_id)
        identity.last_used_at = utcnow()
        if current is not None and current.id != user.id and not current.signed_in:
            _hand_rooms_on(current, user)
        _take_avatar(user, profile)
        db.session.commit()
        return SignedIn(user, 'returning')
    if current is None:
        user = User(public_id='u_' + secrets.token_urlsafe(12),
                    username='player-' + secrets.token_hex(5),
                    display_name=display_name_from(profile.display_name), is_guest=False,
                    token_hash='')
        user.rotate_token()  # nobody sees it: a browser needs none, and may rotate it later
        db.session.add(user)
        db.session.flush()
        outcome = 'new'
    else:
        user = current
        outcome = 'linked' if user.signed_in else 'upgraded'
        if outcome == 'upgraded':
            # Whoever held a copy of this guest's cookie or token before (a session
            # planted in this browser, say) must not inherit the signed-in account.
            user.session_epoch += 1
            user.rotate_token()
            user.is_guest = False
    db.session.add(UserIdentity(user_id=user.id, provider=profile.provider,
                                issuer=profile.issuer, subject=profile.subject))
    _take_avatar(user, profile)
    db.session.commit()
    return SignedIn(user, outcome)


def _take_avatar(user, profile):
    avatar = clean_avatar_url(profile.avatar_url)
    if avatar:
        user.avatar_url = avatar


def _hand_rooms_on(guest, user):
    """A guest signing in to an account they already had: the rooms the guest made, and
    hosts, become the account's, as they would have had they signed in first."""
    db.session.execute(update(Room).where(Room.created_by == guest.id)
                       .values(created_by=user.id))
    db.session.execute(update(RoomControl).where(RoomControl.host == guest.public_id)
                       .values(host=user.public_id))


def providers_of(user):
    """The provider names linked to an account, oldest first."""
    return list(db.session.scalars(
        select(UserIdentity.provider).where(UserIdentity.user_id == user.id)
        .order_by(UserIdentity.id)))
