"""The trade's words the registry checks against: machine types and product families (keys as the
CSV files and the planner use them, with their Korean and English names).

simulators/network.py generates workshops with the same keys; tests/unit/test_registry_csv.py
holds the two lists together. A new type or family is one line here (and a migration is not
needed: the tables store the keys as text).
"""

from __future__ import annotations

#: key: (Korean, English)
MACHINE_TYPES: dict[str, tuple[str, str]] = {
    "lockstitch": ("본봉", "lockstitch"),
    "overlock": ("오버록", "overlock"),
    "coverstitch": ("삼봉", "coverstitch"),
    "flatlock": ("평봉", "flatlock"),
    "chainstitch": ("체인스티치", "feed-off-the-arm chainstitch"),
    "bartack": ("바택", "bartack"),
    "buttonhole": ("단추구멍", "buttonhole"),
    "button_sew": ("단추달이", "button sewing"),
}

#: key: (Korean, English)
FAMILIES: dict[str, tuple[str, str]] = {
    "knit_tops": ("티셔츠·니트 상의", "knit tops"),
    "dresses_skirts": ("원피스·스커트", "dresses and skirts"),
    "woven_shirts": ("셔츠·블라우스", "woven shirts and blouses"),
    "trousers": ("바지·슬랙스", "trousers"),
    "outerwear": ("재킷·코트", "jackets and coats"),
    "denim": ("청바지", "denim"),
    "sportswear": ("운동복·레깅스", "sportswear and leggings"),
}

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CONTACT_CHANNELS: tuple[str, ...] = ("phone", "kakaotalk", "sms", "email")
DESIGNER_KINDS: tuple[str, ...] = ("wholesale", "designer_brand", "online_store")
SUPPLIER_KINDS: tuple[str, ...] = ("fabric", "knitting", "dyeing", "trims", "printing", "washing")
