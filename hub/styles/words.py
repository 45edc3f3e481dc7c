"""Every word My Style Lab shows, in Korean, English and Chinese (simplified): the kiosk's screens,
the phone list, the API's notes, the personal-colour terms, where to buy and when it is open, and a
sentence for every recommendation reason the recommender gives (its `Reason.code`s, with their
arguments filled in). Pure data and formatting, no web."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from hub.core.words import LANGS, SHELL_WORDS, WEEKDAYS, all_langs, lang_of, pick, say

__all__ = ["LANGS", "REASONS", "SEASON_WORDS", "SEGMENTS", "TERMS", "WORDS", "all_langs", "budget_words", "lang_of",
           "open_words", "reason_words", "segment_words", "t", "term", "when_words"]

WORDS: dict[str, tuple[str, str, str]] = {
    **SHELL_WORDS,
    "title": ("마이 스타일 랩", "My Style Lab", "我的风格实验室"),
    "tagline": ("좋아하는 옷을 고르면, 동대문에서 살 수 있는 옷과 매장을 찾아 드립니다",
                "Pick what you like: we find clothes you can buy in Dongdaemun, and the stall that sells them",
                "选出您喜欢的衣服，我们为您找到在东大门能买到的衣服和摊位"),
    "how_it_works": ("1. 마음에 드는 옷 고르기 · 2. 퍼스널 컬러 (선택) · 3. 예산 · 4. 추천과 매장 위치",
                     "1. Pick what you like · 2. Personal colour (optional) · 3. Budget · 4. Picks and where to buy",
                     "1. 挑选喜欢的衣服 · 2. 个人色彩（可选）· 3. 预算 · 4. 推荐和购买地点"),
    "start": ("시작하기", "Start", "开始"),
    "show_picks": ("추천 보기", "Show my picks", "查看推荐"),
    "step_quiz": ("1. 고르기", "1. Pick", "1. 挑选"),
    "step_colour": ("2. 퍼스널 컬러", "2. Personal colour", "2. 个人色彩"),
    "step_budget": ("3. 예산", "3. Budget", "3. 预算"),
    "step_results": ("4. 추천", "4. Your picks", "4. 推荐"),
    "privacy": ("개인정보: 고르신 내용은 이 화면에만 있고 저장하지 않으며 기록(로그)에도 남기지 않습니다. "
                "처음으로 돌아가거나 오래 쓰지 않으면 지워집니다.",
                "Privacy: what you pick stays on this screen only. Nothing is stored or written to logs, "
                "and it is cleared when you start over or leave the kiosk idle.",
                "隐私：您的选择只保留在此页面，不会保存，也不会写入日志。重新开始或长时间未操作时即清除。"),
    "quiz_title": ("마음에 드는 옷에 '좋아요'를 눌러 주세요", "Tap 'Like' on the clothes you like",
                   "请为喜欢的衣服点“喜欢”"),
    "quiz_hint": ("모르겠으면 '넘기기'. 몇 개만 골라도 됩니다.", "Not sure? 'Skip'. A few likes are enough.",
                  "不确定就“跳过”。选几件就够了。"),
    "like": ("좋아요", "Like", "喜欢"),
    "skip": ("넘기기", "Skip", "跳过"),
    "liked_count": ("좋아요 {n}개", "{n} liked", "已喜欢 {n} 件"),
    "colour_title": ("퍼스널 컬러 (선택)", "Personal colour (optional)", "个人色彩（可选）"),
    "colour_intro": ("옷 색을 CIELAB 색 공간에서 읽어 설명합니다: 밝기 L*, 선명함 C*, 색상각 h. "
                     "이것은 색에 대한 설명일 뿐, 어떤 색이 당신에게 맞는다는 판정이 아닙니다. 원하는 것을 고르세요.",
                     "We read each garment's colour in CIELAB: lightness L*, chroma C* (how vivid) and hue angle h. "
                     "This explains the colours; it is never a verdict on you. Choose whatever you like.",
                     "我们在 CIELAB 色彩空间中解读衣服颜色：明度 L*、彩度 C*（鲜艳程度）和色相角 h。"
                     "这只是对颜色的说明，绝不是对您的判定。请随意选择。"),
    "colour_picks": ("고르신 옷의 색", "The colours you liked", "您喜欢的衣服颜色"),
    "colour_picks_none": ("좋아요를 누른 옷이 없어 색 설명이 없습니다.", "You liked nothing yet, so there are no colours "
                          "to explain.", "您还没有喜欢的衣服，因此没有颜色说明。"),
    "colour_tally": ("고르신 {n}벌 중 {season}에 드는 색: {k}벌", "Of your {n} likes, {k} sit in {season}",
                     "您喜欢的 {n} 件中，{k} 件属于{season}"),
    "not_sure": ("잘 모르겠어요 (모든 색)", "Not sure (all colours)", "不确定（所有颜色）"),
    "warm": ("웜톤 (봄·가을)", "Warm (spring, autumn)", "暖色调（春、秋）"),
    "cool": ("쿨톤 (여름·겨울)", "Cool (summer, winter)", "冷色调（夏、冬）"),
    "budget_title": ("예산 (한 벌 소매가)", "Budget (retail price a piece)", "预算（单件零售价）"),
    "budget_any": ("상관없음", "Any price", "不限"),
    "budget_under": ("{hi}원 이하", "Up to ₩{hi}", "₩{hi}以下"),
    "budget_between": ("{lo}~{hi}원", "₩{lo}–₩{hi}", "₩{lo}–₩{hi}"),
    "budget_over": ("{lo}원 이상", "₩{lo} and up", "₩{lo}以上"),
    "results_title": ("추천", "Your picks", "为您推荐"),
    "results_none": ("조건에 맞는 옷이 없습니다. 색이나 예산을 넓혀 보세요.",
                     "Nothing matches all of that: try a wider colour or budget.", "没有符合条件的衣服，请放宽颜色或预算。"),
    "why": ("추천 이유", "Why", "推荐理由"),
    "where": ("살 수 있는 곳", "Where to buy", "购买地点"),
    "price": ("가격", "Price", "价格"),
    "won": ("{price}원", "₩{price}", "₩{price}"),
    "min_order": ("도매 최소 {n}벌", "wholesale: at least {n} pieces", "批发：至少 {n} 件"),
    "floor_stall": ("{building} {floor} {stall}호", "{building}, {floor}, stall {stall}", "{building} {floor} {stall}号"),
    "no_building": ("{address}", "{address}", "{address}"),
    "open_now": ("지금 영업 중 · 보통 {until}까지", "Open now · usually until {until}", "正在营业 · 通常营业至 {until}"),
    "closed_now": ("지금 닫힘 · 보통 {when} 개점", "Closed now · usually opens {when}", "现在关门 · 通常 {when} 开门"),
    "hours_unknown": ("영업시간 모름", "Hours unknown", "营业时间不详"),
    "today_at": ("오늘 {hm}", "today {hm}", "今天 {hm}"),
    "tomorrow_at": ("내일 {hm}", "tomorrow {hm}", "明天 {hm}"),
    "weekday_at": ("{wd}요일 {hm}", "{wd} {hm}", "{wd} {hm}"),
    "take_it": ("휴대폰으로 가져가기", "Take the list on your phone", "用手机带走清单"),
    "take_it_hint": ("QR 코드를 찍으면 같은 목록이 휴대폰에 열립니다. 목록은 링크 안에만 있고 저장하지 않습니다.",
                     "Scan the QR code to open the same list on your phone. The list lives only in the link: "
                     "nothing is stored.", "扫描二维码即可在手机上打开同一清单。清单只在链接中，不会保存。"),
    "phone_title": ("내 추천 목록", "My picks", "我的推荐清单"),
    "link_bad": ("이 링크는 올바르지 않습니다. 키오스크에서 새 QR 코드를 받아 주세요.",
                 "This link is not valid: please get a new QR code at the kiosk.", "此链接无效，请在自助机上获取新的二维码。"),
    "link_expired": ("이 링크는 기한이 지났습니다. 키오스크에서 새 QR 코드를 받아 주세요.",
                     "This link has expired: please get a new QR code at the kiosk.", "此链接已过期，请在自助机上获取新的二维码。"),
    "gone": ("이 상품은 이제 목록에 없습니다.", "This item is no longer in the catalogue.", "该商品已不在目录中。"),
    "model_popular": ("개인 추천 모델을 준비하는 중이라 지금은 인기 상품을 보여 드립니다.",
                      "The personal model is still training: these are the most popular items for now.",
                      "个性化模型仍在训练中，目前显示的是热门商品。"),
    "loading": ("상품 목록을 읽는 중입니다. 잠시 뒤에 다시 해 주세요.", "The catalogue is being read: please try again in a "
                "moment.", "正在读取商品目录，请稍后再试。"),
    "model_failed": ("개인 추천 모델을 만들지 못해 인기 상품을 보여 드립니다.", "The personal model could not be trained: "
                     "these are the most popular items.", "个性化模型未能训练完成，显示的是热门商品。"),
    "model_new": ("아직 구매 기록이 없어 새로 들어온 상품을 보여 드립니다.", "There are no purchases yet: these are the newest "
                  "products.", "还没有购买记录，显示的是最新商品。"),
    "model_none": ("아직 상품 목록이 없습니다.", "There is no catalogue yet.", "目前还没有商品目录。"),
    "form_bad": ("보낸 내용을 읽을 수 없습니다. 처음부터 다시 해 주세요.", "What was sent cannot be read: please start again.",
                 "无法读取提交的内容，请重新开始。"),
    "too_many": ("요청이 너무 잦습니다. 잠시 뒤에 다시 해 주세요.", "Too many requests from here: please wait a moment "
                 "and try again.", "请求过于频繁，请稍后再试。"),
    "idle_warn": ("계속하시겠습니까? {s}초 뒤에 고르신 내용을 지우고 처음으로 돌아갑니다.",
                  "Still there? In {s} seconds your picks are cleared and the kiosk starts over.",
                  "还在吗？{s}秒后将清除您的选择并返回首页。"),
    "cleared": ("오래 쓰지 않아 고르신 내용을 지웠습니다.", "The kiosk was idle, so your picks are cleared.",
                "由于长时间未操作，已清除您的选择。"),
    "undertone": ("톤", "Undertone", "色调"),
    "depth": ("밝기", "Depth", "深浅"),
    "clarity": ("선명함", "Clarity", "鲜艳度"),
    "suits_seasons": ("어울리는 계절 톤", "Season palettes", "所属季节色调"),
    "suits_none": ("어느 계절 톤에도 들지 않음", "in no season's palette", "不属于任何季节色调"),
}

#: Personal colour: the four seasons and the terms of a colour reading (hub.styles.colour).
TERMS: dict[str, tuple[str, str, str]] = {
    "spring": ("봄 웜", "spring warm", "春季暖调"),
    "summer": ("여름 쿨", "summer cool", "夏季冷调"),
    "autumn": ("가을 웜", "autumn warm", "秋季暖调"),
    "winter": ("겨울 쿨", "winter cool", "冬季冷调"),
    "warm": ("따뜻한 톤", "warm", "暖"),
    "cool": ("차가운 톤", "cool", "冷"),
    "neutral": ("중간 톤", "neutral", "中性"),
    "light": ("밝음", "light", "浅"),
    "medium": ("중간", "medium", "中等"),
    "deep": ("깊음", "deep", "深"),
    "bright": ("선명함", "bright", "鲜艳"),
    "soft": ("부드러움", "soft", "柔和"),
}

#: What each season's palette is, in CIELAB terms (an explanation of colours, not of people).
SEASON_WORDS: dict[str, tuple[str, str, str]] = {
    "spring": ("노란 기가 도는 따뜻한 색(색상각이 노랑 쪽), 밝고(L* 높음) 선명한(C* 높음) 색",
               "warm colours leaning yellow (hue angle toward yellow), light (high L*) and vivid (high C*)",
               "偏黄的暖色（色相角偏黄），明亮（L* 高）且鲜艳（C* 高）"),
    "summer": ("푸른 기가 도는 차가운 색, 밝고(L* 높음) 부드러운(C* 낮음) 색",
               "cool colours leaning blue, light (high L*) and soft (low C*)",
               "偏蓝的冷色，明亮（L* 高）且柔和（C* 低）"),
    "autumn": ("노란 기가 도는 따뜻한 색, 깊고(L* 낮음) 부드러운(C* 낮음) 색",
               "warm colours leaning yellow, deep (low L*) and soft (low C*)",
               "偏黄的暖色，深沉（L* 低）且柔和（C* 低）"),
    "winter": ("푸른 기가 도는 차가운 색, 깊거나 아주 밝고 선명한(C* 높음) 색",
               "cool colours leaning blue, deep or very clear, and vivid (high C*)",
               "偏蓝的冷色，深沉或非常清澈，且鲜艳（C* 高）"),
}

#: A sentence for every recommendation reason (hub.styles.recommender's Reason codes). Fields in
#: braces come from the reason's arguments (an article's name is looked up for `like`); a field
#: the recommender did not give uses the sentence under the code with a "_plain" suffix (a
#: sentence with no fields needs none).
REASONS: dict[str, tuple[str, str, str]] = {
    "same_style": ("{like}와(과) 같은 스타일, 다른 색", "Same style as {like}, in another colour", "与{like}同款，不同颜色"),
    "same_style_plain": ("고르신 옷과 같은 스타일, 다른 색", "Same style as one you liked, in another colour",
                         "与您喜欢的款式相同，不同颜色"),
    "bought_together": ("{like}와(과) 함께 자주 사는 옷", "Often bought together with {like}", "常与{like}一起购买"),
    "bought_together_plain": ("함께 자주 사는 옷", "Often bought together with what you chose", "常与您的选择一起购买"),
    "like_your_picks": ("{like}처럼 고르신 옷과 비슷함", "Like your picks, such as {like}", "与您的选择相似，例如{like}"),
    "like_your_picks_plain": ("고르신 옷들과 비슷함", "Like the ones you picked", "与您挑选的衣服相似"),
    "popular_segment": ("이번 주 {segment} 고객에게 인기", "Popular this week with {segment}", "本周在{segment}中很受欢迎"),
    "popular_segment_plain": ("비슷한 분들에게 이번 주 인기", "Popular this week with shoppers like you",
                              "本周在与您相似的顾客中很受欢迎"),
    "popular_week": ("이번 주 인기 {rank}위", "Popular this week: no. {rank}", "本周热销第{rank}名"),
    "popular_week_plain": ("이번 주 인기 상품", "Popular this week", "本周热门"),
    "new_like": ("새로 들어온 옷, {like}와(과) 비슷함", "New in, like {like}", "新品，与{like}相似"),
    "new_like_plain": ("새로 들어온 옷, 고르신 옷과 비슷함", "New in, like what you chose", "新品，与您的选择相似"),
    "repurchase": ("전에 사신 옷: 다시 사는 분이 많아요", "You bought this before: many buy it again",
                   "您以前买过：很多人会再次购买"),
    "colour_suits": ("{season} 팔레트에 드는 색", "A colour in the {season} palette", "属于{season}色盘的颜色"),
    "colour_suits_plain": ("고르신 퍼스널 컬러 팔레트에 드는 색", "A colour in the palette you chose",
                           "属于您所选色盘的颜色"),
    "in_budget": ("예산({budget}) 안: {price}원", "Within your budget ({budget}): ₩{price}", "在预算内（{budget}）：₩{price}"),
    "in_budget_price": ("예산 안: {price}원", "Within your budget: ₩{price}", "在预算内：₩{price}"),
    "in_budget_plain": ("예산 안", "Within your budget", "在预算内"),
}

#: Shopper segments the popularity reasons name (the recommender's age bands).
SEGMENTS: dict[str, tuple[str, str, str]] = {
    "-24": ("24세 이하", "shoppers up to 24", "24岁及以下的顾客"),
    "25-34": ("25~34세", "shoppers aged 25 to 34", "25至34岁的顾客"),
    "35-44": ("35~44세", "shoppers aged 35 to 44", "35至44岁的顾客"),
    "45-54": ("45~54세", "shoppers aged 45 to 54", "45至54岁的顾客"),
    "55-": ("55세 이상", "shoppers 55 and over", "55岁及以上的顾客"),
}

def t(key: str, lang: str, **figures: object) -> str:
    return say(WORDS, key, lang, **figures)


def term(key: str, lang: str) -> str:
    """A personal-colour term in `lang`; a term we have no words for stays as it is."""
    found = TERMS.get(key)
    return pick(found, lang) if found else key


def segment_words(segment: object, lang: str) -> str | None:
    found = SEGMENTS.get(str(segment))
    return pick(found, lang) if found else None


def reason_words(code: str, args: Mapping[str, object], lang: str,
                 name_of: Callable[[int, str], str | None]) -> str:
    """The sentence for one recommendation reason in `lang`, from its arguments as the recommender
    gives them (hub/styles/recommender/types.py): `article_id` (named by `name_of(article_id,
    lang)`, None when it left the catalogue), `season`, `segment`, `rank`, and for "in_budget"
    `price_krw`, `low`, `high`. A reason missing an argument its sentence names reads without it."""
    lang = lang_of(lang)
    if code not in REASONS:
        return {"ko": "추천", "en": "Recommended", "zh": "推荐"}[lang]
    fields: dict[str, str] = {}
    try:
        named = name_of(int(args["article_id"]), lang)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        named = None
    if named:
        fields["like"] = named
    if args.get("season") in ("spring", "summer", "autumn", "winter", "warm", "cool"):
        fields["season"] = term(str(args["season"]), lang)
    segment = segment_words(args.get("segment"), lang)
    if segment:
        fields["segment"] = segment
    rank = args.get("rank")
    if isinstance(rank, int) and rank > 0:
        fields["rank"] = str(rank)
    price = args.get("price_krw")
    if isinstance(price, (int, float)) and price > 0:
        fields["price"] = f"{int(price):,}"
    if code == "in_budget":
        low, high = args.get("low"), args.get("high")
        low = low if isinstance(low, int) and low > 0 else None
        high = high if isinstance(high, int) and high >= 0 else None
        if low is not None or high is not None:
            fields["budget"] = budget_words(low, high, lang)
        else:
            code = "in_budget_price"  # a budget with no bound to name: the price alone
    try:
        return pick(REASONS[code], lang).format(**fields)
    except (KeyError, IndexError):
        return pick(REASONS[code.removesuffix("_price") + "_plain"], lang)


def budget_words(lo: int | None, hi: int | None, lang: str) -> str:
    if lo is None and hi is None:
        return t("budget_any", lang)
    if not lo:
        return t("budget_under", lang, hi=f"{hi:,}")
    if hi is None:
        return t("budget_over", lang, lo=f"{lo:,}")
    return t("budget_between", lang, lo=f"{lo:,}", hi=f"{hi:,}")


def when_words(at: datetime, now: datetime, lang: str) -> str:
    """A time soon after `now` as people say it (Seoul time): "today 20:00", "tomorrow 10:30",
    or the weekday for later in the week."""
    from hub.styles.hours import SEOUL

    local, today = at.astimezone(SEOUL), now.astimezone(SEOUL).date()
    hm = local.strftime("%H:%M")
    days = (local.date() - today).days
    if days <= 0:
        return t("today_at", lang, hm=hm)
    if days == 1:
        return t("tomorrow_at", lang, hm=hm)
    return t("weekday_at", lang, wd=WEEKDAYS[lang_of(lang)][local.weekday()], hm=hm)


def open_words(state: str, lang: str, until: datetime | None, next_open: datetime | None, now: datetime) -> str:
    """"Open now · usually until 05:00", "Closed now · usually opens today 20:00", "Hours unknown"."""
    from hub.styles.hours import SEOUL

    if state == "open" and until is not None:
        return t("open_now", lang, until=until.astimezone(SEOUL).strftime("%H:%M"))
    if state == "closed" and next_open is not None:
        return t("closed_now", lang, when=when_words(next_open, now, lang))
    return t("hours_unknown", lang)
