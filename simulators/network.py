"""A generated Dongdaemun: sewing workshops, designers and wholesalers, fabric, dyeing and trims
suppliers, for the registry, the planner's tests and benchmarks, and the demo.

    net = generate_network(workshops=1000, seed=7)
    net.workshops[0].machines[0].machine_id      # "m01", the machine tag its gateway writes
    net.tables()["machines"]                     # flat rows (dicts of str/int/float), one per machine
    net.write_csv(folder)                        # workshops.csv, machines.csv, designers.csv, suppliers.csv

Plain data, no database and no web: the registry maps these to its tables and CSV files.
The same seed and the same counts give the same network, byte for byte as CSV.

Where the figures come from (shared/design/FIELD_FACTS.md unless said otherwise; everything
marked "assumed" is a plausible guess to calibrate against the registry's real entries):
- sizes: most workshops have 2 to 10 machines and fewer than 5 people (Changsin-dong, Hankyung
  2018, WowTV 2020); a long tail of larger shops up to about 60 machines (assumed);
- machine mixes follow each product family's seams (FIELD_FACTS "Machines per garment"): knit
  tops need overlock and coverstitch, woven shirts lockstitch and buttonhole, denim lockstitch,
  chainstitch (feed-off-the-arm inseam) and bartack;
- declared efficiency 35 to 70 % around 50 % (line efficiency figures and the 65 % planning
  target); on-time record, price per SAM-minute, minimum orders and hours are assumed;
- coordinates fall inside the real legal-dong boundaries (simulators/dongdaemun_dongs.json says
  where those come from); each dong's share of the workshops is assumed (Changsin-dong the
  largest, FIELD_FACTS: about 1,000 of 5,000 to 7,000 across the belt);
- the wholesale buildings are real; their coordinates are approximate (about 100 m), and each
  one's dong is the boundary its point falls in. Suppliers sit in the real clusters: Daegu's
  dyeing and synthetic-weaving complexes, Gyeonggi's knitting and dyeing towns (Yangju,
  Dongducheon, Pocheon, Ansan) and Dongdaemun's fabric and trims market; points are approximate.
Workshop, designer and supplier names, lot numbers and phone numbers are made up: phone numbers
are 010-0xxx-xxxx, a block never issued to subscribers (mobile numbers' middle block starts at 2).
"""

from __future__ import annotations

import csv
import json
import math
import random
import statistics
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

import shapely
from shapely.geometry import box, shape

DONGS_FILE = Path(__file__).with_name("dongdaemun_dongs.json")

#: Where a point counts as "Dongdaemun" for distances (Heunginjimun, the great east gate).
DONGDAEMUN = (37.5711, 127.0095)


# --- machines and product families ------------------------------------------------------------

@dataclass(frozen=True)
class MachineType:
    key: str
    ko: str
    en: str
    max_spm: int
    #: (brand, model) pairs seen in Korean workshops; only for realism of the registry.
    models: tuple[tuple[str, str], ...]


MACHINE_TYPES: dict[str, MachineType] = {m.key: m for m in (
    MachineType("lockstitch", "본봉", "lockstitch", 5000,
                (("Juki", "DDL-8700"), ("Juki", "DDL-9000C"), ("Brother", "S-7300A"), ("Siruba", "L720"))),
    MachineType("overlock", "오버록", "overlock", 7000,
                (("Juki", "MO-6814S"), ("Juki", "MO-6800S"), ("Siruba", "757F"), ("Pegasus", "M952"))),
    MachineType("coverstitch", "삼봉", "coverstitch", 6000,
                (("Pegasus", "W664"), ("Yamato", "VC2700"), ("Juki", "MF-7923"))),
    MachineType("flatlock", "평봉", "flatlock", 5500,
                (("Yamato", "VF2500"), ("Pegasus", "FS700"))),
    MachineType("chainstitch", "체인스티치", "feed-off-the-arm chainstitch", 4000,
                (("Juki", "MS-1190"), ("Kansai Special", "FX-4406"))),
    MachineType("bartack", "바택", "bartack", 3200,
                (("Juki", "LK-1900B"), ("Brother", "KE-430F"))),
    MachineType("buttonhole", "단추구멍", "buttonhole", 4200,
                (("Juki", "LBH-1790"), ("Brother", "HE-800"))),
    MachineType("button_sew", "단추달이", "button sewing", 2700,
                (("Juki", "MB-1800"), ("Brother", "BE-438F"))),
)}


@dataclass(frozen=True)
class Family:
    key: str
    ko: str
    en: str
    #: Machine types a workshop must have to take this family's work at all.
    required: tuple[str, ...]
    #: Share of a workshop's machines by type when it specialises in this family (about the
    #: family's SAM split by machine type).
    mix: dict[str, float]
    #: Share of workshops whose main family this is (assumed: Dongdaemun sews mostly women's wear).
    share: float
    #: Standard minutes per garment (FIELD_FACTS where it gives them; assumed otherwise).
    sam: tuple[float, float]


