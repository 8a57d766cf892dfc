"""The identifier types this package sends, TikTok's names for them and the normalization options.

What an audience is made of, before any value is touched: which contact columns hold an email,
a phone number or a mobile advertising id (MAID), how TikTok names each hashed type, and the
options (:class:`Normalization`) that choose which string of a valid identifier is hashed. The
rules themselves are in :mod:`.normalize` (one value) and :mod:`.hashing` (a chunk of contacts).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_NORMALIZATION",
    "EMAIL_DOTS",
    "EMAIL_PLUS_SUFFIX",
    "ID_TYPES",
    "INPUT_COLUMN",
    "PHONE_FORMATS",
    "PHONE_REGION_COLUMN",
    "TIKTOK_CALCULATE_TYPE",
    "TIKTOK_ID_COLUMN",
    "Normalization",
    "default_normalization",
]

ID_TYPES: tuple[str, ...] = ("email", "phone", "maid")
"""Identifier types this package sends, in the order they are processed."""

TIKTOK_ID_COLUMN: dict[str, str] = {
    "email": "EMAIL_SHA256",
    "phone": "PHONE_SHA256",
    "maid": "MAID_SHA256",
}
"""Customer-file header naming each identifier type's column (TikTok's help page "List of supported
IDs and formats for a customer file": Email_SHA256, Phone_SHA256, MAID_SHA256)."""

TIKTOK_CALCULATE_TYPE: dict[str, str] = {
    "email": "EMAIL_SHA256",
    "phone": "PHONE_SHA256",
    # Create's strict enum has no MAID_*: mobile ids (IDFA or GAID) are FIRST_SHA256 there, and the
    # upload enum gives MAID_SHA256 the same value (6); uploads use FIRST_SHA256 too, so the files and
    # the create agree. tiktok/tiktok-business-api-sdk yml_files/dmp_custom_audience_create.yml,
    # yml_files/dmp_custom_audience_file_upload.yml.
    "maid": "FIRST_SHA256",
}
"""TikTok's ``calculate_type`` (create, update's files, upload) for an audience of one identifier type."""

INPUT_COLUMN: dict[str, str] = {"email": "email", "phone": "phone", "maid": "mobile_ad_id"}
"""Column of the reference ``contacts`` table that holds each identifier type."""

PHONE_REGION_COLUMN = "phone_country"
"""Column holding the ISO 3166-1 alpha-2 region used to read national phone numbers."""

PHONE_FORMATS: tuple[str, ...] = ("digits", "e164", "both")
"""How a phone number is hashed: ``digits`` = country code and number without ``+``
(``16577770000``, TikTok's customer-file page of Aug 2025 and the worked example hash of its Sept 2025
page), ``e164`` = with ``+`` (``+16577770000``, what the Audience Segment / partner API documents),
``both`` = one record of each form. See docs/identifiers.md."""

EMAIL_PLUS_SUFFIX: tuple[str, ...] = ("remove", "keep")
"""``remove``: ``jane+news@x.com`` is sent as ``jane@x.com`` (TikTok's customer-file format page)."""

EMAIL_DOTS: tuple[str, ...] = ("keep", "gmail", "remove")
"""Dots in the local part: kept, removed for Gmail addresses only, or removed for every domain."""


@dataclass(frozen=True)
class Normalization:
    """The options that change which string of a valid identifier is hashed (audience file ``normalization:``).

    The defaults are the customer-file API's; :func:`default_normalization` gives each API's. Any
    option is part of the identifier cache's key (:func:`as_key`), because it changes hashes.

    :param phone_format: one of :data:`PHONE_FORMATS`
    :param email_plus_suffix: one of :data:`EMAIL_PLUS_SUFFIX`
    :param email_dots: one of :data:`EMAIL_DOTS`
    """

    phone_format: str = "digits"
    email_plus_suffix: str = "remove"
    email_dots: str = "keep"

    def __post_init__(self) -> None:
        for name, allowed in (("phone_format", PHONE_FORMATS), ("email_plus_suffix", EMAIL_PLUS_SUFFIX),
                              ("email_dots", EMAIL_DOTS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")

    @property
    def phone_forms(self) -> tuple[str, ...]:
        """The phone forms sent, in the order they are written: ``("digits",)``, ``("e164",)`` or both."""
        return ("digits", "e164") if self.phone_format == "both" else (self.phone_format,)

    def as_key(self) -> dict[str, str]:
        return {"phone_format": self.phone_format, "email_plus_suffix": self.email_plus_suffix,
                "email_dots": self.email_dots}

    @classmethod
    def from_settings(cls, settings: dict[str, str] | None, api: str = "customer_file") -> Normalization:
        """The API's defaults overridden by the audience file's ``normalization:`` block (validated there)."""
        base = default_normalization(api)
        values = {**base.as_key(), **{k: v for k, v in (settings or {}).items() if v is not None}}
        return cls(**values)


def default_normalization(api: str = "customer_file") -> Normalization:
    """Each API's defaults: digits for customer files, E.164 with ``+`` for the partner API.

    Why each: docs/identifiers.md (TikTok's customer-file pages vs the Audience Segment API's
    ``PHONE_SHA256`` description, "SHA256 of an E.164 phone number, e.g. +1231234567").
    """
    if api == "partner":
        return Normalization(phone_format="e164")
    return Normalization()


DEFAULT_NORMALIZATION = Normalization()
