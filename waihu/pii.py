"""Masking and normalisation of PII: pure functions, no key needed.

Masks are what every screen and log line shows (``138****5678``); normalisation is what the vault
hashes, so that one person's number written three ways is still one number for lookup and DNC.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Final, Literal

import phonenumbers

__all__ = [
    "MASK",
    "PII_KINDS",
    "PiiKind",
    "mask",
    "mask_address",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "mask_text",
    "normalise",
    "normalise_phone",
]

PiiKind = Literal["phone", "name", "id_number", "address"]
PII_KINDS: Final[tuple[PiiKind, ...]] = ("phone", "name", "id_number", "address")
MASK: Final = "****"

_NON_DIGITS = re.compile(r"\D")
_SPACES = re.compile(r"\s+")


def _digits(value: str) -> str:
    return _NON_DIGITS.sub("", unicodedata.normalize("NFKC", value))


def mask_phone(value: str) -> str:
    """``13812345678`` -> ``138****5678``; a +86/0086/86 prefix is dropped first.

    Numbers of 11 digits or more keep the first 3 and last 4 digits; shorter ones keep only the
    last 2, since 3 + 4 visible digits would reveal most of a short number.
    """
    text = unicodedata.normalize("NFKC", value).strip()
    digits = _digits(text)
    if text.startswith("+86") or (digits.startswith("0086") and len(digits) == 15):
        digits = digits[4:] if digits.startswith("0086") else digits[2:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    elif len(digits) == 12 and digits.startswith("01") and digits[2] in "3456789":
        digits = digits[1:]  # a mobile dialled in the national form (0 + the number)
    if len(digits) >= 11:
        return digits[:3] + MASK + digits[-4:]
    if len(digits) > 2:
        return "*" * (len(digits) - 2) + digits[-2:]
    return "*" * len(digits)


def mask_name(value: str) -> str:
    """``张三`` -> ``张*``, ``张三丰`` -> ``张**``: the family name stays, the given name goes."""
    name = _SPACES.sub(" ", unicodedata.normalize("NFKC", value).strip())
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_id_number(value: str) -> str:
    """Resident ID: ``110101199003071234`` -> ``110***********1234`` (18 or 15 characters).

    The first 3 (province and city) and last 4 stay; the birth date is always hidden. Values of
    another length keep only their last 2 characters.
    """
    text = _SPACES.sub("", unicodedata.normalize("NFKC", value)).upper()
    if len(text) in (15, 18):
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if len(text) > 2:
        return "*" * (len(text) - 2) + text[-2:]
    return "*" * len(text)


# Province-level prefix: skipped first so the 区 of 自治区 is not taken for a district.
_PROVINCE = re.compile(
    r"^(?:北京市|上海市|天津市|重庆市"
    r"|[^省市区县]{2,3}省|[^省市区县]{2,12}?自治区|[^省市区县]{2,3}特别行政区)"
)
# First district-level unit: 区/县/旗, but not the 区 of 地区 (prefecture) or 自治区 (province).
_DISTRICT = re.compile(r"(?<!地)(?<!自治)[区县旗]")
_ADDRESS_FALLBACK_CHARS = 6


def mask_address(value: str) -> str:
    """``北京市海淀区中关村大街27号`` -> ``北京市海淀区****``: keep down to the district, hide the rest.

    Without a district-level unit (区/县/旗) the first 6 characters stay, but never more than half
    of a short address, so a short value is not shown whole.
    """
    text = _SPACES.sub("", unicodedata.normalize("NFKC", value).strip())
    province = _PROVINCE.match(text)
    start = province.end() if province else 0
    district = _DISTRICT.search(text, start)
    if district is not None:
        return text[: district.end()] + MASK
    keep = min(_ADDRESS_FALLBACK_CHARS, len(text) // 2)
    return text[:keep] + MASK


_MASKERS: Final[dict[str, Callable[[str], str]]] = {
    "phone": mask_phone,
    "name": mask_name,
    "id_number": mask_id_number,
    "address": mask_address,
}


def mask(kind: str, value: str) -> str:
    """Mask a value of a PII kind (``phone``, ``name``, ``id_number``, ``address``)."""
    try:
        masker = _MASKERS[kind]
    except KeyError:
        raise ValueError(f"unknown PII kind {kind!r}; expected one of {', '.join(PII_KINDS)}") from None
    return masker(value)


# --- free text ---------------------------------------------------------------------------------

_ID_18 = r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
_ID_15 = r"[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
# a mobile, bare or after +86 / 0086 / 86, or after the 0 a carrier's number rule puts before it (013912345678)
_MOBILE = r"(?:(?:\+|00)?86[ -]?|0)?1[3-9]\d(?:[ -]?\d{4}){2}"
# a landline: area code 010, 02x or 0 + three digits (without the 0 after +86), then 7 or 8 digits
_AREA = r"(?:10|2\d|[3-9]\d{2})"
_LANDLINE = rf"(?:(?:\+|00)86[ -]?{_AREA}|\(0{_AREA}\)|0{_AREA})[ -]?[1-9]\d{{6,7}}"
_PII_IN_TEXT = re.compile(
    rf"(?<!\d)(?P<id>{_ID_18}|{_ID_15})(?![\dXx])"
    rf"|(?<![\d+])(?P<phone>{_MOBILE})(?!\d)"
    rf"|(?<![\d+])(?P<landline>{_LANDLINE})(?!\d)"
)


def _mask_match(match: re.Match[str]) -> str:
    if match.group("id") is not None:
        return mask_id_number(match.group("id"))
    return mask_phone(match.group("phone") or match.group("landline"))


def mask_text(text: str) -> str:
    """Mask Chinese mobile and landline numbers and resident ID numbers wherever they appear in free text.

    Only number shapes that are PII are touched (a mobile is 1[3-9] + 9 digits, optionally with a
    +86/86 prefix and spaces or dashes; a landline is an area code starting with 0, or in brackets, or
    after +86, then 7 or 8 digits not starting with 0; an ID has a plausible birth date), and never
    a piece of a longer digit run, so call ids, timestamps, zero-padded counters and amounts survive.
    """
    return _PII_IN_TEXT.sub(_mask_match, text)


# --- normalisation (what the vault hashes) -----------------------------------------------------


def normalise_phone(value: str, region: str = "CN") -> str:
    """E.164 form (``+8613812345678``) of a phone number written in any usual way.

    Raises ValueError (without echoing the number) when it cannot be parsed as a phone number.
    """
    try:
        number = phonenumbers.parse(unicodedata.normalize("NFKC", value), region)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number") from None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise(kind: str, value: str, region: str = "CN") -> str:
    """The canonical form of a PII value, so equal values hash equal."""
    if kind == "phone":
        return normalise_phone(value, region)
    text = unicodedata.normalize("NFKC", value).strip()
    if kind == "id_number":
        return _SPACES.sub("", text).upper()
    if kind in ("name", "address"):
        return _SPACES.sub(" ", text)
    raise ValueError(f"unknown PII kind {kind!r}; expected one of {', '.join(PII_KINDS)}")