FAMILIES: dict[str, Family] = {f.key: f for f in (
    Family("knit_tops", "티셔츠·니트 상의", "knit tops", ("lockstitch", "overlock", "coverstitch"),
           {"overlock": .50, "coverstitch": .30, "lockstitch": .12, "flatlock": .08}, .28, (4, 8)),
    Family("dresses_skirts", "원피스·스커트", "dresses and skirts", ("lockstitch", "overlock"),
           {"lockstitch": .65, "overlock": .30, "buttonhole": .05}, .22, (15, 30)),
    Family("woven_shirts", "셔츠·블라우스", "woven shirts and blouses", ("lockstitch", "overlock", "buttonhole"),
           {"lockstitch": .65, "overlock": .20, "buttonhole": .08, "button_sew": .07}, .16, (16, 22)),
    Family("trousers", "바지·슬랙스", "trousers", ("lockstitch", "overlock"),
           {"lockstitch": .58, "overlock": .28, "bartack": .07, "buttonhole": .07}, .14, (12, 18)),
    Family("outerwear", "재킷·코트", "jackets and coats", ("lockstitch", "overlock", "buttonhole"),
           {"lockstitch": .70, "overlock": .18, "buttonhole": .07, "bartack": .05}, .10, (35, 45)),
    Family("denim", "청바지", "denim", ("lockstitch", "overlock", "chainstitch", "bartack"),
           {"lockstitch": .50, "overlock": .20, "chainstitch": .15, "bartack": .10, "buttonhole": .05}, .05, (12, 15)),
    Family("sportswear", "운동복·레깅스", "sportswear and leggings", ("overlock", "flatlock", "coverstitch"),
           {"overlock": .40, "flatlock": .35, "coverstitch": .20, "lockstitch": .05}, .05, (6, 12)),
)}


# --- places ------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Dong:
    """A legal dong (beopjeong-dong) with its real boundary."""

    slug: str
    code: str
    ko: str
    en: str
    gu_ko: str
    gu_en: str
    polygon: object  # shapely Polygon, prepared
    #: Where its workshops are (the polygon itself, or the part near the markets).
    workshop_area: object
    #: Share of the network's workshops (assumed); 0 for the wholesale-mall blocks.
    workshop_share: float

    def contains(self, lat: float, lon: float) -> bool:
        return bool(shapely.contains_xy(self.polygon, lon, lat))


# Assumed shares; Changsin-dong is the centre, then its neighbours along the old city wall and
# Cheonggyecheon. Euljiro 6/7-ga and Gwanghui-dong are the wholesale malls: designers, not sewing.
_WORKSHOP_SHARE = {"changsin": .30, "sungin": .14, "sindang": .15, "hwanghak": .07, "heungin": .03,
                   "sinseol": .06, "yongdu": .07, "jongno5ga": .03, "jongno6ga": .05, "chungsin": .05,
                   "ihwa": .05, "euljiro6ga": 0, "euljiro7ga": 0, "gwanghui1ga": 0}
# Sindang-dong runs 3 km south to Yaksu; its sewing streets are the northern part, by the markets
# and Sindang station, so workshops are placed north of this latitude (inside the real boundary).
_SINDANG_WORKSHOPS_NORTH_OF = 37.5580


@lru_cache(maxsize=1)
def load_dongs() -> dict[str, Dong]:
    data = json.loads(DONGS_FILE.read_text(encoding="utf-8"))
    dongs = {}
    for feature in data["features"]:
        p = feature["properties"]
        polygon = shape(feature["geometry"])
        area = polygon
        if p["slug"] == "sindang":
            minx, _, maxx, maxy = polygon.bounds
            area = polygon.intersection(box(minx, _SINDANG_WORKSHOPS_NORTH_OF, maxx, maxy))
        shapely.prepare(polygon)
        shapely.prepare(area)
        dongs[p["slug"]] = Dong(p["slug"], p["code"], p["name_ko"], p["name_en"], p["gu_ko"], p["gu_en"],
                                polygon, area, _WORKSHOP_SHARE[p["slug"]])
    return dongs


def dong_at(lat: float, lon: float) -> Dong | None:
    """The dong whose boundary holds the point, if it is one of ours."""
    for dong in load_dongs().values():
        if dong.contains(lat, lon):
            return dong
    return None


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


# --- the records -------------------------------------------------------------------------------

def _cell(name: str, value):
    """One CSV cell: lists joined with ';', booleans as 0/1, coordinates to 6 decimals (about
    0.1 m, as generated), other fractions to 2; so a row's text is fixed by its values."""
    if isinstance(value, tuple):
        return ";".join(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return f"{value:.6f}" if name in ("lat", "lon") else f"{value:.2f}"
    return value


class _Record:
    """Flat rows for CSV: every field but nested records, in declaration order."""

    _nested: tuple[str, ...] = ()

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name not in cls._nested]

    def as_row(self) -> dict:
        return {name: _cell(name, getattr(self, name)) for name in self.columns()}


