"""Words for shoppers' screens in Korean, English and Chinese (simplified), the kiosks' three
languages: a capability keeps its own table of (ko, en, zh) texts; the lookup, the fallback to
Korean and the filling of {placeholders} are here, so every kiosk reads its words one way. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping

LANGS = ("ko", "en", "zh")
INDEX = {"ko": 0, "en": 1, "zh": 2}
#: Weekday names from Monday, per language (Korean one letter a day).
WEEKDAYS = {"ko": "월화수목금토일", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
            "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日")}

Texts = tuple[str, str, str]

#: What the kiosk shell (core/templates/kiosk_shell.html) and every kiosk's screens say alike. A
#: capability's table starts from these and adds its own "title", "idle_warn" ({s}: seconds) and
#: "step_<step>" for each numbered step, which the shell shows too.
SHELL_WORDS: dict[str, Texts] = {
    "large_on": ("큰 글씨", "Large text", "大字体"),
    "large_off": ("보통 글씨", "Normal text", "正常字体"),
    "start_over": ("처음으로", "Start over", "重新开始"),
    "back": ("이전", "Back", "上一步"),
    "next": ("다음", "Next", "下一步"),
    "more_time": ("시간 더 주세요", "More time, please", "我需要更多时间"),
}


def lang_of(value: str | None) -> str:
    """A language the kiosks speak: `value` when it is one, else Korean (a tampered or old link
    still gets a page)."""
    return value if value in INDEX else "ko"


def pick(texts: Texts, lang: str) -> str:
    """The text of (ko, en, zh) in `lang`."""
    return texts[INDEX[lang_of(lang)]]


def say(table: Mapping[str, Texts], key: str, lang: str, **figures: object) -> str:
    """The words under `key` in `lang`, with {placeholders} filled from `figures`."""
    text = pick(table[key], lang)
    return text.format(**figures) if figures else text


def all_langs(fn: Callable[[str], str]) -> dict[str, str]:
    """{"ko": …, "en": …, "zh": …} from a function of the language (what an API answers)."""
    return {lang: fn(lang) for lang in LANGS}
