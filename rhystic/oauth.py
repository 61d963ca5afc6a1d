"""Sign in with Discord, Google or any OpenID Connect provider, through Authlib's Flask client.

The authorization code flow with PKCE (S256); `state` binds the answer to this browser's
session, and for OpenID Connect the ID token's signature, issuer, audience and `nonce` are
checked (Authlib's parse_id_token) before anyone is signed in. Who that makes the browser
is decided in identities.py. Every failure is a page that says what happened: a provider
that is down is a 503, a declined consent or a spoiled answer a 4xx, never a 500.

Providers are configured with RHYSTIC_OAUTH_<NAME>_* (README, "Signing in"); with none,
this blueprint is not even registered, and nothing about signing in shows anywhere.
"""
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user
from joserfc.errors import JoseError

from . import identities
from .api import _limit
from .auth import bearer_token, callers, sign_in_fresh, sign_out
from .config import ConfigError
from .errors import ApiError
from .extensions import limiter

log = logging.getLogger('rhystic.oauth')
bp = Blueprint('oauth', __name__)

FIELDS = ('CLIENT_ID', 'CLIENT_SECRET', 'ISSUER', 'METADATA_URL', 'LABEL', 'SCOPE')
NAME_RE = re.compile(r'^[a-z0-9][a-z0-9_]{0,31}$')
# Discord speaks OAuth 2.0 but no OpenID Connect discovery: its endpoints are preset, and
# its account id (a snowflake) is read from /users/@me. Google is OpenID Connect.
PRESETS = {
    'google': {'label': 'Google', 'issuer': 'https://accounts.google.com'},
    'discord': {'label': 'Discord', 'issuer': 'https://discord.com', 'scope': 'identify',
                'authorize_url': 'https://discord.com/oauth2/authorize',
                'access_token_url': 'https://discord.com/api/oauth2/token',
                'userinfo_url': 'https://discord.com/api/users/@me'},
}
TIMEOUT = 10  # seconds for each call to a provider: a dead one must not hold a worker


@dataclass(frozen=True)
class Provider:
    name: str
    label: str
    client_id: str
    client_secret: str
    issuer: str
    metadata_url: str | None = None
    scope: str = 'openid profile'
    authorize_url: str | None = None
    access_token_url: str | None = None
    userinfo_url: str | None = None

    @property
    def openid(self):
        return 'openid' in self.scope.split()


def providers_from(config):
    """{name: Provider} from the OAUTH_<NAME>_<FIELD> keys; ConfigError if half-set."""
    settings = {}
    for key, value in config.items():
        if not key.startswith('OAUTH_') or value in (None, ''):
            continue
        rest = key[len('OAUTH_'):]
        field = next((f for f in FIELDS if rest.endswith('_' + f)), None)
        name = rest[:-len(field) - 1].lower() if field else ''
        if field is None or not NAME_RE.match(name):
            raise ConfigError(f'RHYSTIC_{key} is not a sign-in setting: use RHYSTIC_OAUTH_'
                              f'<NAME>_<{"|".join(FIELDS)}>, NAME of a-z, 0-9 and _')
        settings.setdefault(name, {})[field.lower()] = str(value)
    return {name: _provider(name, fields) for name, fields in sorted(settings.items())}


def _provider(name, fields):
    merged = {**PRESETS.get(name, {}), **fields}
    for needed in ('client_id', 'client_secret'):
        if not merged.get(needed):
            raise ConfigError(f'RHYSTIC_OAUTH_{name.upper()}_{needed.upper()} is not set: a '
                              'sign-in provider needs a client id and a client secret')
    issuer = merged.get('issuer') or merged.get('metadata_url')
    if not issuer or urlsplit(issuer).scheme not in ('http', 'https'):
        raise ConfigError(f'RHYSTIC_OAUTH_{name.upper()}_ISSUER must be the provider\'s '
                          'issuer URL (https://...), or set its _METADATA_URL')
    merged.setdefault('label', name.replace('_', ' ').title())
    provider = Provider(name=name, **{**merged, 'issuer': issuer.rstrip('/')})
    if provider.openid and not provider.metadata_url:
        provider = _with(provider, metadata_url=provider.issuer
                         + '/.well-known/openid-configuration')
    return provider


def _with(provider, **changes):
    return Provider(**{**provider.__dict__, **changes})


