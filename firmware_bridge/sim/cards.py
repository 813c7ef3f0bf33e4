"""Test cards for the ID-card reader simulator: fixed, made-up people.

No real person's data: the resident card carries the GB 11643 standard's own sample number
(11010519491231002X); the other numbers were made up and given valid check digits with
:func:`kiosk.domain.identity.check_char`. Names are the usual Chinese placeholders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware_bridge.idreader.textblock import build_text_block
from kiosk.domain.identity import CardType

PHOTO_SIZE = 1024  # bytes of WLT data the reader sends after the text; never decoded


@dataclass(frozen=True, slots=True, repr=False)
class TestCard:
    """A card to place on the simulated reader. ``repr`` shows its key and kind only."""

    __test__ = False  # not a pytest test class, whatever its name says

    key: str
    card_type: CardType
    values: dict[str, str] = field(default_factory=dict)
    note: str = ""

    def __repr__(self) -> str:
        return f"TestCard({self.key}, {self.card_type})"

    def text_block(self) -> bytes:
        return build_text_block(self.card_type, self.values)

    @staticmethod
    def photo() -> bytes:
        # Stand-in for the WLT-compressed photo: opaque bytes the bridge must drop unread.
        return bytes(range(256)) * (PHOTO_SIZE // 256)


_RESIDENT = {
    "name": "张小红",
    "gender": "2",
    "ethnicity": "01",
    "birth_date": "19491231",
    "address": "北京市朝阳区演示路1号",
    "id_number": "11010519491231002X",
    "authority": "北京市公安局朝阳分局",
    "valid_from": "20150101",
    "valid_to": "长期",
}

TEST_CARDS: dict[str, TestCard] = {
    card.key: card
    for card in (
        TestCard("resident", "resident", _RESIDENT, "resident ID card, long-term"),
        TestCard(
            "hmt",
            "hmt",
            {
                "name": "陈大文",
                "gender": "1",
                "birth_date": "19850615",
                "address": "香港特别行政区演示道2号",
                "id_number": "810000198506151031",
                "authority": "深圳市公安局",
                "valid_from": "20200101",
                "valid_to": "20300101",
                "pass_number": "H12345678",
                "issue_count": "01",
            },
            "Hong Kong/Macau/Taiwan residence permit (J)",
        ),
        TestCard(
            "foreign2017",
            "foreign2017",
            {
                "english_name": "SMITH JOHN",
                "gender": "1",
                "id_number": "USA310019800101",
                "nationality": "USA",
                "valid_from": "20170601",
                "valid_to": "20370601",
                "birth_date": "19800101",
                "card_version": "01",
                "authority": "1500",
            },
            "foreign permanent resident card 2017 (I), English name only",
        ),
        TestCard(
            "foreign2023",
            "foreign2023",
            {
                "name": "安娜",
                "gender": "2",
                "renewal_count": "00",
                "birth_date": "19900506",
                "english_name": "TESTER ANNA MARIA KATHARINA VON DEM",
                "english_name_2": " DEMOHAUSEN",
                "id_number": "931840199005061238",
                "valid_from": "20230601",
                "valid_to": "20330601",
                "nationality": "USA",
            },
            "foreign permanent resident card 2023 (Y), long English name",
        ),
        TestCard(
            "bad-checksum",
            "resident",
            {**_RESIDENT, "name": "王测试", "id_number": "110105194912310021"},
            "resident card whose check digit does not match: refused",
        ),
        TestCard(
            "expired",
            "resident",
            {
                **_RESIDENT,
                "name": "李测试",
                "gender": "1",
                "birth_date": "19900307",
                "id_number": "440106199003071231",
                "address": "广州市天河区演示街3号",
                "authority": "广州市公安局天河分局",
                "valid_from": "20100307",
                "valid_to": "20200307",
            },
            "resident card that expired in 2020",
        ),
    )
}


def card_list() -> str:
    """One line per test card: key, type and what it is for (no personal data)."""
    return "\n".join(f"{c.key:<13} {c.card_type:<12} {c.note}" for c in TEST_CARDS.values())