@dataclass(frozen=True)
class Machine(_Record):
    workshop_id: str
    #: The machine tag the workshop's gateway writes (m01, m02, ...), as in the gateway's registry.
    machine_id: str
    #: The board on it: sn- and 12 hex digits of a locally administered MAC (02:...), so it can
    #: never be a real ESP32's.
    device_id: str
    type: str
    brand: str
    model: str
    max_spm: int


@dataclass(frozen=True)
class Workshop(_Record):
    #: The gateway's workshop id (its InfluxDB tag): ws-<dong>-<number>.
    id: str
    name_ko: str
    name_en: str
    dong: str
    address_ko: str
    address_en: str
    lat: float
    lon: float
    #: People who sew there, the owner included.
    operators: int
    area_m2: int
    #: Product families it takes, its main one first.
    families: tuple[str, ...]
    opens: str
    closes: str
    lunch_start: str
    lunch_minutes: int
    workdays: tuple[str, ...]
    min_order_pieces: int
    takes_samples: bool
    #: Earned / attended minutes, as the owner declares it (0..1).
    declared_efficiency: float
    price_per_sam_minute_krw: int
    #: 1 cheap, 2 market rate, 3 dear (from the price).
    price_level: int
    #: Share of past orders delivered by the agreed day, and how many orders that is from.
    on_time_rate: float
    orders_delivered: int
    contact_channel: str
    contact_phone: str
    machines: tuple[Machine, ...] = field(repr=False)

    _nested = ("machines",)

    @property
    def working_minutes_per_day(self) -> int:
        return _minutes(self.closes) - _minutes(self.opens) - self.lunch_minutes

    def machine_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for m in self.machines:
            counts[m.type] = counts.get(m.type, 0) + 1
        return counts


@dataclass(frozen=True)
class Designer(_Record):
    """A buyer of sewing: a wholesale stall, a designer brand or an online store."""

    id: str
    kind: str  # wholesale | designer_brand | online_store
    name_ko: str
    name_en: str
    families: tuple[str, ...]
    building_ko: str  # "" when not in a wholesale building
    building_en: str
    floor: str
    stall: str
    dong: str
    address_ko: str
    address_en: str
    lat: float
    lon: float
    typical_order_pieces: int
    styles_per_month: int
    contact_channel: str
    contact_phone: str


@dataclass(frozen=True)
class Supplier(_Record):
    id: str
    kind: str  # fabric | knitting | dyeing | trims | printing | washing
    name_ko: str
    name_en: str
    materials: tuple[str, ...]
    families: tuple[str, ...]
    lead_days: int
    region: str  # seoul | gyeonggi | daegu
    city_ko: str
    city_en: str
    address_ko: str
    address_en: str
    lat: float
    lon: float
    contact_channel: str
    contact_phone: str