def init_app(app):
    providers = providers_from(app.config)
    registry = OAuth()
    registry.init_app(app)
    for p in providers.values():
        registry.register(
            p.name, client_id=p.client_id, client_secret=p.client_secret,
            server_metadata_url=p.metadata_url, authorize_url=p.authorize_url,
            access_token_url=p.access_token_url,
            client_kwargs={'scope': p.scope, 'code_challenge_method': 'S256',
                           'default_timeout': TIMEOUT})
    app.extensions['rhystic.oauth'] = (providers, registry)
    app.context_processor(lambda: {'sign_in_providers': list(providers.values()),
                                   'signed_in_account': _signed_in_account})
    if not providers:  # no routes, no header changed: as if this module were not here
        return
    # Avatars come from the providers' image servers (https only: identities.py).
    from .security import CSP
    app.extensions['rhystic.csp'] = CSP.replace("img-src 'self'", "img-src 'self' https:")
    app.register_blueprint(bp)


def _signed_in_account():
    """For the home page: the signed-in account and its providers, or None."""
    if not current_user.is_authenticated:
        return None
    linked = identities.providers_of(current_user)
    if not linked:
        return None
    providers = current_app.extensions['rhystic.oauth'][0]
    labels = [providers[n].label if n in providers else n for n in dict.fromkeys(linked)]
    return {'user': current_user, 'providers': set(linked), 'labels': labels}


def _provider_or_404(name):
    providers, registry = current_app.extensions['rhystic.oauth']
    if name not in providers:
        raise ApiError(404, 'There is no sign-in provider by that name.')
    return providers[name], registry.create_client(name)


class SignInFailed(Exception):
    def __init__(self, status, title, message):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


@bp.errorhandler(SignInFailed)
def _failed(exc):
    log.info('sign-in failed', extra={'event': 'sign_in_failed', 'status': exc.status,
                                      'reason': exc.title})
    return render_template('auth/error.html', title=exc.title, message=exc.message,
                           status=exc.status), exc.status


def _unreachable(provider):
    return SignInFailed(503, f'{provider.label} did not answer',
                        f'Rhystic could not reach {provider.label} to sign you in. It may be '
                        'down for a moment: try again shortly, or play as a guest meanwhile.')


@bp.get('/auth/<name>')
@limiter.limit(_limit('RATELIMIT_SIGN_IN'))
def start(name):
    """Send the browser to the provider; it comes back to callback().

    A link, not a form: the CSP's form-action 'self' would stop a form's redirect to the
    provider. Nothing is lost: a forged start can only sign the browser in to whichever
    provider account the person there chooses, and `state` ties the answer to it."""
    provider, client = _provider_or_404(name)
    session['sign_in_next'] = _local_path(request.args.get('next'))
    try:
        return client.authorize_redirect(_callback_url(name))
    except (requests.RequestException, ValueError, RuntimeError) as exc:
        log.warning('provider unreachable', extra={'event': 'sign_in_unreachable',
                                                   'provider': name, 'reason': str(exc)})
        raise _unreachable(provider) from None


@bp.get('/auth/<name>/callback')
@limiter.limit(_limit('RATELIMIT_SIGN_IN'))
def callback(name):
    """The provider's answer: check it, sign the browser in, and go back home."""
    provider, client = _provider_or_404(name)
    next_path = session.get('sign_in_next') or url_for('pages.index')
    profile = _profile(provider, client)
    current = current_user._get_current_object() if current_user.is_authenticated else None
    try:
        result = identities.sign_in(profile, current)
    except ApiError as exc:
        raise SignInFailed(400, 'Sign-in did not work', exc.message) from None
    sign_in_fresh(result.user)
    callers.forget(result.user.public_id)
    log.info('signed in', extra={'event': 'signed_in', 'provider': name,
                                 'user': result.user.public_id, 'reason': result.outcome})
    flash(_welcome(result, provider))
    return redirect(next_path)


def _welcome(result, provider):
    return {
        'new': f'Signed in with {provider.label}. Welcome, {result.user.display_name}!',
        'upgraded': f'Signed in with {provider.label}: your name and rooms are kept.',
        'linked': f'{provider.label} is linked to your account too.',
        'returning': f'Signed in with {provider.label}. Welcome back, '
                     f'{result.user.display_name}!',
    }[result.outcome]


