"""The shell both shoppers' kiosks extend (hub/core/templates/kiosk_shell.html, hub.core.pages): the
kiosk rules and each kiosk's own in one nonce'd style, the idle time-out only on the steps whose
entries it clears, "start over" and the time-out going to each kiosk's own start, the tracking
page's language links keeping its key; and what a kiosk's flow form asks for."""

from __future__ import annotations

import re

import pytest

from hub.core.pages import screen_asked, shown_as
from hub.kiosk import routes as kiosk_routes
from hub.kiosk.config import KioskSettings
from hub.kiosk.words import t as kiosk_t
from hub.styles import routes as styles_routes
from hub.styles.config import StylesSettings
from hub.styles.words import t as styles_t


def kiosk_page(step: str, **extra) -> str:
    return kiosk_routes.templates.env.get_template("kiosk_message.html").render(
        t=lambda key, **f: kiosk_t(key, "en", **f), langs=("ko", "en", "zh"), lang="en", big=False, step=step,
        kiosk=KioskSettings(idle_timeout_s=90, idle_warning_s=30), message="…", nonce="N0NCE", **extra)


def styles_page(step: str) -> str:
    return styles_routes.templates.env.get_template("styles_message.html").render(
        t=lambda key, **f: styles_t(key, "zh", **f), langs=("ko", "en", "zh"), lang="zh", big=True, step=step,
        cfg=StylesSettings(idle_timeout_s=60, idle_warning_s=25), message="…", nonce="N0NCE")


@pytest.mark.parametrize("html, own_rule", [(kiosk_page("measure"), ".field.bad input"),
                                            (styles_page("quiz"), ".choice.like input:checked + span")],
                         ids=["kiosk", "styles"])
def test_the_shells_rules_and_the_kiosks_own_share_one_nonced_style(html, own_rule):
    kiosk_styles = [s for s in re.findall(r"<style([^>]*)>(.*?)</style>", html, re.S) if ".tools button" in s[1]]
    assert len(kiosk_styles) == 1
    attrs, css = kiosk_styles[0]
    assert 'nonce="N0NCE"' in attrs and own_rule in css and "dialog#idle" in css
    assert all('nonce="N0NCE"' in s for s in re.findall(r"<script[^>]*>", html))


def test_the_idle_time_out_runs_on_the_steps_it_clears_and_goes_to_the_kiosks_own_start():
    for step in ("design", "measure", "promise", "done"):
        html = kiosk_page(step)
        assert 'id="idle"' in html and "setTimeout(show" in html
        assert 'data-idle="90" data-warn="30"' in html and 'data-clear="/kiosk?lang=en&amp;cleared=1"' in html
        assert 'id="idle-leave" href="/kiosk?lang=en"' in html and "Still there?" in html
    for step in ("track", "staff", "files"):
        assert 'id="idle"' not in kiosk_page(step) and "<script" not in kiosk_page(step)
    for step in ("quiz", "colour", "budget", "results"):
        html = styles_page(step)
        assert 'data-idle="60" data-warn="25"' in html and "setTimeout(show" in html
        assert 'data-clear="/styles?lang=zh&amp;cleared=1&amp;big=1"' in html and "还在吗" in html
    for step in ("welcome", "list"):  # the phone list is the shopper's own: it never times out
        assert 'id="idle"' not in styles_page(step) and "<script" not in styles_page(step)


def test_the_numbered_steps_are_each_kiosks_own_with_the_one_shown_marked():
    steps = re.findall(r'<li class="(here)?">([^<]*)</li>', kiosk_page("preview"))
    assert [s for _, s in steps] == ["1. Design", "2. Options", "3. Measurements", "4. Preview", "5. Price and time"]
    assert [here for here, _ in steps] == ["", "", "", "here", ""]
    assert len(re.findall(r'<li class="(?:here)?">', styles_page("budget"))) == 4
    assert '<ol class="steps">' not in kiosk_page("track") and '<ol class="steps">' not in styles_page("list")


def test_the_tracking_pages_language_and_text_size_links_keep_its_key():
    links = re.findall(r'id="(?:lang-\w+|big-toggle)"[^>]*href="([^"]*)"', kiosk_page("track", key="s3cr3t-K"))
    assert links == ["?lang=ko&amp;k=s3cr3t-K", "?lang=en&amp;k=s3cr3t-K", "?lang=zh&amp;k=s3cr3t-K",
                     "?lang=en&amp;big=1&amp;k=s3cr3t-K"]
    assert "k=" not in "".join(re.findall(r'href="([^"]*)"', kiosk_page("design")))


@pytest.mark.parametrize("form, lang, big", [
    ({"lang": "en", "big": "1"}, "en", True),
    ({"lang": "en", "big": "1", "switch_lang": "zh"}, "zh", True),
    ({"lang": "zh", "big": "1", "switch_big": "0"}, "zh", False),
    ({"lang": "fr", "big": "yes"}, "ko", False),
    ({}, "ko", False),
])
def test_a_language_or_text_size_button_wins_over_what_the_form_carried(form, lang, big):
    assert shown_as(form) == (lang, big)


@pytest.mark.parametrize("form, screen", [
    ({"go": "budget", "at": "colour"}, "budget"),
    ({"at": "colour"}, "colour"),
    ({"go": "budget", "at": "colour", "switch_lang": "en"}, "colour"),  # the same screen again, in English
    ({"go": "budget", "at": "colour", "switch_big": "1"}, "colour"),
    ({"go": "admin"}, "welcome"),  # a tampered form: the first screen
    ({"switch_lang": "en"}, "welcome"),
    ({}, "welcome"),
])
def test_the_screen_a_flow_form_asks_for(form, screen):
    assert screen_asked(form, ("welcome", "quiz", "colour", "budget", "results"), "welcome") == screen