@dataclass(frozen=True)
class Network:
    seed: int
    workshops: tuple[Workshop, ...]
    designers: tuple[Designer, ...]
    suppliers: tuple[Supplier, ...]

    @property
    def machines(self) -> tuple[Machine, ...]:
        return tuple(m for w in self.workshops for m in w.machines)

    #: The record type behind each table.
    KINDS = {"workshops": Workshop, "machines": Machine, "designers": Designer, "suppliers": Supplier}

    def tables(self) -> dict[str, list[dict]]:
        """Flat rows per kind, in a fixed order, ready for csv.DictWriter or a bulk insert."""
        return {"workshops": [w.as_row() for w in self.workshops],
                "machines": [m.as_row() for m in self.machines],
                "designers": [d.as_row() for d in self.designers],
                "suppliers": [s.as_row() for s in self.suppliers]}

    def write_csv(self, folder: str | Path) -> dict[str, Path]:
        """<kind>.csv per table (UTF-8, header first, "\\n" line ends); returns the paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for kind, rows in self.tables().items():
            path = folder / f"{kind}.csv"
            with path.open("w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self.KINDS[kind].columns(), lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
            paths[kind] = path
        return paths

    def summary(self) -> dict:
        """The distributions, for benchmarks, the demo and a person checking the generator."""
        ws = self.workshops
        n = len(ws)
        machines = [len(w.machines) for w in ws]
        people = [w.operators for w in ws]
        by = lambda values: {k: round(values.count(k) / len(values), 3) for k in sorted(set(values))}  # noqa: E731
        types = [m.type for w in ws for m in w.machines]
        return {
            "workshops": n, "machines": len(types), "designers": len(self.designers),
            "suppliers": len(self.suppliers),
            "machines_per_workshop": {"median": statistics.median(machines), "mean": round(statistics.mean(machines), 2),
                                      "max": max(machines),
                                      "share_2_to_10": round(sum(2 <= m <= 10 for m in machines) / n, 3)},
            "operators": {"median": statistics.median(people), "share_under_5": round(sum(p < 5 for p in people) / n, 3),
                          "max": max(people)},
            "machine_types": by(types),
            "main_family": by([w.families[0] for w in ws]),
            "families_per_workshop": round(statistics.mean(len(w.families) for w in ws), 2),
            "dong": by([w.dong for w in ws]),
            "declared_efficiency": {"min": min(w.declared_efficiency for w in ws),
                                    "median": statistics.median(w.declared_efficiency for w in ws),
                                    "max": max(w.declared_efficiency for w in ws)},
            "on_time_rate_median": statistics.median(w.on_time_rate for w in ws),
            "opens": by([w.opens for w in ws]),
            "contact_channel": by([w.contact_channel for w in ws]),
            "designer_kind": by([d.kind for d in self.designers]),
            "supplier_kind": by([s.kind for s in self.suppliers]),
            "supplier_region": by([s.region for s in self.suppliers]),
        }


# --- name parts (made up) ----------------------------------------------------------------------

_NAME_STEMS = (
    ("한솔", "Hansol"), ("대성", "Daeseong"), ("세진", "Sejin"), ("미래", "Mirae"), ("우리", "Uri"),
    ("동신", "Dongsin"), ("태광", "Taegwang"), ("신우", "Sinu"), ("성진", "Seongjin"), ("영진", "Yeongjin"),
    ("정우", "Jeongu"), ("하나", "Hana"), ("새한", "Saehan"), ("보람", "Boram"), ("대한", "Daehan"),
    ("삼원", "Samwon"), ("금강", "Geumgang"), ("동아", "Donga"), ("한빛", "Hanbit"), ("은하", "Eunha"),
    ("청운", "Cheongun"), ("한길", "Hangil"), ("대광", "Daegwang"), ("명성", "Myeongseong"), ("진영", "Jinyeong"),
    ("수연", "Suyeon"), ("예림", "Yerim"), ("다온", "Daon"), ("가람", "Garam"), ("누리", "Nuri"),
    ("솔빛", "Solbit"), ("한결", "Hangyeol"), ("세림", "Serim"), ("인성", "Inseong"), ("경원", "Gyeongwon"),
    ("덕성", "Deokseong"), ("유진", "Yujin"), ("현진", "Hyeonjin"), ("상진", "Sangjin"), ("우성", "Useong"),
    ("일신", "Ilsin"), ("제일", "Jeil"), ("광명", "Gwangmyeong"), ("형제", "Hyeongje"), ("부림", "Burim"),
    ("성원", "Seongwon"), ("태양", "Taeyang"), ("신성", "Sinseong"), ("동양", "Dongyang"), ("삼화", "Samhwa"),
    ("대명", "Daemyeong"), ("화신", "Hwasin"), ("오성", "Oseong"), ("진성", "Jinseong"), ("미소", "Miso"),
    ("나래", "Narae"), ("소망", "Somang"), ("새봄", "Saebom"), ("정원", "Jeongwon"), ("서진", "Seojin"),
)
_WORKSHOP_SUFFIXES = (("봉제", "Sewing"), ("어패럴", "Apparel"), ("패션", "Fashion"), ("의류", "Clothing"),
                      ("모드", "Mode"), ("텍스", "Tex"), ("봉제실", "Sewing Room"), ("상사", "Trading"))
_SUPPLIER_SUFFIXES = {
    "fabric": (("섬유", "Textile"), ("원단", "Fabrics"), ("텍스타일", "Textiles")),
    "knitting": (("편직", "Knitting"), ("니트", "Knit")),
    "dyeing": (("염색", "Dyeing"), ("염직", "Dyeing & Finishing")),
    "trims": (("부자재", "Trims"), ("상사", "Trading")),
    "printing": (("나염", "Printing"), ("프린팅", "Printing")),
    "washing": (("워싱", "Washing"),),
}
_BRAND_WORDS = (
    ("데일리", "Daily"), ("무드", "Mood"), ("블랑", "Blanc"), ("누아", "Noir"), ("어반", "Urban"),
    ("멜로우", "Mellow"), ("헤이즈", "Haze"), ("블룸", "Bloom"), ("루나", "Luna"), ("모먼트", "Moment"),
    ("코지", "Cozy"), ("오브", "Orb"), ("린넨", "Linen"), ("세이지", "Sage"), ("클로이", "Chloe"),
    ("마리", "Mari"), ("포레", "Forêt"), ("솔레", "Sole"), ("베이지", "Beige"), ("그레이", "Grey"),
    ("라운지", "Lounge"), ("위크", "Week"), ("스튜디오", "Studio"), ("하루", "Haru"), ("봄날", "Bomnal"),
    ("온유", "Onyu"), ("시엘", "Ciel"), ("로즈", "Rose"), ("민트", "Mint"), ("노블", "Noble"),
)
_BRAND_TAILS = (("", ""), (" 라벨", " Label"), (" 클로젯", " Closet"), (" 서울", " Seoul"), (" 하우스", " House"))

# Wholesale buildings of the Dongdaemun market (real names; points approximate, about 100 m).
_WHOLESALE_BUILDINGS = (
    ("디자이너클럽", "Designer Club", 37.5672, 127.0100, 5),
    ("누죤", "Nuzzon", 37.5677, 127.0106, 6),
    ("에이피엠", "apM", 37.5680, 127.0095, 7),
    ("유어스", "U:US", 37.5685, 127.0121, 5),
    ("디오트", "DIOT", 37.5673, 127.0117, 5),
    ("제일평화시장", "Jeil Pyeonghwa Market", 37.5671, 127.0130, 4),
    ("청평화시장", "Cheong Pyeonghwa Market", 37.5692, 127.0157, 4),
    ("신평화패션타운", "Sin Pyeonghwa Fashion Town", 37.5689, 127.0139, 4),
    ("평화시장", "Pyeonghwa Market", 37.5690, 127.0105, 3),
    ("광희패션몰", "Gwanghui Fashion Mall", 37.5664, 127.0098, 5),
    ("동평화시장", "Dong Pyeonghwa Market", 37.5694, 127.0177, 4),
)
# Dongdaemun Jonghap Market: fabric and trims (Jongno 6-ga; point approximate).
_JONGHAP_MARKET = ("동대문종합시장", "Dongdaemun Jonghap Market", 37.5703, 127.0080, 5)

# Supplier clusters: (region, city ko/en, area ko/en, lat, lon, radius km); points approximate.
_CLUSTERS = {
    "daegu_dyeing": ("daegu", "대구 서구", "Seo-gu, Daegu", "비산동 염색산업단지", "Bisan-dong dyeing complex",
                     35.884, 128.559, 1.0),
    "daegu_seongseo": ("daegu", "대구 달서구", "Dalseo-gu, Daegu", "성서산업단지", "Seongseo industrial complex",
                       35.846, 128.497, 2.0),
    "yangju": ("gyeonggi", "경기 양주시", "Yangju, Gyeonggi", "은현면", "Eunhyeon-myeon", 37.842, 127.036, 2.5),
    "dongducheon": ("gyeonggi", "경기 동두천시", "Dongducheon, Gyeonggi", "상패동", "Sangpae-dong", 37.904, 127.061, 1.5),
    "pocheon": ("gyeonggi", "경기 포천시", "Pocheon, Gyeonggi", "신북면", "Sinbuk-myeon", 37.911, 127.210, 2.5),
    "ansan": ("gyeonggi", "경기 안산시 단원구", "Danwon-gu, Ansan, Gyeonggi", "반월염색단지",
              "Banwol dyeing complex", 37.306, 126.775, 1.0),
    "jonghap": ("seoul", "서울 종로구", "Jongno-gu, Seoul", "동대문종합시장", "Dongdaemun Jonghap Market",
                _JONGHAP_MARKET[2], _JONGHAP_MARKET[3], 0.0),
}
# kind: (share, clusters, lead days (lo, hi), materials to pick from)
_SUPPLIER_KINDS = {
    "fabric": (.35, ("jonghap", "jonghap", "daegu_seongseo"), (1, 14),
               ("cotton poplin", "cotton jersey", "polyester chiffon", "rayon challis", "linen", "denim 12 oz",
                "wool blend", "polyester twill", "nylon taffeta", "spandex jersey", "cotton twill")),
    "knitting": (.15, ("yangju", "dongducheon", "pocheon"), (7, 14),
                 ("cotton jersey", "rib", "french terry", "fleece", "spandex jersey", "pique")),
    "dyeing": (.15, ("daegu_dyeing", "ansan", "yangju", "pocheon"), (5, 12),
               ("reactive dyeing (cotton)", "disperse dyeing (polyester)", "garment dyeing", "yarn dyeing")),
    "trims": (.20, ("jonghap",), (1, 3),
              ("buttons", "zippers", "labels", "elastic", "interlining", "thread", "snaps", "cord")),
    "printing": (.08, ("changsin", "yangju"), (2, 5),
                 ("screen printing", "digital printing", "heat transfer", "embroidery")),
    "washing": (.07, ("yangju", "pocheon"), (3, 7), ("stone wash", "enzyme wash", "bleach", "garment wash")),
}
_MATERIAL_FAMILIES = {
    "cotton poplin": ("woven_shirts", "dresses_skirts"), "cotton jersey": ("knit_tops",),
    "polyester chiffon": ("dresses_skirts", "woven_shirts"), "rayon challis": ("dresses_skirts",),
    "linen": ("woven_shirts", "trousers"), "denim 12 oz": ("denim",), "wool blend": ("outerwear", "trousers"),
    "polyester twill": ("trousers", "outerwear"), "nylon taffeta": ("outerwear",),
    "spandex jersey": ("sportswear", "knit_tops"), "cotton twill": ("trousers", "outerwear"),
    "rib": ("knit_tops",), "french terry": ("knit_tops", "sportswear"), "fleece": ("sportswear", "knit_tops"),
    "pique": ("knit_tops",), "stone wash": ("denim",), "enzyme wash": ("denim",), "bleach": ("denim",),
    "garment wash": ("denim", "knit_tops"),
}

_WORKDAYS_6 = ("mon", "tue", "wed", "thu", "fri", "sat")
_WORKDAYS_5 = _WORKDAYS_6[:5]


# --- the generator -----------------------------------------------------------------------------

def generate_network(workshops: int = 1000, seed: int = 0, designers: int | None = None,
                     suppliers: int | None = None) -> Network:
    """A Dongdaemun of `workshops` sewing workshops (1 to 9,999 per dong; the belt has 5,000 to
    7,000), about one designer or wholesaler for every three workshops and one supplier for every
    25 (at least 24) unless given. Same arguments, same network."""
    if workshops < 0 or (designers is not None and designers < 0) or (suppliers is not None and suppliers < 0):
        raise ValueError("counts cannot be negative")
    designers = workshops // 3 if designers is None else designers
    suppliers = max(24, workshops // 25) if suppliers is None else suppliers
    dongs = load_dongs()
    # One stream per part, so more designers do not reshuffle the workshops.
    ws = _workshops(random.Random(f"sewnet-network:{seed}:workshops"), dongs, workshops)
    ds = _designers(random.Random(f"sewnet-network:{seed}:designers"), dongs, designers)
    ss = _suppliers(random.Random(f"sewnet-network:{seed}:suppliers"), dongs, suppliers)
    return Network(seed, ws, ds, ss)


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _phone(rng: random.Random) -> str:
    return f"010-0{rng.randrange(1000):03d}-{rng.randrange(10000):04d}"


def _point_in(rng: random.Random, area, centre: tuple[float, float] | None = None,
              spread_m: float = 0.0) -> tuple[float, float]:
    """A (lat, lon) inside `area`, rounded to 6 decimals (about 0.1 m) and checked after rounding;
    near `centre` (normal, spread_m) when given, else uniform."""
    minx, miny, maxx, maxy = area.bounds
    for attempt in range(10_000):
        if centre is not None and attempt < 50:
            lat = centre[0] + rng.gauss(0, spread_m / 111_000)
            lon = centre[1] + rng.gauss(0, spread_m / (111_000 * math.cos(math.radians(centre[0]))))
        else:
            lat, lon = rng.uniform(miny, maxy), rng.uniform(minx, maxx)
        lat, lon = round(lat, 6), round(lon, 6)
        if shapely.contains_xy(area, lon, lat):
            return lat, lon
    raise RuntimeError("could not place a point inside the area")  # a degenerate polygon


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, [weights[k] for k in keys])[0]


def _people(rng: random.Random) -> int:
    # Most shops are an owner and two or three sewers (under 5 people: about two thirds);
    # about one in eleven is larger, with a Pareto tail up to 60.
    if rng.random() < 0.91:
        return rng.choices(range(1, 9), (10, 20, 20, 16, 10, 7, 5, 3))[0]
    return min(60, int(8 * rng.paretovariate(1.5)) + 1)


def _machine_types(rng: random.Random, main: Family, people: int) -> list[str]:
    """The machines' types: the main family's required ones, then the rest by its mix. Machines
    slightly outnumber people (a coverstitch or a buttonhole machine waits for its step)."""
    if people <= 10:
        count = people + rng.choices((0, 1, 2, 3), (30, 40, 20, 10))[0]
    else:
        count = round(people * rng.uniform(1.05, 1.3))
    count = max(2, len(main.required), count)
    types = list(main.required)
    while len(types) < count:
        types.append(_weighted(rng, main.mix))
    order = list(MACHINE_TYPES)
    return sorted(types, key=order.index)


def _families(rng: random.Random, main: Family, have: set[str], machines: int) -> tuple[str, ...]:
    """The main family first, then every other family its machines allow, each with a chance
    that grows with the shop (small shops specialise)."""
    chosen = [main.key]
    p = min(0.6, 0.15 + 0.03 * machines)
    for f in FAMILIES.values():
        if f.key != main.key and set(f.required) <= have and rng.random() < p:
            chosen.append(f.key)
    return tuple(chosen)


def _workshops(rng: random.Random, dongs: dict[str, Dong], n: int) -> tuple[Workshop, ...]:
    placing = {s: d for s, d in dongs.items() if d.workshop_share > 0}
    # A few sewing streets per dong: most shops sit near one, the rest anywhere in the dong.
    streets = {s: [_point_in(rng, d.workshop_area) for _ in range(6)] for s, d in placing.items()}
    shares = {s: d.workshop_share for s, d in placing.items()}
    families = {f.key: f.share for f in FAMILIES.values()}
    numbers = {s: 0 for s in placing}
    out = []
    for index in range(n):
        slug = _weighted(rng, shares)
        dong = placing[slug]
        numbers[slug] += 1
        if numbers[slug] > 9999:
            raise ValueError(f"more than 9,999 workshops in {dong.en}")
        wid = f"ws-{slug}-{numbers[slug]:04d}"
        if rng.random() < 0.7:
            lat, lon = _point_in(rng, dong.workshop_area, rng.choice(streets[slug]), 90.0)
        else:
            lat, lon = _point_in(rng, dong.workshop_area)

        people = _people(rng)
        main = FAMILIES[_weighted(rng, families)]
        types = _machine_types(rng, main, people)
        machines = tuple(
            Machine(wid, f"m{i:02d}", f"sn-02{index:06x}{i:04x}", t, *rng.choice(MACHINE_TYPES[t].models),
                    MACHINE_TYPES[t].max_spm)
            for i, t in enumerate(types, start=1))
        fams = _families(rng, main, set(types), len(types))

        stem_ko, stem_en = rng.choice(_NAME_STEMS)
        suffix_ko, suffix_en = rng.choice(_WORKSHOP_SUFFIXES)
        lot, sub = rng.randint(1, 700), rng.randint(1, 60)
        floor_ko, floor_en = rng.choices((("지하 1층", "B1"), ("1층", "1F"), ("2층", "2F"), ("3층", "3F"),
                                          ("4층", "4F")), (25, 25, 30, 15, 5))[0]
        opens = rng.choices(("08:00", "08:30", "09:00", "10:00"), (10, 20, 60, 10))[0]
        closes = rng.choices(("18:00", "19:00", "20:00"), (25, 55, 20))[0]
        small = len(types) <= 5
        min_order = rng.choice((30, 50, 100) if small else (100, 200, 300, 500))
        price = round(rng.gauss(300, 40))
        price = min(420, max(220, price))
        efficiency = round(rng.triangular(0.35, 0.70, 0.50), 2)
        # Most shops keep to the agreed day; a few are often late (beta around 0.9).
        on_time = round(rng.betavariate(18, 2), 2)
        older_owner = rng.random() < 0.7
        out.append(Workshop(
            id=wid, name_ko=f"{stem_ko}{suffix_ko}", name_en=f"{stem_en} {suffix_en}", dong=slug,
            address_ko=f"서울특별시 {dong.gu_ko} {dong.ko} {lot}-{sub} {floor_ko}",
            address_en=f"{floor_en}, {lot}-{sub} {dong.en}, {dong.gu_en}, Seoul",
            lat=lat, lon=lon, operators=people,
            area_m2=max(12, round(6 + 5.5 * len(types) + rng.gauss(0, 4))),
            families=fams, opens=opens, closes=closes, lunch_start="12:00",
            lunch_minutes=rng.choices((60, 50), (85, 15))[0],
            workdays=_WORKDAYS_6 if rng.random() < 0.6 else _WORKDAYS_5,
            min_order_pieces=min_order, takes_samples=rng.random() < (0.3 if small else 0.15),
            declared_efficiency=efficiency, price_per_sam_minute_krw=price,
            price_level=1 if price < 280 else 2 if price < 330 else 3,
            on_time_rate=on_time, orders_delivered=rng.randint(0, 300),
            # Owners over 60 mostly answer the phone; younger ones chat on KakaoTalk.
            contact_channel="phone" if older_owner and rng.random() < 0.55 else "kakaotalk",
            contact_phone=_phone(rng), machines=machines))
    dong_order = list(dongs)
    out.sort(key=lambda w: (dong_order.index(w.dong), w.id))
    return tuple(out)


def _some_families(rng: random.Random, k_max: int) -> tuple[str, ...]:
    weights = {f.key: f.share for f in FAMILIES.values()}
    first = _weighted(rng, weights)
    chosen = [first]
    for _ in range(rng.randint(0, k_max - 1)):
        f = _weighted(rng, weights)
        if f not in chosen:
            chosen.append(f)
    return tuple(chosen)


def _designers(rng: random.Random, dongs: dict[str, Dong], n: int) -> tuple[Designer, ...]:
    names = [(a[0] + b[0] + t[0], f"{a[1]} {b[1]}{t[1]}") for t in _BRAND_TAILS for a in _BRAND_WORDS
             for b in _BRAND_WORDS if a != b]
    rng.shuffle(names)
    studios = {"changsin": 3, "sindang": 3, "euljiro6ga": 2, "jongno6ga": 1, "sungin": 1, "heungin": 1}
    taken_stalls: set[tuple[str, str, str]] = set()
    out = []
    for i in range(n):
        did = f"ds-{i + 1:05d}"
        ko, en = names[i % len(names)]
        if i >= len(names):
            ko, en = f"{ko} {i // len(names) + 1}", f"{en} {i // len(names) + 1}"
        kind = rng.choices(("wholesale", "designer_brand", "online_store"), (60, 20, 20))[0]
        building_ko = building_en = floor = stall = ""
        if kind == "wholesale":
            b_ko, b_en, lat, lon, floors = rng.choice(_WHOLESALE_BUILDINGS)
            for _ in range(1000):
                floor = rng.choice(["B1"] + [f"{k}F" for k in range(1, floors + 1)])
                stall = f"{rng.choice('ABCDE')}-{rng.randint(1, 120):03d}"
                if (b_en, floor, stall) not in taken_stalls:
                    taken_stalls.add((b_en, floor, stall))
                    break
            else:
                raise ValueError(f"more wholesale designers than {b_en} has free stalls")
            building_ko, building_en = b_ko, b_en
            dong = dong_at(lat, lon)
            floor_ko = "지하 1층" if floor == "B1" else f"{floor[:-1]}층"
            address_ko = f"서울특별시 {dong.gu_ko} {dong.ko} {b_ko} {floor_ko} {stall}호"
            address_en = f"{b_en} {floor} {stall}, {dong.en}, {dong.gu_en}, Seoul"
            order = rng.choice((50, 100, 150, 200, 300, 500))
            styles = rng.randint(4, 20)
        else:
            dong = dongs[_weighted(rng, studios)]
            lat, lon = _point_in(rng, dong.workshop_area)
            lot, sub = rng.randint(1, 700), rng.randint(1, 60)
            address_ko = f"서울특별시 {dong.gu_ko} {dong.ko} {lot}-{sub}"
            address_en = f"{lot}-{sub} {dong.en}, {dong.gu_en}, Seoul"
            if kind == "designer_brand":
                order, styles = rng.choice((100, 200, 300, 500, 1000)), rng.randint(2, 10)
            else:
                order, styles = rng.choice((200, 300, 500, 1000, 2000, 3000)), rng.randint(5, 30)
        out.append(Designer(
            id=did, kind=kind, name_ko=ko, name_en=en, families=_some_families(rng, 3),
            building_ko=building_ko, building_en=building_en, floor=floor, stall=stall, dong=dong.slug,
            address_ko=address_ko, address_en=address_en, lat=lat, lon=lon, typical_order_pieces=order,
            styles_per_month=styles, contact_channel=rng.choices(("kakaotalk", "phone"), (80, 20))[0],
            contact_phone=_phone(rng)))
    return tuple(out)


def _suppliers(rng: random.Random, dongs: dict[str, Dong], n: int) -> tuple[Supplier, ...]:
    kinds = {k: v[0] for k, v in _SUPPLIER_KINDS.items()}
    out = []
    for i in range(n):
        kind = _weighted(rng, kinds)
        _, clusters, (lead_lo, lead_hi), materials = _SUPPLIER_KINDS[kind]
        where = rng.choice(clusters)
        if where in dongs:  # a print shop in the sewing streets themselves
            dong = dongs[where]
            lat, lon = _point_in(rng, dong.workshop_area)
            region, city_ko, city_en = "seoul", f"서울 {dong.gu_ko}", f"{dong.gu_en}, Seoul"
            lot, sub = rng.randint(1, 700), rng.randint(1, 60)
            address_ko, address_en = f"{city_ko} {dong.ko} {lot}-{sub}", f"{lot}-{sub} {dong.en}, {city_en}"
        else:
            region, city_ko, city_en, area_ko, area_en, clat, clon, radius_km = _CLUSTERS[where]
            if radius_km:
                r, a = radius_km * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
                lat = round(clat + r * math.cos(a) / 111.0, 6)
                lon = round(clon + r * math.sin(a) / (111.0 * math.cos(math.radians(clat))), 6)
                address_ko, address_en = f"{city_ko} {area_ko}", f"{area_en}, {city_en}"
            else:  # a stall in the market building
                lat, lon = clat, clon
                stall = f"{rng.choice('ABCD')}동 {rng.randint(1, 5)}층 {rng.randint(1, 400):03d}호"
                stall_en = stall.replace("동 ", " ").replace("층 ", "F ").replace("호", "")
                address_ko = f"{city_ko} {area_ko} {stall}"
                address_en = f"{area_en} {stall_en}, {city_en}"
        picked = sorted(rng.sample(materials, min(len(materials), rng.randint(1, 4))), key=materials.index)
        fams: list[str] = []
        for m in picked:
            for f in _MATERIAL_FAMILIES.get(m, ()):
                if f not in fams:
                    fams.append(f)
        if kind in ("trims", "dyeing", "printing"):  # every family needs thread, labels, colour
            fams = list(FAMILIES)
        stem_ko, stem_en = rng.choice(_NAME_STEMS)
        suffix_ko, suffix_en = rng.choice(_SUPPLIER_SUFFIXES[kind])
        lead = rng.randint(lead_lo, lead_hi)
        if kind == "fabric":  # from stock in the market, or woven to order in Daegu
            lead = rng.randint(1, 3) if region == "seoul" else rng.randint(10, 21)
        out.append(Supplier(
            id=f"sp-{i + 1:04d}", kind=kind, name_ko=f"{stem_ko}{suffix_ko}", name_en=f"{stem_en} {suffix_en}",
            materials=tuple(picked), families=tuple(fams), lead_days=lead, region=region,
            city_ko=city_ko, city_en=city_en, address_ko=address_ko, address_en=address_en, lat=lat, lon=lon,
            contact_channel=rng.choices(("phone", "kakaotalk"), (50, 50))[0], contact_phone=_phone(rng)))
    return tuple(out)
