"""Normalize and SHA-256-hash one contact identifier the way TikTok matches it.

TikTok matches audience members on lowercase hex SHA-256 digests of a *normalized* email address,
phone number or mobile advertising id (MAID). A digest of a value that was normalized differently
from TikTok's side never matches, so the rules here follow TikTok Ads help, "List of supported IDs
and formats for a customer file"
(https://ads.tiktok.com/help/article/list-of-supported-ids-and-formats-for-a-customer-file);
``docs/identifiers.md`` lists every rule, every decision and the source behind it.

These are the scalar rules (:func:`normalize_email`, :func:`normalize_phone`, :func:`normalize_maid`,
:func:`hash_identifiers`), for single values and tests; :func:`.hashing.hash_members` applies the
same rules to a pandas chunk of contacts at once.

Privacy: raw identifier values never appear in exception messages or reasons.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import phonenumbers

from tiktok_audiences.members.identifier_types import DEFAULT_NORMALIZATION, ID_TYPES, Normalization

__all__ = [
    "MAX_EMAIL_LENGTH",
    "MAX_EMAIL_LOCAL_LENGTH",
    "MAX_RAW_LENGTH",
    "NORMALIZATION_VERSION",
    "REASONS",
    "InvalidIdentifier",
    "email_match_form",
    "hash_identifier",
    "hash_identifiers",
    "is_sha256_hex",
    "normalize_email",
    "normalize_maid",
    "normalize_phone",
    "phone_match_forms",
]

MAX_RAW_LENGTH = 320
"""Longer raw values are rejected before any parsing (guards regex/phone parsing cost)."""

MAX_EMAIL_LENGTH = 254
"""RFC 5321 path limit (256 octets incl. angle brackets), counted in characters here."""

MAX_EMAIL_LOCAL_LENGTH = 64
"""RFC 5321 local-part limit, counted in characters here."""

REASONS: dict[str, str] = {
    "value_too_long": f"value is longer than {MAX_RAW_LENGTH} characters",
    "email_malformed": "not a well-formed email address",
    "email_too_long": (
        f"email address is longer than {MAX_EMAIL_LENGTH} characters "
        f"or its local part is longer than {MAX_EMAIL_LOCAL_LENGTH}"
    ),
    "phone_no_region": "national phone number and no phone_country to read it with",
    "phone_unknown_region": "phone_country is not a known ISO 3166-1 alpha-2 region",
    "phone_unparseable": "phone number could not be parsed",
    "phone_invalid": "phone number is not a valid number for its country",
    "maid_malformed": "mobile advertising id is not a dashed UUID",
    "maid_zeroed": "mobile advertising id is all zeros (limited ad tracking)",
}
"""Stable reason keys (used in counts and on :class:`InvalidIdentifier`) -> explanation.

