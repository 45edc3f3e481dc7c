"""A simulated Dongdaemun fashion market with known truth, for evaluating the styles recommender
where no real purchase log exists: shoppers, products and purchases over some weeks, written in
the H&M competition's file format so the same evaluation runs on simulated and on real data.

    sim = simulate(MarketSpec(shoppers=2_000, products=1_000, purchases=40_000, weeks=8, seed=1))
    sim.market.transactions          # t_dat, customer_id, article_id, price, sales_channel_id
    sim.truth.shopper_style          # the latent taste behind every purchase
    sim.write(folder)                # articles.csv, customers.csv, transactions_train.csv

What drives a purchase (all of it seeded; the same spec gives the same files, byte for byte):
- style: 18 style lines (minimal office, street, knit cosy, men's smart, ...) each with a centre
  in a 16-dimensional latent style space. A product's style sits near its line's centre (and a
  little toward its product type); its colour variants share it. A shopper's taste mixes one or
  two lines (which ones depends on age) plus a personal part. Lines fix what a product looks like
  in the H&M columns (index, section, product type, graphical appearance, colours, words of the
  description), so attributes and text carry real, noisy information about the latent style:
  what a recommender needs for a product nobody has bought yet;
- colour: every shopper has a personal colour season and a sensitivity to it; a variant whose
  CIELAB colour sits in that season's palette (hub.styles.colour) is more likely chosen;
- price: a shopper's budget (by age band); pieces above it are avoided, more so the further;
- time: products arrive every week (a share before the window as back catalogue), sell most in
  their first weeks and fade (each style its own half-life; basics last); each line and each
  style has a weekly trend (a random walk); spring/summer stock fades through the autumn, fall/
  winter stock rises (by the calendar); weekends are busier;
- habits: repurchase of something bought before, another colour of a style bought before, baskets
  of 1 to 6 pieces from one line more often than not, sometimes two colours of one style in a
  basket, sometimes two pieces of one article (H&M writes a row per piece);
- new shoppers join every week (cold users) and new products arrive every week (cold items).

Popularity is a real but beatable baseline: strong items and weekly trends make the recent
best-sellers right for many shoppers, while the latent style, colour, budget and habits leave a
lot a personal model can learn. Prices, minimum orders and shops are assumed Dongdaemun levels
(wholesale from 5 pieces per FIELD_FACTS; T-shirts around 7,000 KRW wholesale, coats 60,000);
a transaction's price is paid KRW / 1,000,000 (hub.styles.market.PRICE_UNIT_KRW).

Vectorised with numpy: the 50,000-shopper, 20,000-product, 1,000,000-purchase, 16-week market
takes well under a minute.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from hub.styles import colour
from hub.styles.market import PRICE_UNIT_KRW, Market, write

DIMS = 16


@dataclass(frozen=True)
class MarketSpec:
    shoppers: int = 50_000
    products: int = 20_000          # articles: colour variants of styles (product codes)
    purchases: int = 1_000_000      # transaction rows (a row per piece)
    weeks: int = 16
    seed: int = 0
    start: date = date(2026, 7, 6)  # a Monday

    def __post_init__(self) -> None:
        if self.shoppers < 10 or self.products < 20 or self.purchases < 10 or self.weeks < 1:
            raise ValueError("a market needs at least 10 shoppers, 20 products, 10 purchases and 1 week")


# --- vocabulary: H&M's codes and names, with Korean and Chinese ----------------------------------

@dataclass(frozen=True)
class ProductType:
    key: str
    no: int
    name: str
    group: str
    garment_no: int
    garment: str
    ko: str
    zh: str
    wholesale_krw: int     # a typical Dongdaemun wholesale price (assumed)
    season: str            # all | ss | fw
    material: str
    features: tuple[str, ...]


_UPPER, _LOWER, _FULL = "Garment Upper body", "Garment Lower body", "Garment Full body"
TYPES: tuple[ProductType, ...] = (
    ProductType("tshirt", 255, "T-shirt", _UPPER, 1002, "Jersey Basic", "티셔츠", "T恤", 7_000, "all", "cotton jersey",
                ("a round neckline", "short sleeves", "a straight-cut hem", "dropped shoulders")),
    ProductType("top", 254, "Top", _UPPER, 1005, "Jersey Fancy", "탑", "上衣", 8_000, "ss", "soft jersey",
                ("a square neckline", "narrow shoulder straps", "a cropped hem", "gathered sides")),
    ProductType("vest", 253, "Vest top", _UPPER, 1002, "Jersey Basic", "나시", "背心", 5_000, "ss", "ribbed jersey",
                ("narrow shoulder straps", "a scoop neckline", "a fitted cut")),
    ProductType("blouse", 258, "Blouse", _UPPER, 1010, "Blouses", "블라우스", "女式衬衫", 14_000, "all", "airy weave",
                ("a V-neck", "puff sleeves", "buttons down the front", "a tie at the neck")),
    ProductType("shirt", 259, "Shirt", _UPPER, 1011, "Shirts", "셔츠", "衬衫", 15_000, "all", "cotton poplin",
                ("a collar", "buttons down the front", "a chest pocket", "long sleeves with buttoned cuffs")),
    ProductType("sweater", 252, "Sweater", _UPPER, 1003, "Knitwear", "니트", "毛衣", 16_000, "fw", "soft knit",
                ("ribbing around the neckline", "long sleeves", "dropped shoulders", "a ribbed hem")),
    ProductType("cardigan", 245, "Cardigan", _UPPER, 1003, "Knitwear", "가디건", "开衫", 18_000, "fw", "fine knit",
                ("buttons down the front", "a V-neck", "long raglan sleeves", "pockets")),
    ProductType("hoodie", 308, "Hoodie", _UPPER, 1005, "Jersey Fancy", "후드티", "连帽衫", 15_000, "fw", "sweatshirt fabric",
                ("a lined drawstring hood", "a kangaroo pocket", "ribbed cuffs", "a soft brushed inside")),
    ProductType("jacket", 262, "Jacket", _UPPER, 1007, "Outdoor", "재킷", "夹克", 35_000, "fw", "woven twill",
                ("a zip down the front", "side pockets", "a stand-up collar", "a lined body")),
    ProductType("coat", 263, "Coat", _UPPER, 1007, "Outdoor", "코트", "大衣", 60_000, "fw", "wool-blend felt",
                ("notch lapels", "double-breasted buttons", "welt pockets", "a back vent")),
    ProductType("blazer", 264, "Blazer", _UPPER, 1008, "Dressed", "블레이저", "西装外套", 38_000, "all", "suit weave",
                ("notch lapels", "a single button", "flap pockets", "padded shoulders")),
    ProductType("polo", 257, "Polo shirt", _UPPER, 1002, "Jersey Basic", "폴로 셔츠", "Polo衫", 11_000, "ss", "cotton piqué",
                ("a collar", "a button placket", "short sleeves")),
    ProductType("trousers", 272, "Trousers", _LOWER, 1009, "Trousers", "바지", "长裤", 16_000, "all", "stretch weave",
                ("a high waist", "side pockets", "straight legs", "pressed pleats")),
    ProductType("jeans", 272, "Trousers", _LOWER, 1016, "Trousers Denim", "청바지", "牛仔裤", 19_000, "all", "washed denim",
                ("a high waist", "a zip fly and button", "five pockets", "wide legs", "raw-edge hems")),
    ProductType("shorts", 274, "Shorts", _LOWER, 1025, "Shorts", "반바지", "短裤", 10_000, "ss", "light cotton",
                ("an elasticated waist", "side pockets", "turn-ups")),
    ProductType("skirt", 275, "Skirt", _LOWER, 1012, "Skirts", "스커트", "半身裙", 13_000, "all", "flowing weave",
                ("a high waist", "a concealed zip", "an A-line cut", "pleats")),
    ProductType("leggings", 273, "Leggings/Tights", _LOWER, 1002, "Jersey Basic", "레깅스", "打底裤", 6_000, "all",
                "stretch jersey", ("a wide waistband", "a high waist", "a seamless finish")),
    ProductType("dress", 265, "Dress", _FULL, 1013, "Dresses Ladies", "원피스", "连衣裙", 22_000, "ss", "crêpe weave",
                ("a V-neck", "short puff sleeves", "a tie belt", "a flared skirt", "a smocked bodice")),
    ProductType("jumpsuit", 267, "Jumpsuit/Playsuit", _FULL, 1013, "Dresses Ladies", "점프수트", "连体裤", 20_000, "ss",
                "linen-blend weave", ("a wrapover top", "a tie belt", "wide legs")),
    ProductType("set", 270, "Garment Set", _FULL, 1005, "Jersey Fancy", "세트", "套装", 25_000, "all", "soft jersey",
                ("a matching top and bottoms", "an elasticated waist", "ribbed trims")),
    ProductType("pyjama", 297, "Pyjama set", "Nightwear", 1017, "Under-, Nightwear", "잠옷 세트", "睡衣套装", 14_000, "all",
                "soft cotton", ("a shirt with a collar", "trousers with an elasticated waist", "piping")),
    ProductType("bra", 306, "Bra", "Underwear", 1017, "Under-, Nightwear", "브래지어", "文胸", 9_000, "all", "microfibre",
                ("moulded cups", "adjustable shoulder straps", "a hook-and-eye fastening")),
    ProductType("briefs", 286, "Underwear bottom", "Underwear", 1017, "Under-, Nightwear", "속옷 하의", "内裤", 3_000,
                "all", "cotton jersey", ("a low waist", "lace trims", "a lined gusset")),
    ProductType("bikini", 298, "Bikini top", "Swimwear", 1018, "Swimwear", "비키니 상의", "比基尼上衣", 9_000, "ss",
                "swimwear fabric", ("padded cups", "ties at the back", "narrow straps")),
    ProductType("swimbottom", 59, "Swimwear bottom", "Swimwear", 1018, "Swimwear", "수영복 하의", "泳裤", 7_000, "ss",
                "swimwear fabric", ("ties at the sides", "a high leg", "a lined front")),
    ProductType("socks", 302, "Socks", "Socks & Tights", 1021, "Socks and Tights", "양말", "袜子", 1_500, "all",
                "soft cotton-blend", ("ribbed tops", "a cushioned sole")),
    ProductType("bag", 66, "Bag", "Accessories", 1019, "Accessories", "가방", "包", 18_000, "all", "imitation leather",
                ("a zip top", "a detachable shoulder strap", "an inner pocket")),
    ProductType("scarf", 80, "Scarf", "Accessories", 1019, "Accessories", "스카프", "围巾", 8_000, "fw", "soft woven fabric",
                ("fringes at the short ends", "a generous length")),
    ProductType("beanie", 75, "Hat/beanie", "Accessories", 1019, "Accessories", "비니", "毛线帽", 7_000, "fw", "rib knit",
                ("a turn-up", "a soft fleece lining")),
    ProductType("brimhat", 76, "Hat/brim", "Accessories", 1019, "Accessories", "챙모자", "宽檐帽", 9_000, "ss",
                "paper straw", ("a wide brim", "a grosgrain band")),
    ProductType("belt", 67, "Belt", "Accessories", 1019, "Accessories", "벨트", "腰带", 6_000, "all", "imitation leather",
                ("a metal buckle", "a narrow cut")),
    ProductType("earring", 70, "Earring", "Accessories", 1019, "Accessories", "귀걸이", "耳环", 4_000, "all", "metal",
                ("hoops", "drop pendants", "a hinged fastening")),
    ProductType("sneakers", 94, "Sneakers", "Shoes", 1020, "Shoes", "운동화", "运动鞋", 28_000, "all", "canvas",
                ("lacing at the front", "a padded tongue", "chunky rubber soles")),
    ProductType("boots", 87, "Boots", "Shoes", 1020, "Shoes", "부츠", "靴子", 45_000, "fw", "imitation leather",
                ("a zip in one side", "block heels", "pointed toes")),
    ProductType("sandals", 91, "Sandals", "Shoes", 1020, "Shoes", "샌들", "凉鞋", 18_000, "ss", "imitation leather",
                ("narrow straps", "an adjustable ankle strap", "a low heel")),
)
TYPE_INDEX = {t.key: i for i, t in enumerate(TYPES)}


@dataclass(frozen=True)
class PaletteColour:
    code: int
    name: str
    hex: str
    value_id: int
    master_id: int
    popularity: float   # a share of H&M's colours, roughly (black leads by far)
    ko: str
    zh: str


PERCEIVED_VALUES = {1: "Dusty Light", 2: "Medium Dusty", 3: "Light", 4: "Dark", 5: "Bright", 7: "Medium"}
PERCEIVED_MASTERS = {2: "Blue", 3: "Orange", 4: "Pink", 5: "Black", 6: "Lilac Purple", 7: "Turquoise", 8: "Yellow",
                     9: "White", 11: "Beige", 12: "Grey", 13: "Brown", 18: "Red", 19: "Green", 20: "Khaki green"}
PALETTE: tuple[PaletteColour, ...] = (
    PaletteColour(9, "Black", "#1a1a1a", 4, 5, 30.0, "블랙", "黑色"),
    PaletteColour(10, "White", "#f7f7f5", 3, 9, 9.0, "화이트", "白色"),
    PaletteColour(11, "Off White", "#f0ead8", 1, 9, 3.0, "오프화이트", "米白色"),
    PaletteColour(6, "Light Grey", "#c8c8c8", 1, 12, 2.0, "라이트 그레이", "浅灰色"),
    PaletteColour(7, "Grey", "#8f8f8f", 2, 12, 4.0, "그레이", "灰色"),
    PaletteColour(8, "Dark Grey", "#4a4a4c", 4, 12, 3.0, "차콜", "炭灰色"),
    PaletteColour(12, "Light Beige", "#e8dcc4", 1, 11, 2.5, "라이트 베이지", "浅米色"),
    PaletteColour(13, "Beige", "#cdb592", 2, 11, 2.5, "베이지", "米色"),
    PaletteColour(14, "Dark Beige", "#a88b64", 2, 11, 1.0, "다크 베이지", "深米色"),
    PaletteColour(17, "Yellowish Brown", "#9a6a36", 2, 13, 1.5, "카멜", "驼色"),
    PaletteColour(19, "Greenish Khaki", "#6f6a45", 4, 20, 2.5, "카키", "卡其绿"),
    PaletteColour(21, "Light Yellow", "#f5e9a0", 3, 8, 0.5, "레몬", "柠檬黄"),
    PaletteColour(22, "Yellow", "#f2c81e", 5, 8, 1.0, "옐로", "黄色"),
    PaletteColour(23, "Dark Yellow", "#a8801f", 2, 8, 0.6, "머스터드", "芥末黄"),
    PaletteColour(31, "Light Orange", "#f6b98a", 1, 3, 0.8, "피치", "桃色"),
    PaletteColour(32, "Orange", "#ec7a23", 5, 3, 0.5, "오렌지", "橙色"),
    PaletteColour(33, "Dark Orange", "#b5542a", 2, 3, 0.5, "테라코타", "赤陶色"),
    PaletteColour(41, "Light Red", "#f07b75", 7, 18, 0.6, "코랄", "珊瑚色"),
    PaletteColour(42, "Red", "#c8202f", 5, 18, 2.5, "레드", "红色"),
    PaletteColour(43, "Dark Red", "#7a1f2b", 4, 18, 2.0, "버건디", "酒红色"),
    PaletteColour(51, "Light Pink", "#f4c9d0", 1, 4, 3.0, "라이트 핑크", "浅粉色"),
    PaletteColour(52, "Pink", "#e58fb0", 2, 4, 1.5, "핑크", "粉色"),
    PaletteColour(53, "Dark Pink", "#c2336f", 5, 4, 0.7, "푸시아", "玫红色"),
    PaletteColour(61, "Light Purple", "#c9b6dd", 1, 6, 0.6, "라벤더", "薰衣草紫"),
    PaletteColour(62, "Purple", "#7d4f9c", 2, 6, 0.4, "퍼플", "紫色"),
    PaletteColour(71, "Light Blue", "#b7cfe6", 1, 2, 3.0, "스카이 블루", "天蓝色"),
    PaletteColour(72, "Blue", "#3f6fb5", 2, 2, 3.5, "블루", "蓝色"),
    PaletteColour(73, "Dark Blue", "#1f2a4a", 4, 2, 9.0, "네이비", "藏青色"),
    PaletteColour(81, "Light Turquoise", "#a8e0dc", 3, 7, 0.6, "민트", "薄荷绿"),
    PaletteColour(83, "Dark Turquoise", "#1f6f73", 4, 7, 0.5, "틸", "青色"),
    PaletteColour(91, "Light Green", "#b9d9a8", 3, 19, 0.5, "연두", "浅绿色"),
    PaletteColour(92, "Green", "#3f8f4f", 7, 19, 0.8, "그린", "绿色"),
    PaletteColour(93, "Dark Green", "#24452f", 4, 19, 1.2, "다크 그린", "墨绿色"),
)
COLOUR_INDEX = {c.name: i for i, c in enumerate(PALETTE)}

APPEARANCES: dict[str, int] = {
    "Solid": 1010016, "All over pattern": 1010001, "Melange": 1010010, "Stripe": 1010017, "Denim": 1010023,
    "Placement print": 1010014, "Front print": 1010008, "Check": 1010004, "Lace": 1010021,
    "Colour blocking": 1010005, "Embroidery": 1010007, "Dot": 1010006, "Jacquard": 1010022,
}
APPEARANCE_WORDS = {"Solid": "", "All over pattern": "patterned", "Melange": "marled", "Stripe": "striped",
                    "Denim": "", "Placement print": "printed", "Front print": "printed", "Check": "checked",
                    "Lace": "lace", "Colour blocking": "colour-block", "Embroidery": "embroidered",
                    "Dot": "dotted", "Jacquard": "jacquard-knit"}

INDEXES: dict[str, tuple[str, int, str]] = {   # index_code: (index_name, index_group_no, index_group_name)
    "A": ("Ladieswear", 1, "Ladieswear"), "B": ("Lingeries/Tights", 1, "Ladieswear"),
    "C": ("Ladies Accessories", 1, "Ladieswear"), "D": ("Divided", 2, "Divided"),
    "F": ("Menswear", 3, "Menswear"), "S": ("Sport", 26, "Sport"),
}


@dataclass(frozen=True)
class StyleLine:
    """A style archetype: where its products sit in the H&M columns and in latent style."""

    key: str
    index_code: str
    section_no: int
    section: str
    types: dict[str, float]
    colours: tuple[str, ...]          # the line's palette (other colours are rare)
    appearances: dict[str, float]
    price: float                      # multiplies the type's wholesale price
    age: float                        # the age it speaks to most
    share: float                      # of the market's styles
    words: tuple[tuple[str, str, str], ...]   # (en, ko, zh) adjectives for names and descriptions


LINES: tuple[StyleLine, ...] = (
    StyleLine("minimal_office", "A", 11, "Womens Tailoring",
              {"blouse": 3, "shirt": 3, "trousers": 3, "blazer": 2, "skirt": 2, "coat": 1, "belt": 0.5},
              ("Black", "White", "Off White", "Beige", "Light Beige", "Grey", "Dark Blue"),
              {"Solid": 8, "Stripe": 1, "Check": 1}, 1.3, 33, 1.2,
              (("tailored", "테일러드", "修身"), ("clean-cut", "깔끔한", "简约"), ("straight", "스트레이트", "直筒"))),
    StyleLine("romantic", "A", 15, "Womens Everyday Collection",
              {"blouse": 3, "dress": 4, "skirt": 2, "cardigan": 1.5, "earring": 0.5},
              ("Light Pink", "Pink", "Off White", "Light Purple", "Light Blue", "White", "Light Beige"),
              {"Solid": 4, "Lace": 2, "Dot": 1.5, "All over pattern": 2.5, "Embroidery": 1}, 1.1, 27, 1.2,
              (("ruffled", "러플", "荷叶边"), ("flowing", "하늘하늘한", "飘逸"), ("puff-sleeve", "퍼프 소매", "泡泡袖"))),
    StyleLine("street", "D", 53, "Divided Collection",
              {"hoodie": 3, "tshirt": 3, "trousers": 2, "sneakers": 1.5, "beanie": 1, "jacket": 1},
              ("Black", "Grey", "Greenish Khaki", "White", "Dark Grey", "Dark Blue"),
              {"Solid": 4, "Front print": 3, "Placement print": 1.5, "Colour blocking": 1}, 0.9, 21, 1.3,
              (("oversized", "오버사이즈", "宽松"), ("boxy", "박시", "廓形"), ("graphic", "그래픽", "图案"))),
    StyleLine("basics", "A", 16, "Womens Everyday Basics",
              {"tshirt": 4, "vest": 2, "leggings": 2, "top": 2, "cardigan": 1, "socks": 1.5},
              ("Black", "White", "Grey", "Dark Blue", "Light Beige", "Off White"),
              {"Solid": 8, "Melange": 2, "Stripe": 2}, 0.7, 35, 1.6,
              (("essential", "베이직", "基本款"), ("fitted", "슬림", "合身"), ("soft", "부드러운", "柔软"))),
    StyleLine("denim", "D", 57, "Ladies Denim",
              {"jeans": 5, "shorts": 1.5, "jacket": 1, "skirt": 1},
              ("Blue", "Light Blue", "Dark Blue", "Black", "White"),
              {"Denim": 9, "Solid": 1}, 1.0, 25, 1.1,
              (("washed", "워싱", "水洗"), ("high-waisted", "하이웨이스트", "高腰"), ("wide-leg", "와이드", "阔腿"))),
    StyleLine("sport", "S", 5, "Ladies H&M Sport",
              {"leggings": 3, "top": 2, "bra": 1.5, "jacket": 1, "sneakers": 1, "hoodie": 1},
              ("Black", "Grey", "Dark Blue", "Light Turquoise", "Dark Pink", "Light Purple", "Light Blue"),
              {"Solid": 6, "Colour blocking": 2, "Melange": 1}, 1.0, 29, 0.9,
              (("fast-drying", "속건", "速干"), ("seamless", "심리스", "无缝"), ("stretchy", "스트레치", "弹力"))),
    StyleLine("knit_cosy", "A", 6, "Womens Casual",
              {"sweater": 4, "cardigan": 3, "scarf": 1, "beanie": 1, "skirt": 1},
              ("Beige", "Off White", "Yellowish Brown", "Grey", "Light Beige", "Dark Beige", "Dark Red"),
              {"Solid": 4, "Melange": 2, "Jacquard": 2, "Stripe": 1}, 1.1, 31, 1.0,
              (("chunky", "청키", "粗针"), ("cosy", "포근한", "温暖"), ("rib-knit", "골지", "罗纹"))),
    StyleLine("vivid", "D", 53, "Divided Collection",
              {"top": 3, "dress": 2, "skirt": 1.5, "shorts": 1.5, "earring": 1, "tshirt": 1},
              ("Orange", "Yellow", "Red", "Green", "Dark Pink", "Light Turquoise", "Light Red", "Blue"),
              {"Solid": 4, "Colour blocking": 2, "All over pattern": 2}, 0.8, 22, 0.9,
              (("cropped", "크롭", "短款"), ("bold", "강렬한", "大胆"), ("cut-out", "컷아웃", "镂空"))),
    StyleLine("vintage", "A", 6, "Womens Casual",
              {"dress": 3, "blouse": 2, "cardigan": 1.5, "skirt": 2, "trousers": 1},
              ("Dark Yellow", "Dark Orange", "Dark Red", "Greenish Khaki", "Yellowish Brown", "Dark Green", "Off White"),
              {"Check": 2, "Dot": 2, "All over pattern": 3, "Solid": 3}, 1.0, 28, 0.9,
              (("retro", "레트로", "复古"), ("pleated", "플리츠", "百褶"), ("collared", "카라", "翻领"))),
    StyleLine("outer", "A", 19, "Womens Jackets",
              {"coat": 3, "jacket": 3, "boots": 1.5, "scarf": 1},
              ("Black", "Yellowish Brown", "Grey", "Greenish Khaki", "Dark Blue", "Beige", "Dark Beige"),
              {"Solid": 7, "Check": 2}, 1.5, 38, 0.9,
              (("double-breasted", "더블", "双排扣"), ("padded", "패딩", "加棉"), ("wool-blend", "울 혼방", "羊毛混纺"))),
    StyleLine("men_smart", "F", 20, "Contemporary Smart",
              {"shirt": 4, "trousers": 3, "blazer": 1.5, "polo": 1.5, "sweater": 1, "coat": 1},
              ("Dark Blue", "White", "Grey", "Light Blue", "Black", "Dark Grey"),
              {"Solid": 6, "Check": 2, "Stripe": 2}, 1.3, 36, 1.0,
              (("slim-fit", "슬림핏", "修身"), ("pressed", "단정한", "挺括"), ("oxford", "옥스퍼드", "牛津"))),
    StyleLine("men_casual", "F", 22, "Contemporary Street",
              {"tshirt": 3, "hoodie": 2, "jeans": 2, "shorts": 1, "sneakers": 1.5, "jacket": 1},
              ("Black", "Grey", "Greenish Khaki", "White", "Dark Blue", "Dark Green"),
              {"Solid": 4, "Front print": 2, "Denim": 2, "Melange": 1}, 0.9, 26, 1.0,
              (("relaxed", "릴렉스핏", "休闲"), ("washed", "워싱", "水洗"), ("utility", "유틸리티", "工装"))),
    StyleLine("lingerie", "B", 61, "Womens Lingerie",
              {"bra": 3, "briefs": 4, "pyjama": 2, "socks": 1},
              ("Light Pink", "White", "Black", "Light Beige", "Light Purple", "Dark Red"),
              {"Solid": 4, "Lace": 4, "Dot": 1}, 0.8, 32, 0.9,
              (("delicate", "섬세한", "精致"), ("lace-trimmed", "레이스", "蕾丝边"), ("soft", "부드러운", "柔软"))),
    StyleLine("resort", "B", 60, "Womens Swimwear, beachwear",
              {"bikini": 3, "swimbottom": 3, "dress": 1, "brimhat": 1, "sandals": 1, "shorts": 1},
              ("Light Turquoise", "Light Red", "Yellow", "White", "Light Blue", "Orange", "Dark Turquoise"),
              {"All over pattern": 4, "Stripe": 2, "Solid": 4}, 0.9, 27, 0.7,
              (("tropical", "트로피컬", "热带"), ("tie-detail", "스트링", "系带"), ("breezy", "시원한", "清爽"))),
    StyleLine("accessories", "C", 66, "Womens Small accessories",
              {"bag": 3, "belt": 2, "earring": 3, "scarf": 1, "brimhat": 0.5, "beanie": 0.5},
              ("Black", "Beige", "Yellowish Brown", "Off White", "Dark Red"),
              {"Solid": 9, "Check": 1}, 1.2, 34, 0.9,
              (("structured", "각진", "硬挺"), ("gold-tone", "골드톤", "金色调"), ("minimal", "미니멀", "极简"))),
    StyleLine("occasion", "A", 15, "Womens Everyday Collection",
              {"dress": 4, "jumpsuit": 1.5, "blouse": 1.5, "skirt": 1, "sandals": 0.5, "earring": 0.5},
              ("Black", "Dark Red", "Dark Blue", "Dark Green", "Purple", "Dark Pink"),
              {"Solid": 5, "Lace": 2, "Jacquard": 1}, 1.5, 35, 0.8,
              (("satin", "새틴", "缎面"), ("draped", "드레이프", "垂坠"), ("wrap", "랩", "裹身"))),
    StyleLine("modern_pastel", "D", 51, "Divided Basics",
              {"shirt": 2, "trousers": 2, "cardigan": 2, "sweater": 1.5, "skirt": 1, "set": 1},
              ("Light Beige", "Off White", "Light Grey", "Light Blue", "Light Turquoise", "Light Yellow", "Light Green"),
              {"Solid": 7, "Stripe": 2}, 1.0, 26, 1.0,
              (("unisex", "유니섹스", "中性"), ("pastel", "파스텔", "粉彩"), ("loose", "루즈핏", "宽松"))),
    StyleLine("classic_mature", "A", 11, "Womens Tailoring",
              {"cardigan": 2, "blouse": 2, "trousers": 2, "coat": 1.5, "scarf": 1, "bag": 1},
              ("Dark Blue", "Yellowish Brown", "Dark Red", "Grey", "Beige", "Black", "Dark Green"),
              {"Solid": 6, "Check": 2, "All over pattern": 1}, 1.4, 52, 0.8,
              (("classic", "클래식", "经典"), ("easy-fit", "편안한", "宽松舒适"), ("elastic-waist", "밴딩", "松紧腰"))),
)

_MODEL_NAMES = ("Mina", "Haneul", "Bora", "Jiwoo", "Seoul", "Dami", "Yuna", "Sora", "Hana", "Nari", "Eunbi", "Gaeul",
                "Bom", "Yeoreum", "Gyeoul", "Dal", "Byeol", "Saebyeok", "Maru", "Dasom", "Ari", "Chorong",
                "Iseul", "Hayan", "Noeul", "Purun", "Sol", "Yein", "Jua", "Rumi")

_AGE_BANDS = ((16, 24, 0.24), (25, 34, 0.31), (35, 44, 0.2), (45, 54, 0.15), (55, 75, 0.10))
_BUDGET_BY_AGE = (0.75, 1.0, 1.2, 1.3, 1.25)
_SEASON_SHARE = (0.27, 0.3, 0.2, 0.23)   # spring, summer, autumn, winter (assumed)


# --- the truth ---------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Truth:
    """What made every purchase. Rows of `shoppers` / `articles` line up with the rows of
    `shopper_style` / `article_style` (unit vectors in DIMS dimensions)."""

    lines: tuple[str, ...]               # the style lines' keys, by line number
    line_centres: np.ndarray             # (lines, DIMS)
    shoppers: pd.DataFrame               # index customer_id: line (main), second_line, season,
                                         # colour_weight, budget_krw, age, joined (date), visits_rate,
                                         # repurchase, other_colour
    shopper_style: np.ndarray            # (shoppers, DIMS)
    articles: pd.DataFrame               # index article_id: line, released (date), appeal, half_life_weeks
    article_style: np.ndarray            # (articles, DIMS)
    line_trend: np.ndarray               # (lines, weeks): each line's weekly trend multiplier

    def style_of(self, customer_id: str) -> np.ndarray:
        return self.shopper_style[self.shoppers.index.get_loc(customer_id)]

    def styles_of(self, article_ids: Sequence[int]) -> np.ndarray:
        return self.article_style[self.articles.index.get_indexer(list(article_ids))]

    def affinity(self, customer_id: str, article_ids: Sequence[int]) -> np.ndarray:
        """Cosine of the shopper's taste and each article's style (-1 to 1)."""
        return self.styles_of(article_ids) @ self.style_of(customer_id)


@dataclass(frozen=True, eq=False)
class SimulatedMarket:
    spec: MarketSpec
    market: Market
    truth: Truth
    seconds: float = field(default=0.0)

    def write(self, folder: str | Path) -> tuple[Path, Path, Path]:
        return write(self.market, Path(folder))


# --- simulation ----------------------------------------------------------------------------------

def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _pick(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One index per row of `weights` (rows need not sum to 1)."""
    cum = np.cumsum(weights, axis=1)
    r = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum < r[:, None]).sum(axis=1), weights.shape[1] - 1)


