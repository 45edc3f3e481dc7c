"""My Style Lab's API on a real uvicorn over a real PostgreSQL holding a simulated market on the
registry's shops: shop-side endpoints need the token; the kiosk's quiz and session endpoints need
none, and sessions are rate-limited per address with a 429 in plain words; popularity serves and
says so until the recommender is trained in the background, then the recommender; every item has
its names, price, swatch, colour reading, reasons in words and where to buy it, open now or not;
`k` is bounded; colour and budget filters hold on every item; nothing personal reaches a log."""

from __future__ import annotations

import logging
import re

import httpx

from hub.styles import colour
from tests.integration.styles_world import (AUTH, market, serving, simulated,  # noqa: F401 (market: a fixture)
                                            wait_loaded, wait_ready)

API = "/api/v1/styles"


def test_shop_side_needs_the_token_and_the_kiosk_side_does_not(market, tmp_path):
    with serving(market, tmp_path, train_on_start=False) as hub, httpx.Client(base_url=hub.url, timeout=60) as c:
        shopper = simulated().market.transactions["customer_id"].iloc[0]
        for method, path in (("GET", f"/recommendations?shopper={shopper}"), ("GET", "/products"),
                             ("GET", "/products/1"), ("GET", "/products.csv"), ("GET", "/model"),
                             ("POST", "/model")):
            r = c.request(method, API + path)
            assert r.status_code == 401, (path, r.status_code)
        wrong = c.get(f"{API}/recommendations?shopper={shopper}", headers={"Authorization": "Bearer wrong-token"})
        assert wrong.status_code == 401
        wait_loaded(hub.url)
        quiz = c.get(f"{API}/quiz")
        assert quiz.status_code == 200 and len(quiz.json()["cards"]) == 16
        assert all(re.fullmatch(r"#[0-9a-f]{6}", card["swatch_hex"]) for card in quiz.json()["cards"])
        assert c.post(f"{API}/sessions", json={"liked": [quiz.json()["cards"][0]["article_id"]]}).status_code == 200


def test_the_catalogue_lists_searches_and_shows_one_product_with_its_stall(market, tmp_path):
    articles = simulated().market.articles
    with serving(market, tmp_path, train_on_start=False) as hub, httpx.Client(base_url=hub.url, timeout=60) as c:
        wait_loaded(hub.url)
        page = c.get(f"{API}/products", params={"limit": 5, "offset": 10}, headers=AUTH).json()
        assert page["total"] == len(articles) and [p["article_id"] for p in page["items"]] == sorted(articles.index)[10:15]
        word = articles["name_ko"].iloc[0].split()[-1]
        found = c.get(f"{API}/products", params={"q": word, "limit": 1000}, headers=AUTH).json()
        assert found["total"] == sum(word in n for n in articles["name_ko"]) > 0
        shop = articles["shop_id"].iloc[3]
        by_shop = c.get(f"{API}/products", params={"shop": shop, "limit": 1000}, headers=AUTH).json()
        assert by_shop["total"] == (articles["shop_id"] == shop).sum()
        cheap = c.get(f"{API}/products", params={"max_krw": 20000, "season": "ss", "limit": 1000}, headers=AUTH).json()
        assert cheap["items"] and all(p["retail_krw"] <= 20000 and p["season"] in ("ss", "all") for p in cheap["items"])
        one_id = int(articles.index[7])
        one = c.get(f"{API}/products/{one_id}", headers=AUTH).json()
        assert one["name_zh"] == articles.loc[one_id, "name_zh"] and re.fullmatch(r"#[0-9a-f]{6}", one["swatch_hex"])
        assert one["where"]["shop_id"] == articles.loc[one_id, "shop_id"] and one["colour"]["why"]["en"]
        missing = c.get(f"{API}/products/1", headers=AUTH)
        assert missing.status_code == 404 and missing.json()["ko"]
        for params in ({"limit": 0}, {"limit": "ten"}, {"max_krw": "-5"}):
            bad = c.get(f"{API}/products", params=params, headers=AUTH)
            assert bad.status_code == 422 and "limit" in bad.json()["en"] and bad.json()["ko"]
        assert c.get(f"{API}/products/abc", headers=AUTH).status_code == 404