def _profile(provider, client):
    """The provider's answer, checked, as an identities.Profile; or SignInFailed."""
    if request.args.get('error'):
        raise _declined(provider, request.args['error'])
    try:
        # RFC 9207: a provider that names itself must be the one we sent the browser to.
        named = request.args.get('iss')
        if provider.openid and named is not None and named != _issuer(client, provider):
            raise _spoiled(provider, 'it came from another issuer')
        token = client.authorize_access_token()
        if provider.openid:
            return _oidc_profile(provider, client, token)
        return _discord_profile(provider, client, token)
    except (requests.ConnectionError, requests.Timeout):
        raise _unreachable(provider) from None
    except AuthlibBaseError as exc:  # a wrong state, a code refused, a claim that fails
        raise _spoiled(provider, exc.description or exc.error or type(exc).__name__) from None
    except (JoseError, requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise _spoiled(provider, str(exc) or type(exc).__name__) from None


def _issuer(client, provider):
    return client.load_server_metadata().get('issuer', provider.issuer)


def _oidc_profile(provider, client, token):
    claims = token.get('userinfo')  # the ID token's claims, checked (nonce included)
    if not claims:  # no ID token, so no nonce checked: not a sign-in we can trust
        raise _spoiled(provider, 'it carried no ID token')
    shown = {k: claims.get(k) for k in ('name', 'preferred_username', 'picture')}
    if not (shown['name'] and shown['picture']) and \
            client.load_server_metadata().get('userinfo_endpoint'):
        # Many providers keep the profile out of the ID token. The account is still the
        # ID token's: the UserInfo answer counts only if it names the same subject.
        extra = client.userinfo(token=token)
        if extra.get('sub') == claims['sub']:
            shown = {k: shown[k] or extra.get(k) for k in shown}
    return identities.Profile(provider.name, claims['iss'], str(claims['sub']),
                              shown['name'] or shown['preferred_username'], shown['picture'])


def _discord_profile(provider, client, token):
    response = client.get(provider.userinfo_url, token=token, timeout=TIMEOUT)
    response.raise_for_status()
    me = response.json()
    avatar = me.get('avatar')
    picture = (f'https://cdn.discordapp.com/avatars/{me["id"]}/{avatar}.png'
               if isinstance(avatar, str) and re.fullmatch(r'(a_)?[0-9a-f]{32}', avatar)
               else None)
    return identities.Profile(provider.name, provider.issuer, str(me['id']),
                              me.get('global_name') or me.get('username'), picture)


def _declined(provider, error):
    if error == 'access_denied':
        return SignInFailed(403, 'Not signed in',
                            f'You did not allow Rhystic to use your {provider.label} account, '
                            'so you are not signed in. Nothing has changed: you can still '
                            'play as a guest, or sign in again.')
    return SignInFailed(400, 'Sign-in did not work',
                        f'{provider.label} said no ({error[:80]}). Nothing has changed; '
                        'try again from the home page.')


def _spoiled(provider, reason):
    log.warning('sign-in answer refused', extra={'event': 'sign_in_refused',
                                                 'provider': provider.name,
                                                 'reason': str(reason)[:200]})
    return SignInFailed(400, 'Sign-in did not work',
                        f'The answer from {provider.label} could not be used ({str(reason)[:120]}'
                        '). It may have expired, or come from another tab or an old link. '
                        'Nothing has changed: start again from the home page.')


def _callback_url(name):
    path = url_for('oauth.callback', name=name)
    public = current_app.config['PUBLIC_URL']
    return public + path if public else url_for('oauth.callback', name=name, _external=True)


def _local_path(value):
    """Where to go after signing in: a path on this site only, never another origin."""
    # Browsers drop tabs and newlines from URLs, and read '\\' as '/': '/\t/evil.example'
    # would be '//evil.example', another origin.
    if not isinstance(value, str) or not value.startswith('/') or value.startswith('//') \
            or len(value) > 200 \
            or any(ch == '\\' or ch.isspace() or not ch.isprintable() for ch in value):
        return None
    return value


@bp.post('/sign-out')
def sign_out_here():
    sign_out()
    flash('Signed out.')
    return redirect(url_for('pages.index'), 303)


@bp.post('/sign-out-everywhere')
def sign_out_everywhere():
    """End every session of this account, on every device, and replace its API token.
    The browser's session only: a program's bearer token alone rotates nothing here."""
    if bearer_token() is None and session.get('_user_id') and current_user.is_authenticated:
        user = current_user._get_current_object()
        user.end_sessions()
        _end_sockets(user.public_id)
        log.info('signed out everywhere', extra={'event': 'signed_out_everywhere',
                                                 'user': user.public_id})
    sign_out()
    flash('Signed out on every device. Your API token was replaced too.')
    return redirect(url_for('pages.index'), 303)


def _end_sockets(user_id):
    """Every worker forgets the account's cached sessions and ends its live seats
    (rhystic/signaling/signout.py), so that no device stays in a room."""
    signaling = current_app.extensions.get('rhystic.signaling')
    if signaling is None:
        callers.forget(user_id)
    else:
        signaling.signouts.everywhere(user_id)