def _hex_ids(rng: np.random.Generator, n: int) -> list[str]:
    """n distinct 16-hex-digit ids that look hashed (an odd multiplier is a bijection mod 2^64)."""
    mult = np.uint64(int(rng.integers(1, 2**62)) * 2 + 1)
    add = np.uint64(int(rng.integers(0, 2**62)))
    with np.errstate(over="ignore"):
        values = (np.arange(1, n + 1, dtype=np.uint64) * mult + add)
    return [f"{int(v):016x}" for v in values]


def simulate(spec: MarketSpec = MarketSpec(), registry_shops: Sequence[str] | None = None) -> SimulatedMarket:
    """A seeded market (see the module's docstring). `registry_shops`: the registry's shop
    (designer) ids to sell the products; None makes ids "ds-0001", ... (one shop per ~8 products)."""
    started = time.perf_counter()
    rng = np.random.default_rng(spec.seed)
    n_lines, n_types, n_colours = len(LINES), len(TYPES), len(PALETTE)
    centres = _unit(rng.normal(size=(n_lines, DIMS)))
    type_dirs = _unit(rng.normal(size=(n_types, DIMS)))

    # Products: styles (product codes) with colour variants.
    variants_per = np.minimum(1 + rng.poisson(2.3, size=spec.products), 8)
    n_codes = int(np.searchsorted(np.cumsum(variants_per), spec.products) + 1)
    variants_per = variants_per[:n_codes].copy()
    variants_per[-1] -= int(variants_per.sum() - spec.products)
    line_share = np.array([ln.share for ln in LINES])
    code_line = rng.choice(n_lines, size=n_codes, p=line_share / line_share.sum())
    type_w = np.zeros((n_lines, n_types))
    app_names = tuple(APPEARANCES)
    app_w = np.zeros((n_lines, len(app_names)))
    col_w = np.tile(np.array([c.popularity for c in PALETTE]) * 0.08, (n_lines, 1))
    for i, ln in enumerate(LINES):
        for key, w in ln.types.items():
            type_w[i, TYPE_INDEX[key]] = w
        for name, w in ln.appearances.items():
            app_w[i, app_names.index(name)] = w
        for name in ln.colours:
            col_w[i, COLOUR_INDEX[name]] = PALETTE[COLOUR_INDEX[name]].popularity + 2.0
    code_type = _pick(rng, type_w[code_line])
    code_app = _pick(rng, app_w[code_line])
    is_denim_type = np.array([t.garment == "Trousers Denim" for t in TYPES])
    code_app = np.where(is_denim_type[code_type], app_names.index("Denim"), code_app)
    code_app = np.where((code_app == app_names.index("Denim")) & ~np.isin(code_type, [TYPE_INDEX[k] for k in (
        "jeans", "jacket", "shorts", "skirt", "shirt", "dress")]), app_names.index("Solid"), code_app)
    code_style = _unit(centres[code_line] + 0.3 * type_dirs[code_type]
                       + 0.75 * _unit(rng.normal(size=(n_codes, DIMS))))
    code_appeal = rng.lognormal(0.0, 0.6, size=n_codes)
    base_half_life = rng.lognormal(np.log(3.5), 0.45, size=n_codes)
    evergreen = np.isin(code_type, [TYPE_INDEX[k] for k in ("tshirt", "vest", "leggings", "socks", "briefs", "bra")])
    code_half_life = np.where(evergreen, base_half_life * 3.0, base_half_life)
    back = rng.random(n_codes) < 0.4
    code_release = np.where(back, -rng.integers(1, 13, size=n_codes), rng.integers(0, spec.weeks, size=n_codes))
    code_price = np.array([t.wholesale_krw for t in TYPES])[code_type] * np.array([ln.price for ln in LINES])[code_line]
    code_wholesale = np.maximum(1_000, np.round(code_price * rng.lognormal(0, 0.25, n_codes) / 500) * 500).astype(np.int64)
    code_markup = rng.uniform(1.6, 2.3, n_codes)
    code_retail = np.maximum(code_wholesale + 1_000,
                             np.round(code_wholesale * code_markup / 1_000) * 1_000).astype(np.int64)
    type_season = np.array([t.season for t in TYPES])
    line_season = {"resort": "ss", "outer": "fw", "knit_cosy": "fw"}
    code_season = np.array([line_season.get(LINES[ln].key, type_season[tp]) for ln, tp in zip(code_line, code_type, strict=True)])
    code_name = rng.integers(0, len(_MODEL_NAMES), n_codes)
    code_word = rng.integers(0, 3, n_codes)
    code_features = rng.integers(0, 1000, size=(n_codes, 2))
    code_number = 100_000 + np.sort(rng.choice(800_000, size=n_codes, replace=False))

    # Variants: distinct colours from the line's palette (Gumbel top-k), the code's style nudged.
    art_code = np.repeat(np.arange(n_codes), variants_per)
    variant_no = np.arange(len(art_code)) - np.repeat(np.cumsum(variants_per) - variants_per, variants_per)
    gumbel = np.log(col_w[code_line]) + rng.gumbel(size=(n_codes, n_colours))
    colour_order = np.argsort(-gumbel, axis=1)
    art_colour = colour_order[art_code, variant_no]
    n_articles = len(art_code)
    art_style = _unit(code_style[art_code] + 0.12 * _unit(rng.normal(size=(n_articles, DIMS))))
    late = (variant_no > 0) & (rng.random(n_articles) < 0.15)
    art_release = code_release[art_code] + np.where(late, rng.integers(1, 5, n_articles), 0)
    art_release = np.where(late, np.minimum(art_release, spec.weeks - 1), art_release)
    art_release = np.maximum(art_release, code_release[art_code])
    colour_pop = np.array([c.popularity for c in PALETTE])
    art_appeal = code_appeal[art_code] * (colour_pop[art_colour] / colour_pop.mean()) ** 0.35 \
        * rng.lognormal(0, 0.35, n_articles)
    palette_lab = np.array([colour.hex_to_lab(c.hex) for c in PALETTE])
    lab = palette_lab[art_colour] + rng.normal(0, 1.2, size=(n_articles, 3))
    lab[:, 0] = np.clip(lab[:, 0], 0, 100)
    lab[:, 1:] = np.clip(lab[:, 1:], -128, 127)
    lab = np.round(lab, 1) + 0.0
    art_seasons = colour.season_matrix(lab[:, 0], lab[:, 1], lab[:, 2])   # (articles, 4)
    article_ids = code_number[art_code] * 1000 + 1 + variant_no * 2 + (variant_no > 4) * 7
    # Shops: each specialises in one line; a style is sold by a shop of its line.
    if registry_shops:
        shop_ids = np.array(list(registry_shops), dtype=object)
    else:
        shop_ids = np.array([f"ds-{i + 1:04d}" for i in range(max(10, spec.products // 8))], dtype=object)
    shop_line = rng.choice(n_lines, size=len(shop_ids), p=line_share / line_share.sum())
    shop_min_order = np.where(rng.random(len(shop_ids)) < 0.7, rng.choice([3, 5, 5, 10], len(shop_ids)), 1)
    code_shop = np.empty(n_codes, np.int64)
    for ln in range(n_lines):
        mine = np.flatnonzero(code_line == ln)
        shops = np.flatnonzero(shop_line == ln)
        if shops.size == 0:
            shops = np.arange(len(shop_ids))
        code_shop[mine] = rng.choice(shops, size=mine.size)

    # Shoppers.
    n = spec.shoppers
    band = rng.choice(len(_AGE_BANDS), size=n, p=[b[2] for b in _AGE_BANDS])
    lows, highs = np.array([b[0] for b in _AGE_BANDS]), np.array([b[1] for b in _AGE_BANDS])
    age = rng.integers(lows[band], highs[band] + 1).astype(np.float64)
    line_age = np.array([ln.age for ln in LINES])
    prior = line_share[None, :] * np.exp(-((age[:, None] - line_age[None, :]) ** 2) / (2 * 9.0 ** 2))
    main_line = _pick(rng, prior)
    second_line = _pick(rng, prior)
    shopper_style = _unit(0.8 * centres[main_line] + 0.4 * centres[second_line]
                          + 0.45 * _unit(rng.normal(size=(n, DIMS))))
    line_affinity = prior ** 0.5 * np.exp(3.5 * shopper_style @ centres.T)
    season = rng.choice(4, size=n, p=_SEASON_SHARE)
    colour_weight = np.where(rng.random(n) < 0.2, 0.1, rng.uniform(0.5, 1.6, n))
    budget = np.round(30_000 * np.array(_BUDGET_BY_AGE)[band] * rng.lognormal(0, 0.4, n), -3)
    rate = rng.lognormal(0, 1.0, n)
    repurchase = rng.beta(1.0, 22.0, n)
    other_colour = rng.beta(1.0, 18.0, n)
    online = rng.beta(3.0, 1.4, n)
    joined_week = np.where(rng.random(n) < 0.6, 0, rng.integers(1, spec.weeks, n)) if spec.weeks > 1 else np.zeros(n, int)
    days = spec.weeks * 7
    join_day = np.where(joined_week == 0, 0, joined_week * 7 + rng.integers(0, 7, n))

    # Traffic by day: weekends busier, a little noise per week.
    day_idx = np.arange(days)
    weekday = np.array([(spec.start + timedelta(days=int(d))).weekday() for d in day_idx])
    traffic = np.where(weekday >= 5, 1.45, 1.0) * np.repeat(rng.uniform(0.9, 1.1, spec.weeks), 7)
    traffic_cum = np.concatenate([[0.0], np.cumsum(traffic)])

    # Visits: a shopper per visit by rate x the traffic left after joining; its day from there.
    basket_mean = 2.35
    n_visits = int(spec.purchases / basket_mean * 1.08) + 10
    reach = rate * (traffic_cum[-1] - traffic_cum[join_day])
    visit_shopper = rng.choice(n, size=n_visits, p=reach / reach.sum())
    low = traffic_cum[join_day[visit_shopper]]
    r = low + rng.random(n_visits) * (traffic_cum[-1] - low)
    visit_day = np.clip(np.searchsorted(traffic_cum, r, side="right") - 1, join_day[visit_shopper], days - 1)
    basket = np.minimum(1 + rng.poisson(basket_mean - 1, n_visits), 6)
    # The visits were drawn in random order: keep the first ones up to the purchases wanted (so
    # every day keeps its share), then put them in time order.
    cut = int(np.searchsorted(np.cumsum(basket), spec.purchases))
    visit_shopper, visit_day, basket = visit_shopper[:cut + 1], visit_day[:cut + 1], basket[:cut + 1].copy()
    basket[-1] -= int(basket.sum() - spec.purchases)
    if basket[-1] <= 0:
        visit_shopper, visit_day, basket = visit_shopper[:-1], visit_day[:-1], basket[:-1]
    order = np.argsort(visit_day, kind="stable")
    visit_shopper, visit_day, basket = visit_shopper[order], visit_day[order], basket[order]
    visit_channel = np.where(rng.random(len(basket)) < online[visit_shopper], 2, 1).astype(np.int8)
    slot_visit = np.repeat(np.arange(len(basket)), basket)
    slot_pos = np.arange(len(slot_visit)) - np.repeat(np.cumsum(basket) - basket, basket)
    slot_shopper = visit_shopper[slot_visit]
    slot_day = visit_day[slot_visit]

    # Time: per week, each article's weight (appeal x life cycle x trend x season).
    weeks = np.arange(spec.weeks)
    line_trend = np.exp(np.cumsum(rng.normal(0, 0.18, size=(n_lines, spec.weeks)), axis=1))
    code_trend = np.exp(np.cumsum(rng.normal(0, 0.15, size=(n_codes, spec.weeks)), axis=1))
    mid_week = np.array([(spec.start + timedelta(days=7 * int(w) + 3)).timetuple().tm_yday for w in weeks])
    ss = 1.05 + np.cos(2 * np.pi * (mid_week - 196) / 365)
    fw = 1.05 + np.cos(2 * np.pi * (mid_week - 15) / 365)
    season_curve = {"all": np.ones(spec.weeks), "ss": 0.2 + ss, "fw": 0.2 + fw}
    art_season = code_season[art_code]
    season_w = np.stack([season_curve[s] for s in ("all", "ss", "fw")])[
        np.select([art_season == "ss", art_season == "fw"], [1, 2], 0)]               # (articles, weeks)
    age_weeks = weeks[None, :] - art_release[:, None]
    life = np.where(age_weeks < 0, 0.0,
                    np.exp(-np.maximum(age_weeks, 0) * np.log(2) / code_half_life[art_code][:, None]))
    life = np.where(age_weeks == 0, life * 0.7, life)
    art_line = code_line[art_code]
    weight = (art_appeal[:, None] * life * season_w * code_trend[art_code] * line_trend[art_line]).astype(np.float64)

    by_line = np.argsort(art_line, kind="stable")
    line_start = np.searchsorted(art_line[by_line], np.arange(n_lines))
    line_end = np.searchsorted(art_line[by_line], np.arange(n_lines), side="right")
    code_first = np.concatenate([[0], np.cumsum(variants_per)[:-1]])

    price_krw = code_retail[art_code].astype(np.float64)
    log_price = np.log(price_krw)
    log_budget = np.log(budget)
    fit = art_seasons.astype(np.float64)

    chosen = np.full(len(slot_visit), -1, np.int64)
    hist_shopper = np.zeros(0, np.int64)
    hist_article = np.zeros(0, np.int64)
    n_candidates = 16

    def fresh(slots: np.ndarray, week: int, lines_for: np.ndarray) -> np.ndarray:
        """Choose from the week's stock: candidates by weight within a line, then the shopper's pick."""
        if slots.size == 0:
            return np.zeros(0, np.int64)
        cum = np.concatenate([[0.0], np.cumsum(weight[by_line, week])])
        lo, hi = cum[line_start[lines_for]], cum[line_end[lines_for]]
        empty = hi - lo <= 0
        lo, hi = np.where(empty, 0.0, lo), np.where(empty, cum[-1], hi)
        r = lo[:, None] + rng.random((slots.size, n_candidates)) * (hi - lo)[:, None]
        cand = by_line[np.clip(np.searchsorted(cum, r, side="right") - 1, 0, n_articles - 1)]
        shopper = slot_shopper[slots]
        taste = np.einsum("sd,scd->sc", shopper_style[shopper], art_style[cand])
        colour_fit = fit[cand, season[shopper][:, None]] * colour_weight[shopper][:, None]
        over = np.maximum(0.0, log_price[cand] - log_budget[shopper][:, None])
        utility = 3.0 * taste + colour_fit - 2.5 * over + rng.gumbel(size=cand.shape)
        return cand[np.arange(slots.size), np.argmax(utility, axis=1)]

    def other_variant(articles: np.ndarray, week: int) -> np.ndarray:
        """Another colour of the same style already in stock, or -1."""
        code = art_code[articles]
        count = variants_per[code]
        pick = code_first[code] + rng.integers(0, np.maximum(count, 1))
        ok = (count > 1) & (pick != articles) & (art_release[pick] <= week)
        return np.where(ok, pick, -1)

    slot_week = slot_day // 7
    for week in range(spec.weeks):
        in_week = np.flatnonzero(slot_week == week)
        if in_week.size == 0:
            continue
        # History so far, by shopper and, within a shopper, in time order (a stable sort).
        order_h = np.argsort(hist_shopper, kind="stable")
        past_articles = hist_article[order_h]
        h_start = np.searchsorted(hist_shopper[order_h], np.arange(n))
        h_count = np.searchsorted(hist_shopper[order_h], np.arange(n), side="right") - h_start
        for first in (True, False):
            slots = in_week[(slot_pos[in_week] == 0) == first]
            if slots.size == 0:
                continue
            shopper = slot_shopper[slots]
            has = h_count[shopper] > 0
            u = rng.random(slots.size)
            rep = has & (u < repurchase[shopper])
            oth = has & ~rep & (u < repurchase[shopper] + other_colour[shopper])
            pick = np.full(slots.size, -1, np.int64)
            back = np.flatnonzero(rep | oth)
            if back.size:
                # A past purchase, recent ones likelier (the square root leans toward the end).
                who = shopper[back]
                k = np.floor(np.sqrt(rng.random(back.size)) * h_count[who]).astype(np.int64)
                past = past_articles[h_start[who] + np.minimum(k, h_count[who] - 1)]
                pick[back] = np.where(rep[back], past, other_variant(past, week))
            if not first:
                first_article = chosen[slots - slot_pos[slots]]
                same_basket = pick < 0
                two_colours = same_basket & (rng.random(slots.size) < 0.07)
                if two_colours.any():
                    pick[two_colours] = other_variant(first_article[two_colours], week)
                same_piece = (pick < 0) & (rng.random(slots.size) < 0.035)
                pick[same_piece] = first_article[same_piece]
            need = pick < 0
            lines_for = _pick(rng, line_affinity[shopper[need]] * line_trend[:, week][None, :])
            if not first:
                keep_line = rng.random(need.sum()) < 0.55
                lines_for = np.where(keep_line, art_line[chosen[slots[need] - slot_pos[slots[need]]]], lines_for)
            pick[need] = fresh(slots[need], week, lines_for)
            chosen[slots] = pick
        hist_shopper = np.concatenate([hist_shopper, slot_shopper[in_week]])
        hist_article = np.concatenate([hist_article, chosen[in_week]])

    # Prices paid: retail, some older stock on sale.
    age_at_sale = slot_week - art_release[chosen]
    on_sale = (age_at_sale >= 8) & (rng.random(len(chosen)) < 0.3)
    paid = np.round(price_krw[chosen] * np.where(on_sale, 0.7, 1.0), -2)

    customer_ids = np.array(_hex_ids(rng, n), dtype=object)
    day_dates = np.array([np.datetime64(spec.start + timedelta(days=int(d)), "ns") for d in range(days)])
    transactions = pd.DataFrame({
        "t_dat": pd.Series(day_dates[slot_day], dtype="datetime64[ns]"),
        "customer_id": pd.Series(customer_ids[slot_shopper], dtype=str),
        "article_id": pd.Series(article_ids[chosen], dtype=np.int64),
        "price": pd.Series(paid / PRICE_UNIT_KRW, dtype=np.float64),
        "sales_channel_id": pd.Series(visit_channel[slot_visit], dtype=np.int8),
    })
    articles = _articles_frame(spec, rng, article_ids, art_code, art_colour, code_line, code_type, code_app,
                               code_number, code_name, code_word, code_features, code_season, code_wholesale,
                               code_retail, art_release, lab, shop_ids, code_shop, shop_min_order)
    customers = _customers_frame(rng, customer_ids, age)
    market = Market(articles, customers, transactions)

    line_keys = tuple(ln.key for ln in LINES)
    start = np.datetime64(spec.start, "D")
    truth = Truth(
        lines=line_keys, line_centres=centres,
        shoppers=pd.DataFrame({
            "line": np.array(line_keys)[main_line], "second_line": np.array(line_keys)[second_line],
            "season": np.array(colour.SEASONS)[season], "colour_weight": colour_weight,
            "budget_krw": budget.astype(np.int64), "age": age,
            "joined": (start + join_day).astype("datetime64[ns]"), "visits_rate": rate,
            "repurchase": repurchase, "other_colour": other_colour,
        }, index=pd.Index(customer_ids, name="customer_id", dtype=str)),
        shopper_style=shopper_style,
        articles=pd.DataFrame({
            "line": np.array(line_keys)[art_line],
            "released": (start + 7 * art_release).astype("datetime64[ns]"),
            "appeal": art_appeal, "half_life_weeks": code_half_life[art_code],
        }, index=pd.Index(article_ids, name="article_id", dtype=np.int64)),
        article_style=art_style, line_trend=line_trend,
    )
    return SimulatedMarket(spec, market, truth, time.perf_counter() - started)


def _articles_frame(spec, rng, article_ids, art_code, art_colour, code_line, code_type, code_app, code_number,
                    code_name, code_word, code_features, code_season, code_wholesale, code_retail, art_release,
                    lab, shop_ids, code_shop, shop_min_order) -> pd.DataFrame:
    n_codes = len(code_line)
    app_names = tuple(APPEARANCES)
    # Per style: names and description (variants share them, as at H&M).
    prod_name, desc, word_en, word_ko, word_zh = [], [], [], [], []
    for c in range(n_codes):
        ln, tp = LINES[code_line[c]], TYPES[code_type[c]]
        en, ko, zh = ln.words[code_word[c]]
        app = app_names[code_app[c]]
        feats = tp.features
        f1 = feats[code_features[c, 0] % len(feats)]
        f2 = feats[code_features[c, 1] % len(feats)]
        if f2 == f1:
            f2 = feats[(code_features[c, 1] + 1) % len(feats)]
        look = APPEARANCE_WORDS[app]
        noun = tp.name.lower() if tp.key != "jeans" else "jeans"
        material = "denim" if app == "Denim" else tp.material
        desc.append(f"{en.capitalize()} {noun} in {(look + ' ') if look else ''}{material} with {f1}"
                    + (f" and {f2}." if len(feats) > 1 else ".")
                    + f" {ln.words[(code_word[c] + 1) % 3][0].capitalize()} look.")
        prod_name.append(f"{_MODEL_NAMES[code_name[c]]} {en} {noun}")
        word_en.append(en)
        word_ko.append(ko)
        word_zh.append(zh)
    prod_name, desc = np.array(prod_name, object), np.array(desc, object)
    word_en, word_ko, word_zh = (np.array(x, object) for x in (word_en, word_ko, word_zh))
    type_arr = np.array(TYPES, dtype=object)
    t = type_arr[code_type[art_code]]
    ln = np.array(LINES, dtype=object)[code_line[art_code]]
    pal = np.array(PALETTE, dtype=object)[art_colour]
    index_code = np.array([x.index_code for x in ln], object)
    garment_no = np.array([x.garment_no for x in t])
    # Departments: one per index and garment group, numbered like H&M's (four digits).
    dept_key = pd.Series(index_code).astype(str) + ":" + pd.Series(garment_no).astype(str)
    dept_codes, dept_uniques = pd.factorize(dept_key, sort=True)
    dept_no = 1000 + 37 * dept_codes + np.array([ord(k[0]) for k in dept_uniques])[dept_codes]
    dept_name = np.array([f"{INDEXES[k.split(':')[0]][0].split('/')[0]} {g.garment}"
                          for k, g in zip(dept_key, t, strict=True)], object)
    colour_en = np.array([p.name for p in pal], object)
    colour_ko = np.array([p.ko for p in pal], object)
    colour_zh = np.array([p.zh for p in pal], object)
    noun_ko = np.array([x.ko for x in t], object)
    noun_zh = np.array([x.zh for x in t], object)
    noun_en = np.array([x.name.lower() if x.key != "jeans" else "jeans" for x in t], object)
    start = np.datetime64(spec.start, "D")
    frame = pd.DataFrame({
        "product_code": code_number[art_code].astype(np.int64),
        "prod_name": prod_name[art_code],
        "product_type_no": np.array([x.no for x in t], np.int64),
        "product_type_name": np.array([x.name for x in t], object),
        "product_group_name": np.array([x.group for x in t], object),
        "graphical_appearance_no": np.array([APPEARANCES[app_names[a]] for a in code_app[art_code]], np.int64),
        "graphical_appearance_name": np.array([app_names[a] for a in code_app[art_code]], object),
        "colour_group_code": np.array([p.code for p in pal], np.int64),
        "colour_group_name": colour_en,
        "perceived_colour_value_id": np.array([p.value_id for p in pal], np.int64),
        "perceived_colour_value_name": np.array([PERCEIVED_VALUES[p.value_id] for p in pal], object),
        "perceived_colour_master_id": np.array([p.master_id for p in pal], np.int64),
        "perceived_colour_master_name": np.array([PERCEIVED_MASTERS[p.master_id] for p in pal], object),
        "department_no": dept_no.astype(np.int64),
        "department_name": dept_name,
        "index_code": index_code,
        "index_name": np.array([INDEXES[k][0] for k in index_code], object),
        "index_group_no": np.array([INDEXES[k][1] for k in index_code], np.int64),
        "index_group_name": np.array([INDEXES[k][2] for k in index_code], object),
        "section_no": np.array([x.section_no for x in ln], np.int64),
        "section_name": np.array([x.section for x in ln], object),
        "garment_group_no": garment_no.astype(np.int64),
        "garment_group_name": np.array([x.garment for x in t], object),
        "detail_desc": desc[art_code],
        "shop_id": shop_ids[code_shop[art_code]],
        "name_ko": colour_ko + " " + word_ko[art_code] + " " + noun_ko,
        "name_en": colour_en + " " + word_en[art_code] + " " + noun_en,
        "name_zh": colour_zh + word_zh[art_code] + noun_zh,
        "wholesale_krw": code_wholesale[art_code].astype(np.int64),
        "retail_krw": code_retail[art_code].astype(np.int64),
        "min_order": shop_min_order[code_shop[art_code]].astype(np.int64),
        "fresh_date": (start + 7 * art_release).astype("datetime64[ns]"),
        "lab_l": lab[:, 0], "lab_a": lab[:, 1], "lab_b": lab[:, 2],
        "season": code_season[art_code].astype(object),
    }, index=pd.Index(article_ids.astype(np.int64), name="article_id"))
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].astype(str)
    return frame


def _customers_frame(rng: np.random.Generator, customer_ids: np.ndarray, age: np.ndarray) -> pd.DataFrame:
    n = len(customer_ids)
    fn = np.where(rng.random(n) < 0.35, 1.0, np.nan)
    active = np.where(~np.isnan(fn) & (rng.random(n) < 0.97), 1.0, np.nan)
    club = rng.choice(np.array(["ACTIVE", "PRE-CREATE", "LEFT CLUB"], object), size=n, p=[0.928, 0.071, 0.001])
    news = np.where(~np.isnan(fn), rng.choice(np.array(["Regularly", "Monthly"], object), size=n, p=[0.99, 0.01]), "NONE")
    zones = np.array(_hex_ids(rng, 400), object)
    postal = zones[np.minimum(rng.zipf(1.6, n) - 1, 399)]
    known_age = np.where(rng.random(n) < 0.99, age, np.nan)
    return pd.DataFrame({
        "FN": fn, "Active": active, "club_member_status": pd.Series(club, dtype=str).to_numpy(),
        "fashion_news_frequency": pd.Series(news, dtype=str).to_numpy(), "age": known_age,
        "postal_code": pd.Series(postal, dtype=str).to_numpy(),
    }, index=pd.Index(customer_ids, name="customer_id", dtype=str)).astype(
        {"club_member_status": str, "fashion_news_frequency": str, "postal_code": str})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a simulated Dongdaemun market in the H&M file format.")
    parser.add_argument("--out", required=True, type=Path, help="folder for the three CSV files")
    defaults = MarketSpec()
    for name in ("shoppers", "products", "purchases", "weeks", "seed"):
        parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name))
    parser.add_argument("--start", type=date.fromisoformat, default=defaults.start, help="first day (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    spec = MarketSpec(args.shoppers, args.products, args.purchases, args.weeks, args.seed, args.start)
    sim = simulate(spec)
    paths = sim.write(args.out)
    t = sim.market.transactions
    print(f"{len(sim.market.articles):,} articles, {len(sim.market.customers):,} shoppers, {len(t):,} purchases "
          f"from {t['t_dat'].min():%Y-%m-%d} to {t['t_dat'].max():%Y-%m-%d} in {sim.seconds:.1f} s")
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