def test_popularity_serves_and_says_so_until_the_recommender_is_trained(market, tmp_path):
    with serving(market, tmp_path, train_on_start=False) as hub, httpx.Client(base_url=hub.url, timeout=60) as c:
        shopper = simulated().market.transactions["customer_id"].value_counts().index[0]
        wait_loaded(hub.url)
        before = c.get(f"{API}/recommendations", params={"shopper": shopper}, headers=AUTH).json()
        assert before["model"] == "popularity" and len(before["items"]) == 12
        note = before["notes"][0]
        assert note["key"] == "model_popular" and "training" in note["en"] and note["ko"] and note["zh"]
        assert all(r["code"] == "popular_week" for item in before["items"] for r in item["reasons"][:1])

        r = c.post(f"{API}/model", headers=AUTH)
        assert r.status_code == 202
        status = wait_ready(hub.url)
        assert status["train_seconds"] > 0 and status["purchases"] == len(simulated().market.transactions)
        after = c.get(f"{API}/recommendations", params={"shopper": shopper}, headers=AUTH).json()
        assert after["model"] == "recommender" and after["notes"] == [] and len(after["items"]) == 12
        item = after["items"][0]
        assert set(item["names"]) == {"ko", "en", "zh"} and all(item["names"].values())
        assert item["price_krw"] > 0 and re.fullmatch(r"#[0-9a-f]{6}", item["swatch_hex"])
        assert item["colour"]["undertone"] in ("warm", "cool", "neutral") and item["colour"]["why"]["ko"]
        assert item["reasons"] and all(r["ko"] and r["en"] and r["zh"] and "{" not in r["en"] for r in item["reasons"])
        where = item["where"]
        assert where["shop_id"] and where["open_now"] in (True, False, None) and where["ko"] and where["en"]
        stalls = [i["where"] for i in after["items"] if i["where"]["building_ko"]]
        assert stalls and all(w["floor"] and w["stall"] and w["open_now"] is not None for w in stalls)
        # Not 12 colours of one shirt.
        codes = [i["product_code"] for i in after["items"]]
        assert max(codes.count(x) for x in codes) <= 2

        assert len(c.get(f"{API}/recommendations", params={"shopper": shopper, "k": 5},
                         headers=AUTH).json()["items"]) == 5
        for k in ("0", "101", "twelve"):
            r = c.get(f"{API}/recommendations", params={"shopper": shopper, "k": k}, headers=AUTH)
            assert r.status_code == 422 and "k" in r.json()["en"] and r.json()["ko"], r.text


def test_colour_and_budget_filters_hold_on_every_item(market, tmp_path):
    with serving(market, tmp_path) as hub, httpx.Client(base_url=hub.url, timeout=60) as c:
        wait_ready(hub.url)
        cards = [x["article_id"] for x in c.get(f"{API}/quiz").json()["cards"]]
        for tone, seasons in (("autumn", {"autumn"}), ("winter", {"winter"}), ("warm", {"spring", "autumn"})):
            r = c.post(f"{API}/sessions", json={"liked": cards[:4], "skipped": cards[4:8], "colour": tone,
                                                "budget_krw": [20000, 60000]})
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            assert items, tone
            for item in items:
                assert seasons & set(colour.read_colour(*item["colour"]["lab"]).suits), (tone, item["colour"])
                assert 20000 <= item["price_krw"] <= 60000
                assert any(x["code"] == "colour_suits" for x in item["reasons"])
        shopper = simulated().market.transactions["customer_id"].iloc[-1]
        r = c.get(f"{API}/recommendations", params={"shopper": shopper, "season": "summer", "budget_max": 30000},
                  headers=AUTH)
        assert r.status_code == 200 and r.json()["items"]
        assert all("summer" in i["colour"]["suits"] and i["price_krw"] <= 30000 for i in r.json()["items"])
        bad = c.post(f"{API}/sessions", json={"liked": "all", "colour": "purple", "budget_krw": [50000, 10000]})
        assert bad.status_code == 422
        assert {p["field"] for p in bad.json()["problems"]} == {"liked", "colour", "budget_krw"}


