"""The kiosks' word lookup (hub.core.words): the shopper's language, Korean for anything else, the
figures filled in; and the words every kiosk shell shows, the same in each kiosk."""

from __future__ import annotations

import pytest

from hub.core import words
from hub.kiosk import words as kiosk_words
from hub.styles import words as styles_words

TABLE = {"hello": ("안녕하세요 {name}님", "Hello {name}", "你好 {name}")}


@pytest.mark.parametrize("asked, lang", [("ko", "ko"), ("en", "en"), ("zh", "zh"), ("fr", "ko"), ("", "ko"),
                                         (None, "ko"), ("EN", "ko")])
def test_a_language_the_kiosks_do_not_speak_reads_as_korean(asked, lang):
    assert words.lang_of(asked) == lang


def test_words_are_picked_in_the_language_and_filled_with_their_figures():
    assert words.say(TABLE, "hello", "en", name="Ji-woo") == "Hello Ji-woo"
    assert words.say(TABLE, "hello", "zh", name="Ji-woo") == "你好 Ji-woo"
    assert words.say(TABLE, "hello", "xx", name="Ji-woo") == "안녕하세요 Ji-woo님"
    assert words.say(TABLE, "hello", "en") == "Hello {name}"  # no figures: the text as written
    assert words.all_langs(lambda lang: words.pick(TABLE["hello"], lang)[:2]) == {"ko": "안녕", "en": "He", "zh": "你好"}


@pytest.mark.parametrize("table", [kiosk_words.WORDS, styles_words.WORDS], ids=["kiosk", "styles"])
def test_each_kiosk_has_the_shells_words_and_its_own_title_and_time_out(table):
    for key, texts in words.SHELL_WORDS.items():
        assert table[key] == texts
    for key in ("title", "idle_warn"):
        assert len(table[key]) == 3 and all(table[key])
    assert all("{s}" in text for text in table["idle_warn"])