The explanations are fixed text: they never include the offending value.
"""

NORMALIZATION_VERSION = 2
"""Version of the normalization rules. Bump it with ANY change to how a raw value becomes a hash
(or becomes invalid), here or in :mod:`.hashing`: the identifier cache (:mod:`.identifier_cache`)
reuses hashes only when they were computed under the same version, the same libphonenumber release
and the same :class:`~.identifier_types.Normalization` options. 2: phone forms and email options (issue 15)."""

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
"""Domains whose mailboxes ignore dots in the local part (Google's documented Gmail behaviour)."""

# The shapes below are shared with the vectorized rules of :mod:`.hashing`.
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
MAID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ZERO_MAID = "00000000-0000-0000-0000-000000000000"

# Email shape, applied to the already trimmed, NFC-normalized, lowercased address.
# Local part: dot-atoms of any character except whitespace, controls, '@' and the
# RFC 5322 specials; UTF-8 local parts (RFC 6531) are allowed. Quoted local parts
# ("john doe"@x) are rejected: they are vanishingly rare in marketing data and
# usually a sign of a broken export.
_LOCAL_CHAR = r"[^\s@\"(),:;<>\[\]\\.\x00-\x1f\x7f]"
_LOCAL = rf"{_LOCAL_CHAR}+(?:\.{_LOCAL_CHAR}+)*"
# Domain labels: ASCII letters/digits/hyphen (not at either end) or any non-ASCII
# character, so IDN domains such as bücher.de are accepted as unicode. Whitespace
# and lone surrogates are excluded by the look-aheads on the whole pattern.
_LABEL_CHAR = r"[a-z0-9\u0080-\U0010ffff]"
_LABEL = rf"{_LABEL_CHAR}(?:[a-z0-9\-\u0080-\U0010ffff]{{0,61}}{_LABEL_CHAR})?"
# Top-level label: at least two characters and not all digits (rejects IP literals
# such as user@10.0.0.1 and typos such as user@example.c).
_TLD = rf"(?![0-9]+$){_LABEL_CHAR}[a-z0-9\-\u0080-\U0010ffff]{{0,61}}{_LABEL_CHAR}"
EMAIL_SHAPE = re.compile(
    rf"(?!.*\s)(?!.*[\ud800-\udfff]){_LOCAL}@(?:{_LABEL}\.)+{_TLD}",
    re.DOTALL,
)

# The ISO 3166-1 code "UK" is "exceptionally reserved" for the United Kingdom and is
# a common data-entry mistake for GB; libphonenumber only knows GB.
_REGION_ALIASES: dict[str, str] = {"UK": "GB"}
# "00" is the ITU-recommended international prefix used by most countries; treat it
# like "+" regardless of phone_country (other prefixes such as US "011" are still
# understood by libphonenumber when phone_country is given).
_DOUBLE_ZERO_PREFIX = re.compile(r"^([\s\-.()/]*)00")


class InvalidIdentifier(ValueError):
    """An identifier that cannot be normalized.

    ``reason`` is a stable snake_case key from :data:`REASONS`. The message is
    built only from the reason, never from the offending value, so exceptions can
    be logged safely.
    """

    def __init__(self, reason: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason key {reason!r}")
        self.reason = reason
        super().__init__(f"{reason}: {REASONS[reason]}")


# --------------------------------------------------------------------------- scalar


def is_sha256_hex(value: str) -> bool:
    """Return True when ``value`` (after trimming) is exactly 64 hex digits, any case.

    Such values are taken to be already hashed, as Segment's destinations do (``isAlreadyHashed`` in
    segmentio/action-destinations, packages/destination-actions/src/lib/hashing-utils.ts).
    """
    return isinstance(value, str) and SHA256_HEX.fullmatch(value.strip()) is not None


def normalize_email(value: str) -> str:
    """Trim, NFC-normalize and lowercase an email address, then validate its shape.

    Dots and ``+tags`` in the local part are kept here (:func:`email_match_form` applies the
    audience's options to the result) and IDN domains stay in unicode (no punycode); see
    ``docs/identifiers.md`` for why.

    Raises:
        InvalidIdentifier: ``value_too_long``, ``email_too_long`` or ``email_malformed``.
    """
    _check_raw_length(value)
    text = _email_text(value)
    reason = _email_problem(text)
    if reason is not None:
        raise InvalidIdentifier(reason)
    return text


def normalize_phone(value: str, region: str | None) -> str:
    """Return the E.164 form (``+`` and digits) of a phone number.

    Numbers written with ``+`` or ``00`` carry their own country code and ignore
    ``region``. Any other number is read as a national number of ``region`` (ISO
    3166-1 alpha-2, case-insensitive, blank means unknown). Spaces, dashes, dots,
    parentheses and full-width characters are accepted; an extension is dropped.

    Raises:
        InvalidIdentifier: ``value_too_long``, ``phone_no_region``,
            ``phone_unknown_region``, ``phone_unparseable`` or ``phone_invalid``.
    """
    _check_raw_length(value)
    e164, reason = phone_outcome(value.strip(), normalize_region(region))
    if reason is not None:
        raise InvalidIdentifier(reason)
    assert e164 is not None  # phone_outcome returns exactly one of the two
    return e164


def normalize_maid(value: str) -> str:
    """Trim and lowercase a mobile advertising id (IDFA/GAID) and check it is a UUID.

    Only the dashed 8-4-4-4-12 form is accepted: 32 hex digits without dashes are
    indistinguishable from an MD5 digest (TikTok also takes ``*_MD5`` MAIDs), so
    re-dashing them could silently hash a hash.

    Raises:
        InvalidIdentifier: ``value_too_long``, ``maid_malformed`` or ``maid_zeroed``.
    """
    _check_raw_length(value)
    text = value.strip().lower()
    reason = _maid_problem(text)
    if reason is not None:
        raise InvalidIdentifier(reason)
    return text


def email_match_form(email: str, normalization: Normalization = DEFAULT_NORMALIZATION) -> str:
    """Apply the ``+suffix`` and dot options to an address :func:`normalize_email` returned.

    A ``+`` that starts the local part is kept (nothing would be left of the mailbox name).
    """
    local, _, domain = email.rpartition("@")
    if normalization.email_plus_suffix == "remove":
        plus = local.find("+")
        if plus > 0:
            local = local[:plus]
    if normalization.email_dots == "remove" or (normalization.email_dots == "gmail" and domain in GMAIL_DOMAINS):
        local = local.replace(".", "")
    return f"{local}@{domain}"


def phone_match_forms(e164: str, normalization: Normalization = DEFAULT_NORMALIZATION) -> tuple[str, ...]:
    """The strings hashed for a phone :func:`normalize_phone` returned (one, or two for ``both``)."""
    return tuple(e164[1:] if form == "digits" else e164 for form in normalization.phone_forms)


def hash_identifiers(
    id_type: str, value: str, region: str | None = None, normalization: Normalization = DEFAULT_NORMALIZATION
) -> tuple[str, ...]:
    """Return the lowercase hex SHA-256 digests TikTok is sent for one identifier.

    One digest, except for a phone with ``phone_format: both`` (digits first, then E.164). A value
    that already is 64 hex digits is passed through lowercased and is not hashed again (whatever the
    options: its form was chosen by whoever hashed it). ``region`` is only used for phone numbers.

    Raises:
        ValueError: ``id_type`` is not one of :data:`ID_TYPES`.
        InvalidIdentifier: the value cannot be normalized (see the normalizers).
    """
    if id_type not in ID_TYPES:
        raise ValueError(f"unknown id_type {id_type!r}; expected one of {ID_TYPES}")
    _check_raw_length(value)
    if is_sha256_hex(value):
        return (value.strip().lower(),)
    if id_type == "email":
        forms: tuple[str, ...] = (email_match_form(normalize_email(value), normalization),)
    elif id_type == "phone":
        forms = phone_match_forms(normalize_phone(value, region), normalization)
    else:
        forms = (normalize_maid(value),)
    return tuple(_sha256(text) for text in forms)


def hash_identifier(
    id_type: str, value: str, region: str | None = None, normalization: Normalization = DEFAULT_NORMALIZATION
) -> str:
    """Return the lowercase hex SHA-256 TikTok expects for one identifier (see :func:`hash_identifiers`).

    Raises:
        ValueError: ``id_type`` is unknown, or ``normalization`` sends a phone in two forms
            (use :func:`hash_identifiers`).
        InvalidIdentifier: the value cannot be normalized (see the normalizers).
    """
    if id_type == "phone" and normalization.phone_format == "both":
        raise ValueError("phone_format 'both' gives two hashes; use hash_identifiers")
    return hash_identifiers(id_type, value, region, normalization)[0]


# ----------------------------------------------------------------- scalar helpers


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_raw_length(value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"identifier must be str, not {type(value).__name__}")
    if len(value) > MAX_RAW_LENGTH:
        raise InvalidIdentifier("value_too_long")


def _email_text(value: str) -> str:
    # Order as specified: trim, NFC (so composed and decomposed "ü" hash alike), lowercase.
    return unicodedata.normalize("NFC", value.strip()).lower()


def _email_problem(text: str) -> str | None:
    if len(text) > MAX_EMAIL_LENGTH or text.find("@") > MAX_EMAIL_LOCAL_LENGTH:
        return "email_too_long"
    if EMAIL_SHAPE.fullmatch(text) is None:
        return "email_malformed"
    return None


def _maid_problem(text: str) -> str | None:
    if MAID_SHAPE.fullmatch(text) is None:
        return "maid_malformed"
    if text == ZERO_MAID:
        return "maid_zeroed"
    return None


def normalize_region(region: str | None) -> str | None:
    """Uppercase an ISO alpha-2 region; blank or missing becomes None."""
    if region is None or not isinstance(region, str):
        return None
    code = region.strip().upper()
    if not code:
        return None
    return _REGION_ALIASES.get(code, code)


def phone_outcome(text: str, region: str | None) -> tuple[str | None, str | None]:
    """Return ``(e164, None)`` or ``(None, reason)`` for a trimmed phone string.

    Pure and deterministic for its two arguments, which is what makes the
    process-wide ``(raw, region)`` cache of :func:`.hashing.hash_members` safe.
    """
    # NFKC turns full-width digits and the full-width plus into ASCII so the
    # prefix checks below see them (libphonenumber itself would cope either way).
    text = unicodedata.normalize("NFKC", text)
    international = _DOUBLE_ZERO_PREFIX.sub(r"\1+", text, count=1)
    if international.lstrip(" -.()/").startswith("+"):
        # The number carries its country code; phone_country is irrelevant and is
        # deliberately not validated (a wrong region must not reject a good number).
        parse_region: str | None = None
        text = international
    elif region is None:
        return None, "phone_no_region"
    elif region not in phonenumbers.SUPPORTED_REGIONS:
        return None, "phone_unknown_region"
    else:
        parse_region = region
    try:
        number = phonenumbers.parse(text, parse_region)
    except phonenumbers.NumberParseException:
        return None, "phone_unparseable"
    if not phonenumbers.is_valid_number(number):
        return None, "phone_invalid"
    # E.164 never includes the extension, which TikTok could not match anyway.
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None