def test_sessions_are_rate_limited_per_address_in_plain_words_and_nothing_personal_is_logged(market, tmp_path,
                                                                                            caplog):
    caplog.set_level(logging.DEBUG)
    shopper = simulated().market.transactions["customer_id"].value_counts().index[1]
    with serving(market, tmp_path, sessions_per_minute=3) as hub, httpx.Client(base_url=hub.url, timeout=60) as c:
        wait_ready(hub.url)
        cards = [x["article_id"] for x in c.get(f"{API}/quiz").json()["cards"]]
        liked = cards[2:5]
        for _ in range(3):
            assert c.post(f"{API}/sessions", json={"liked": liked, "colour": "spring"}).status_code == 200
        r = c.post(f"{API}/sessions", json={"liked": liked})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.json()["en"].startswith("Too many requests") and r.json()["ko"] and r.json()["zh"]
        assert c.get(f"{API}/recommendations", params={"shopper": shopper}, headers=AUTH).status_code == 200
        counted = c.get("/api/v1/rejections", headers=AUTH).json()
        assert counted["counts"]["styles:too_many_sessions"] == 1
    # The hub's own log lines (this test's HTTP client logs its own requests, which are not the hub's).
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    assert "styles recommender trained" in logged  # the hub's lines were captured
    assert shopper not in logged and shopper not in str(counted)
    for article in liked:
        assert str(article) not in logged, "a shopper's quiz answer reached the log"


def test_bad_requests_are_answered_in_words_counted_and_never_an_error_page(market, tmp_path):
    """What a tampered kiosk or a careless script may send: every problem named at once and
    counted; a body far past what a session needs is refused before it is read whole; numbers
    Python reads differently from JSON (true) or not at all ("²") are not ids, nor 4,000 digits."""
    with serving(market, tmp_path, train_on_start=False) as hub, httpx.Client(base_url=hub.url, timeout=60) as c:
        wait_loaded(hub.url)
        shopper = simulated().market.transactions["customer_id"].iloc[0]
        r = c.get(f"{API}/recommendations", params={"shopper": shopper, "k": "0", "season": "purple"}, headers=AUTH)
        assert r.status_code == 422 and [p["field"] for p in r.json()["problems"]] == ["k", "season"]
        assert "k must be" in r.json()["en"] and "colour is one of" in r.json()["en"] and "k는" in r.json()["ko"]

        big = c.post(f"{API}/sessions", content=b'{"liked": [' + b"1, " * 20_000 + b"1]}",
                     headers={"Content-Type": "application/json"})
        assert big.status_code == 413 and "16 KiB" in big.json()["en"] and big.json()["ko"]
        booleans = c.post(f"{API}/sessions", json={"liked": [True], "budget_krw": [False, 30000], "k": True})
        assert booleans.status_code == 422
        assert {p["field"] for p in booleans.json()["problems"]} == {"liked", "budget_krw", "k"}
        assert c.post(f"{API}/sessions", content=b"\xff\xfe", headers={"Content-Type": "application/json"}
                      ).status_code == 422

        card = c.get(f"{API}/quiz").json()["cards"][0]["article_id"]
        odd = {"go": "colour", "at": "quiz", "lang": "en", "cards": f"²,{'9' * 4000},{card}", "liked": "١٢,³",
               "vote-²": "like", f"vote-{card}": "like", f"vote-{'7' * 4000}": "skip"}
        page = c.post("/styles", data=odd)
        assert page.status_code == 200 and f'name="liked" value="{card}"' in page.text
        assert f'name="cards" value="{card}"' in page.text
        flood = c.post("/styles", data={f"vote-{n}": "like" for n in range(500)})
        assert flood.status_code == 400 and "please start again" not in flood.text  # Korean: no lang kept
        assert "처음부터 다시 해 주세요" in flood.text

        counts = c.get("/api/v1/rejections", headers=AUTH).json()["counts"]
        assert counts["styles:bad_k"] == 1 and counts["styles:bad_season"] == 1
        assert counts["styles:too_big"] == 1 and counts["styles:invalid_session"] == 1
        assert counts["styles:invalid_body"] == 1 and counts["styles:bad_form"] == 1
