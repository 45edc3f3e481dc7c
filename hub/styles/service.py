"""My Style Lab's public face: the catalogue, shoppers and purchases in the relational store (CSV
import and export with the registry's rules, listing and search), the model served from memory
(popularity until the two-stage recommender is trained in the background, then the recommender),
and answers as shoppers and shops see them: each product with its names in Korean, English and
Chinese, price, colour swatch, the colour read in CIELAB, the reasons in words and where to buy it
(building, floor and stall from the registry, and whether the building is open now). Plain Python
over a SQLAlchemy session or the hub's `Database`; no web.

    with db.session() as session:
        report = service.import_csv(session, "products", data)        # then shoppers, purchases
    styles = service.Styles(db, StylesSettings())
    styles.load(); styles.train()                                     # blocking: worker thread
    answer = styles.for_session(liked=[…], skipped=[…], tone="autumn", budget=Budget(0, 40000), k=12)
    service.answer_json(answer, styles.catalogue, now)                # what the API returns

Sessions store nothing and log nothing: quiz answers, colour and budget live in the call."""

from __future__ import annotations

from hub.styles.engine import (TONES, Answer, Budget, Catalogue, Item, Pick, SessionLimiter, Shop, Status, Styles,
                               TooMany, answer_json, catalogue_of, pick_words, reading_words, where_words)
from hub.styles.store import (KINDS, SHOP_KINDS, count, counts, export_csv, import_csv, market, product_rows,
                              shops, spec)

__all__ = ["KINDS", "SHOP_KINDS", "TONES", "Answer", "Budget", "Catalogue", "Item", "Pick", "SessionLimiter", "Shop",
           "Status", "Styles", "TooMany", "answer_json", "catalogue_of", "count", "counts", "export_csv",
           "import_csv", "market", "pick_words", "product_rows", "reading_words", "shops", "spec", "where_words"]
