from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waihu.pii import (
    mask,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_text,
    normalise,
    normalise_phone,
)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("+8613812345678", "138****5678"),
        ("8613812345678", "138****5678"),
        ("0086 13812345678", "138****5678"),
        ("１３８１２３４５６７８", "138****5678"),  # full-width digits
        ("010-12345678", "010****5678"),  # landline with area code
        ("12345678", "******78"),  # short: only the last 2 digits
        ("10086", "***86"),
        ("12", "**"),
        ("", ""),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [("张三", "张*"), ("张三丰", "张**"), ("欧阳娜娜", "欧***"), (" 李四 ", "李*"), ("王", "*"), ("", "")],
)
def test_mask_name(value: str, masked: str) -> None:
    assert mask_name(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("110101199003071234", "110***********1234"),
        ("11010119900307123X", "110***********123X"),
        ("11010119900307123x", "110***********123X"),
        ("110101900307123", "110********7123"),  # old 15-digit ID
        ("110101 19900307 1234", "110***********1234"),
        ("12345", "***45"),  # not an ID shape: last 2 only
        ("", ""),
    ],
)
def test_mask_id_number(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("北京市海淀区中关村大街27号", "北京市海淀区****"),
        ("上海市浦东新区世纪大道100号", "上海市浦东新区****"),
        ("广东省深圳市南山区科技园南区8栋", "广东省深圳市南山区****"),
        ("江西省赣州市于都县贡江镇长征大道1号", "江西省赣州市于都县****"),
        ("江西省赣州市章贡区红旗大道", "江西省赣州市章贡区****"),
        # the 区 of 自治区 (province) and 地区 (prefecture) is not the district
        ("内蒙古自治区呼和浩特市新城区新华大街1号", "内蒙古自治区呼和浩特市新城区****"),
        ("内蒙古自治区锡林郭勒盟正蓝旗上都镇", "内蒙古自治区锡林郭勒盟正蓝旗****"),
        ("新疆维吾尔自治区阿克苏地区沙雅县团结路", "新疆维吾尔自治区阿克苏地区沙雅县****"),
        ("北京市市辖区东城区东华门街道", "北京市市辖区****"),
        ("赣州市章贡区文明大道", "赣州市章贡区****"),
        # no district-level unit: the first 6 characters
        ("江西省赣州市文明大道88号天虹商场", "江西省赣州市****"),
        # ... but never more than half of a short address
        ("中关村大街27号", "中关村大****"),
        ("", "****"),
    ],
)
def test_mask_address(value: str, masked: str) -> None:
    assert mask_address(value) == masked


def test_mask_dispatches_by_kind() -> None:
    assert mask("phone", "13812345678") == "138****5678"
    assert mask("name", "张三") == "张*"
    assert mask("id_number", "110101199003071234") == "110***********1234"
    assert mask("address", "北京市海淀区中关村大街27号") == "北京市海淀区****"
    with pytest.raises(ValueError, match="unknown PII kind 'email'"):
        mask("email", "a@b.c")


def test_mask_text_masks_pii_and_leaves_other_numbers_alone() -> None:
    text = (
        "2026-11-27 15:56:07 call c-20261127-000123 (uniqueid 1764230167.42) to 138 1234 5678, "
        "callback +86-139-1234-5678 or 8615012345678; 身份证110101199003071234 付款5元 "
        "order 213812345678901 amount 13800.00"
    )
    assert mask_text(text) == (
        "2026-11-27 15:56:07 call c-20261127-000123 (uniqueid 1764230167.42) to 138****5678, "
        "callback 139****5678 or 150****5678; 身份证110***********1234 付款5元 "
        "order 213812345678901 amount 13800.00"
    )


@pytest.mark.parametrize(
    "text",
    [
        "客户13812345678已接通",
        "tel:+8613812345678",
        "PJSIP/trunk/13812345678-00000001",
        "phone=13812345678&x=1",
        "PJSIP/013812345678@carrier-00000002",  # the national form a trunk's number rule dials
    ],
)
def test_mask_text_finds_mobile_in_context(text: str) -> None:
    masked = mask_text(text)
    assert "13812345678" not in masked
    assert "138****5678" in masked


@pytest.mark.parametrize(
    "text",
    [
        "138123456789",  # 12 digits: not a mobile
        "23812345678",  # does not start with 1
        "12812345678",  # 1 then 2: no such mobile prefix
        "20261127155607",  # compact timestamp
        "1764230167123",  # epoch milliseconds
        "call 7f1c2e4a-1381-2345-6789-0a1b2c3d4e5f",
    ],
)
def test_mask_text_leaves_non_pii_numbers(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("座机 0797-8123456 已接通", "座机 079****3456 已接通"),
        ("北京 010-12345678", "北京 010****5678"),
        ("07978123456", "079****3456"),
        ("(0571) 88889999 转 8", "057****9999 转 8"),
        ("+86-10-12345678", "********78"),
        ("tel:+86 21 61234567", "tel:********67"),
    ],
)
def test_mask_text_masks_landlines(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "c-20261127-000123",  # zero-padded counter
        "PJSIP/trunk-00000001",
        "duration 0.0512345678",  # a fraction
        "order 0012345678",  # 00 is no area code
        "2026-11-27 01:02:03",
    ],
)
def test_mask_text_leaves_numbers_that_only_look_like_landlines(text: str) -> None:
    assert mask_text(text) == text


def test_mask_text_masks_old_15_digit_id() -> None:
    assert mask_text("证件 110101900307123 已核验") == "证件 110********7123 已核验"


@given(st.text(alphabet=st.characters(exclude_categories=["Nd"])))
def test_mask_text_without_digits_is_identity(text: str) -> None:
    assert mask_text(text) == text


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_mask_phone_never_shows_the_middle_four(number: str) -> None:
    masked = mask_phone(number)
    assert masked == number[:3] + "****" + number[-4:]
    assert mask_text(f"客户 {number} 接通") == f"客户 {masked} 接通"


@given(st.text())
def test_mask_functions_never_crash(value: str) -> None:
    for kind in ("phone", "name", "id_number", "address"):
        assert isinstance(mask(kind, value), str)
    assert isinstance(mask_text(value), str)


def test_normalise_phone_to_e164() -> None:
    for written in ("138 1234 5678", "+86 13812345678", "13812345678", "+86-138-1234-5678", "008613812345678"):
        assert normalise_phone(written) == "+8613812345678"
    assert normalise_phone("(415) 555-2671", "US") == "+14155552671"


def test_normalise_phone_refuses_garbage_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="not a phone number") as info:
        normalise_phone("secret-not-a-number")
    assert "secret" not in str(info.value)


def test_normalise_other_kinds() -> None:
    assert normalise("id_number", " 11010119900307123x ") == "11010119900307123X"
    assert normalise("name", "  张三 ") == "张三"
    assert normalise("address", "北京市  海淀区 ") == "北京市 海淀区"
    with pytest.raises(ValueError, match="unknown PII kind"):
        normalise("email", "x")
