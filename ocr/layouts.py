"""Field extraction from OCR output of Chinese claim documents.

Pure Python (stdlib only). Input is what RapidOCR returns per page: a list of
(box, text, confidence), box = 4 [x, y] points clockwise from top-left.

    extract(ocr_result, kind)  ->  {field: Field(value, confidence, source)}

kind is "invoice", "diagnosis" or "accident". Missing fields are absent.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from statistics import median
from typing import Any


@dataclass
class Field:
    value: Any
    confidence: float
    source: str = ""          # OCR text the value was read from (for review/debug)


@dataclass
class Seg:
    text: str
    conf: float
    x: float                  # centre, in de-rotated page coordinates
    y: float
    w: float
    h: float


@dataclass
class Line:
    segs: list[Seg] = field(default_factory=list)

    @property
    def y(self) -> float:
        return median(s.y for s in self.segs)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segs)


# ---------------------------------------------------------------- normalisation

_EXTRA = str.maketrans({
    "￥": "¥", "羊": "¥",            # yen sign is often read as 羊
    "〇": "0", "○": "0",
    "—": "-", "–": "-", "－": "-",
    "，": ",", "。": ".", "·": ".",
    "：": ":", "（": "(", "）": ")",
})


def norm(s: str) -> str:
    """NFKC (full-width -> half-width), unify punctuation, collapse spaces."""
    s = unicodedata.normalize("NFKC", s).translate(_EXTRA)
    return re.sub(r"\s+", " ", s).strip()


# characters OCR confuses with digits; used only where a number is expected
_DIGIT_FIX = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "U": "0",
                            "I": "1", "l": "1", "|": "1", "i": "1", "L": "1",
                            "Z": "2", "z": "2", "S": "5", "s": "5", "B": "8",
                            "G": "6", "b": "6", "g": "9", "q": "9"})


def fix_digits(s: str) -> str:
    return s.translate(_DIGIT_FIX)


# ---------------------------------------------------------------- layout

def _geom(box: Sequence[Sequence[float]]) -> tuple[float, float, float, float, float]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = box
    w = math.hypot(x1 - x0, y1 - y0)
    h = math.hypot(x3 - x0, y3 - y0)
    ang = math.atan2(y1 - y0, x1 - x0)
    cx, cy = (x0 + x1 + x2 + x3) / 4, (y0 + y1 + y2 + y3) / 4
    return cx, cy, w, h, ang


def build_lines(ocr: Iterable[Any]) -> list[Line]:
    """Undo page skew (median angle of wide boxes), then group boxes into
    visual rows sorted top-to-bottom, left-to-right."""
    items = [(_geom(b), norm(t), float(c)) for b, t, c in (ocr or [])]
    if not items:
        return []
    angles = [g[4] for g, _, _ in items if g[2] > 2.5 * g[3]]
    a = -median(angles) if angles else 0.0
    ca, sa = math.cos(a), math.sin(a)
    segs = [Seg(t, c, cx * ca - cy * sa, cx * sa + cy * ca, w, h)
            for (cx, cy, w, h, _), t, c in items]
    segs.sort(key=lambda s: s.y)
    hmed = median(min(s.h, s.w) for s in segs)
    lines: list[Line] = []
    for s in segs:
        if s.h > 2.2 * s.w:                       # vertical text such as 购买方
            lines.append(Line([s]))
            continue
        for ln in reversed(lines[-4:]):
            if abs(ln.y - s.y) < 0.55 * hmed and ln.segs[0].h <= 2.2 * ln.segs[0].w:
                ln.segs.append(s)
                break
        else:
            lines.append(Line([s]))
    for ln in lines:
        ln.segs.sort(key=lambda s: s.x)
    lines.sort(key=lambda ln: ln.y)
    return lines


# ---------------------------------------------------------------- labels

KNOWN_LABELS = {"发票号码", "发票代码", "开票日期", "入院日期", "出院日期", "诊断日期",
                "就诊日期", "事故日期", "事故地点", "纳税人识别号", "销售方名称",
                "购买方名称", "价税合计", "机器编号"}


def _fuzzy_find(text: str, label: str, fuzzy: bool) -> int:
    """End index of `label` in text, -1 if absent. With fuzzy, one wrong or
    dropped character is allowed for labels of 4+ chars (OCR: 开栗日期), but
    never where the text is another known label (出院日期 vs 入院日期)."""
    i = text.find(label)
    if i >= 0:
        return i + len(label)
    n = len(label)
    if not fuzzy or n < 4:
        return -1
    for i in range(len(text) - n + 1):
        win = text[i:i + n]
        if win not in KNOWN_LABELS and sum(a == b for a, b in zip(win, label, strict=False)) >= n - 1:
            return i + n
    for k in range(1, n - 1):
        j = text.find(label[:k] + label[k + 1:])
        if j >= 0:
            return j + n - 1
    return -1


@dataclass
class Hit:
    line_idx: int
    parts: list[str]          # text after the label in the same box, then the row's next boxes
    confs: list[float]

    @property
    def value_text(self) -> str:
        return " ".join(self.parts)

    def candidates(self) -> Iterator[tuple[str, float]]:
        """(text, conf) from narrowest to widest: first part, first two glued
        (a value split across boxes), then the whole rest of the row."""
        if not self.parts:
            return
        yield self.parts[0], self.confs[0]
        if len(self.parts) > 1:
            yield self.parts[0] + self.parts[1], min(self.confs[:2])
            yield self.value_text, min(self.confs)


def find_after(lines: list[Line], labels: Sequence[str], *, start: int = 0,
               stop: int | None = None) -> list[Hit]:
    """Occurrences of the labels, best first: each label in the given order,
    exact matches before fuzzy ones. The value is the rest of the same box plus
    the following boxes on the same row (the caller's parser takes what it needs)."""
    hits = []
    for fuzzy in (False, True):
        for lab in labels:
            for li, ln in enumerate(lines[start:stop], start):
                for si, s in enumerate(ln.segs):
                    compact = s.text.replace(" ", "")
                    end = _fuzzy_find(compact, lab, fuzzy)
                    if end < 0:
                        continue
                    rest = compact[end:].lstrip(":;.,) ")
                    tail = ln.segs[si + 1:]
                    parts = [rest] * bool(rest) + [x.text for x in tail]
                    confs = [s.conf] * bool(rest) + [x.conf for x in tail]
                    hits.append(Hit(li, parts, confs))
    return hits


# ---------------------------------------------------------------- value parsers

_DATE_RE = re.compile(r"((?:19|20)\d\d)\s*[年\-./]\s*(\d{1,2})\s*[月\-./]\s*(\d{1,2})")
_DATE_COMPACT_RE = re.compile(r"(?<!\d)(20\d\d)(\d\d)(\d\d)(?!\d)")


def _mkdate(y: str, m: str, d: str) -> _dt.date | None:
    try:
        return _dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def parse_date(s: str) -> _dt.date | None:
    """2026年3月5日 / 2026年03月05日 / 2026-03-05 / 2026.03.05 / 2026/3/5 / 20260305.
    A time glued to the day (2026.09.2614时30分) is tolerated: the two-digit day
    is tried first, then one digit."""
    s = fix_digits(norm(s)).replace(" ", "")
    for m in _DATE_RE.finditer(s):
        day = m[3]
        d = _mkdate(m[1], m[2], day) or (len(day) == 2 and _mkdate(m[1], m[2], day[0]))
        if d:
            return d
    for m in _DATE_COMPACT_RE.finditer(s):
        d = _mkdate(m[1], m[2], m[3])
        if d:
            return d
    # a separator lost or misread: 202411-06, 2024-1217
    glued = re.match(r"^\D{0,2}((?:19|20)\d\d[-./年月日]?\d\d[-./年月日]?\d\d)(?!\d)", s)
    if glued:
        digits = re.sub(r"\D", "", glued[1])
        return _mkdate(digits[:4], digits[4:6], digits[6:8])
    return None


_MONEY_RE = re.compile(r"[¥Y]?\s*(-?\d[\d,. ]*\d|\d)")


def parse_money(s: str, *, need_symbol: bool = False) -> float | None:
    """'¥3,200.00', '￥ 3 200.00', 'Y3.200.00', '3200' -> 3200.0."""
    s = norm(s)
    if need_symbol and "¥" not in s and not re.search(r"(?<![A-Za-z])Y\s*\d", s):
        return None
    s = re.sub(r"(?<=[\d,.])[OoDQ]|[OoDQ](?=[\d,.])", "0", s)
    m = _MONEY_RE.search(s)
    if not m:
        return None
    raw = m[1].replace(" ", "")
    # last separator followed by exactly 1-2 digits is the decimal point
    dm = re.match(r"^(.*?)[.,](\d{1,2})$", raw)
    if dm:
        whole, frac = re.sub(r"[.,]", "", dm[1]), dm[2]
    else:
        whole, frac = re.sub(r"[.,]", "", raw), "0"
    if not whole.isdigit():
        return None
    return round(float(f"{whole}.{frac}"), 2)


def parse_invoice_no(s: str) -> str | None:
    s = fix_digits(norm(s).replace(" ", "").lstrip(":No.№"))
    m = re.search(r"(?<!\d)(\d{8}|\d{10}|\d{12}|\d{20})(?!\d)", s) or \
        re.search(r"(?<!\d)(\d{8,20})(?!\d)", s)
    return m[1] if m else None


_USCC_CS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc_valid(code: str) -> bool:
    """GB 32100-2015 unified social credit code checksum."""
    if len(code) != 18 or any(c not in _USCC_CS for c in code):
        return False
    t = sum(_USCC_CS.index(c) * w for c, w in zip(code, _USCC_W, strict=False))
    return _USCC_CS[(31 - t % 31) % 31] == code[17]


_ORG_W = [3, 7, 9, 10, 5, 8, 4, 2]


def org_code_valid(code9: str) -> bool:
    """GB 11714 organisation code check (USCC characters 9-17): digits count as themselves and letters A-Z as
    10-35 (the standard's own mapping, not the USCC alphabet's, which skips I, O, S, V and Z), weighted
    3 7 9 10 5 8 4 2; the check character is 11 - sum mod 11, with 10 written X and 11 written 0."""
    if len(code9) != 9 or any(not (c.isdigit() or "A" <= c <= "Z") for c in code9[:8]):
        return False
    t = sum(int(c, 36) * w for c, w in zip(code9[:8], _ORG_W, strict=False))
    c = 11 - t % 11
    return code9[8] == {10: "X", 11: "0"}.get(c, str(c))


# USCC never contains I O Z S V; characters 3-8 are an area code (digits)
_USCC_FIX = str.maketrans({"O": "0", "I": "1", "Z": "2", "S": "5", "V": "U"})
_TO_DIGIT = str.maketrans({"D": "0", "Q": "0", "U": "0", "L": "1", "T": "1", "J": "1",
                           "B": "8", "G": "6", "A": "4", "E": "8"})
_USCC_ALT = {"0": "DQU", "D": "0", "Q": "0", "U": "0W", "W": "U", "1": "LTJ", "L": "1",
             "T": "1Y", "J": "1", "8": "B3", "B": "8", "3": "8", "2": "Z", "6": "G", "G": "6C",
             "C": "G", "E": "F", "F": "E", "P": "R", "R": "P", "M": "N", "N": "MH",
             "H": "N", "K": "X", "X": "KY", "Y": "XT", "4": "A", "A": "4"}


def parse_tax_id(s: str) -> tuple[str | None, bool]:
    """Return (code, checksum_ok). A code failing the GB 32100 checksum is
    repaired with one common OCR confusion when exactly one repair (preferring
    those that also pass the GB 11714 org-code check) fits, and is then offered
    as a suggestion, not a reading: (repaired, False), so its confidence is cut
    and a person confirms it (a repair can turn one real id into another).
    Letters no USCC holds (I, O, S, V, Z) and letters in the digits-only area
    code are normalised first: that is reading, not repair. 15-digit legacy
    tax numbers are accepted as they are."""
    s = norm(s).upper().replace(" ", "").translate(_USCC_FIX)
    m = re.search(r"(?<![0-9A-Z])([0-9A-Z]{18})(?![0-9A-Z])", s)
    if not m:
        m = re.search(r"(?<![0-9A-Z])([0-9A-Z]{15}|[0-9A-Z]{17,20})(?![0-9A-Z])", s)
        return (m[1], len(m[1]) == 15 and m[1].isdigit()) if m else (None, False)
    code = m[1]
    code = code[:2] + code[2:8].translate(_TO_DIGIT) + code[8:]
    if uscc_valid(code):
        return code, True
    cands = set()
    for i, c in enumerate(code):
        if 2 <= i < 8:
            continue
        for alt in _USCC_ALT.get(c, ""):
            cand = code[:i] + alt + code[i + 1:]
            if uscc_valid(cand):
                cands.add(cand)
    best = [c for c in cands if org_code_valid(c[8:17])] or list(cands)
    if len(best) == 1:
        return best[0], False
    return code, False


# ---------------------------------------------------------------- per document

def _first(hits: Iterable[Hit], parse: Callable[[str], Any], conf_ok: float = 1.0) -> Field | None:
    for h in hits:
        for text, conf in h.candidates():
            v = parse(text)
            if v is not None:
                return Field(v, round(conf * conf_ok, 3), text)
    return None


def _nearest_idx(lines: list[Line], anchors: Sequence[str]) -> int | None:
    for i, ln in enumerate(lines):
        t = ln.text.replace(" ", "")
        if any(a in t for a in anchors):
            return i
    return None


def extract_invoice(lines: list[Line]) -> dict[str, Field]:
    out: dict[str, Field] = {}
    # A receipt's number: 发票号码 or 票据号码 on invoices and receipts; 单号 (结算单号), 流水号 on a shop's or a
    # pharmacy's printed receipt; else a `No` with no label.
    f = (_first(find_after(lines, ["发票号码", "票据号码", "号码", "单号", "流水号"]), parse_invoice_no)
         or _unlabelled_number(lines))
    if f:
        out["invoice_no"] = f
    f = _first(find_after(lines, ["开票日期", "填开日期", "日期"]), parse_date)
    if f:
        out["date"] = f

    # seller block: below the "价税合计" row, or labelled 销售方 / 收款单位
    seller0 = _nearest_idx(lines, ["价税合计", "销售方", "销方"]) or 0
    for labels in (["销售方名称", "收款单位", "销方名称"], ["名称"]):
        hits = find_after(lines, labels, start=seller0) or find_after(lines, labels)
        f = _first(hits, lambda s: _company(s))
        if f:
            out["issuer"] = f
            break
    else:                                      # label unreadable: first org name in the seller block
        for ln in lines[seller0 + 1:]:
            c = _company(ln.text)
            if c:
                out["issuer"] = Field(c, 0.5 * min(x.conf for x in ln.segs), ln.text)
                break
    hits = (find_after(lines, ["纳税人识别号", "统一社会信用代码", "识别号"], start=seller0)
            or find_after(lines, ["纳税人识别号", "统一社会信用代码", "识别号"]))
    for h in hits:
        for text, conf in h.candidates():
            code, ok = parse_tax_id(text)
            if code:
                out["tax_id"] = Field(code, round(conf * (1.0 if ok else 0.5), 3), text)
                break
        if "tax_id" in out:
            break
    if "tax_id" not in out:                    # label lost: any valid USCC on the page
        for ln in lines[seller0:]:
            code, ok = parse_tax_id(ln.text)
            if code and ok:
                out["tax_id"] = Field(code, 0.6, ln.text)
                break

    items = _items(lines)
    if items:
        out["items"] = Field([(d, a) for d, a, _, _ in items],
                             round(min(c for _, _, c, _ in items), 3))

    # total: the (小写) amount, cross-checked against the 合计 row and the sum
    # of the line items; OCR often drops a digit or reads ¥ as 4/7/Y.
    votes: list[tuple[float, float, str]] = []          # (value, conf, source)
    for labels, need in ((["小写"], True), (["小写"], False), (["价税合计"], True)):
        f = _first(find_after(lines, labels), partial(parse_money, need_symbol=need))
        if f:
            votes.append((f.value, f.confidence, f.source))
            break
    # The amount in words (大写) is the strongest witness of the total: nothing is misread into another amount.
    words = _first(find_after(lines, ["大写"]), parse_amount_in_words)
    if words:
        votes.append((words.value, words.confidence, words.source))
    # A VAT invoice's 合计 row holds the amount before tax and the tax (税额): together they are the total with
    # tax, and confirm the (小写) amount; alone, the pre-tax amount would outvote it.
    tax = _tax_on_total_row(lines)
    f = _first(find_after(lines, ["合计"]), lambda s: parse_money(s) if re.search(r"\d[.,]\d\d$", s) else None)
    # The rows' own taxes: when a seal or a fold hides the 合计 row's amount before tax, the figure left on that row
    # may be its tax, which the rows' taxes add up to (give or take a cent a row of rounding).
    row_taxes = [t for *_, t in items if t is not None]
    if (f and tax is None and items and len(row_taxes) == len(items)
            and abs(f.value - sum(row_taxes)) <= 0.011 * len(items)):
        tax, f = f.value, None
    if f:
        votes.append((round(f.value + (tax or 0.0), 2), f.confidence * 0.9, f.source))
    if items:
        votes.append((round(sum(a for _, a, _, _ in items) + (tax or 0.0), 2), min(c for _, _, c, _ in items) * 0.8,
                      "sum(items)" + ("+tax" if tax else "")))
    if not votes:
        for ln in reversed(lines):
            v = parse_money(ln.text, need_symbol=True)
            if v is not None:
                votes.append((v, 0.5 * min(s.conf for s in ln.segs), ln.text))
                break
    if votes:
        out["total"] = _vote(votes)
    return out


_NO = re.compile(r"(?:^|[^A-Za-z])(?:No|NO|№)[.:：]?\s*([0-9OoDQ ]{8,24})")


def _unlabelled_number(lines: list[Line]) -> Field | None:
    """A receipt's number printed without a Chinese label: `No 3100824561` (often in red at the top right)."""
    for ln in lines:
        for seg in ln.segs:
            found = _NO.search(norm(seg.text))
            if found:
                number = parse_invoice_no(found[1])
                if number is not None:
                    return Field(number, round(seg.conf * 0.95, 3), seg.text)
    return None


_NUMERALS = {**{c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")},
             **{c: i for i, c in enumerate("〇一二三四五六七八九")}, "两": 2, "貮": 2, "参": 3, "陸": 6}
_UNITS = {"拾": 10, "十": 10, "佰": 100, "百": 100, "仟": 1000, "千": 1000}


def parse_amount_in_words(s: str) -> float | None:
    """An amount written in capital numerals (大写), as a VAT invoice prints its total: 肆仟壹佰陆拾圆整 is 4160.00,
    壹万零伍拾元叁角贰分 is 10050.32. None when the text holds no such amount."""
    text = re.sub(r"[^零壹贰叁肆伍陆柒捌玖〇一二三四五六七八九两貮参陸拾十佰百仟千万萬亿億圆元角分整正]", "", norm(s))
    if not any(c in _NUMERALS or c in _UNITS for c in text) or not any(c in "圆元角分" for c in text):
        return None
    mark = "圆" if "圆" in text else "元" if "元" in text else None
    whole, cents = (text.partition(mark)[0], text.partition(mark)[2]) if mark else ("", text)
    total = section = number = 0
    for c in whole:
        if c in _NUMERALS:
            number = _NUMERALS[c]
        elif c in _UNITS:
            section += (number or (1 if c in "拾十" else 0)) * _UNITS[c]
            number = 0
        elif c in "万萬":
            total += (section + number) * 10_000
            section = number = 0
        elif c in "亿億":
            total = (total + section + number) * 100_000_000
            section = number = 0
    total += section + number
    fraction = number = 0
    for c in cents:
        if c in _NUMERALS:
            number = _NUMERALS[c]
        elif c == "角":
            fraction += number * 10
            number = 0
        elif c == "分":
            fraction += number
            number = 0
    return round(total + fraction / 100, 2)


def _tax_on_total_row(lines: list[Line]) -> float | None:
    """The tax (税额) on the 合计 row of an invoice that shows it apart: the second amount on that row (the first is
    the amount before tax). None on one that shows a single amount there."""
    for ln in lines:
        t = ln.text.replace(" ", "")
        if "合计" not in t or "价税" in t:
            continue
        amounts = [v for seg in ln.segs if re.search(r"\d[.,]\d\d$", seg.text.replace(" ", ""))
                   and (v := parse_money(seg.text)) is not None]
        return amounts[1] if len(amounts) >= 2 else None
    return None


def _vote(votes: list[tuple[float, float, str]]) -> Field:
    """Pick the amount most sources agree on; the first (the 小写 field) wins
    ties. Agreement raises confidence, disagreement lowers it."""
    best: tuple[int, float, float, str] | None = None
    for v, c, src in votes:
        n = sum(abs(v - w) < 0.005 for w, _, _ in votes)
        if best is None or n > best[0]:
            best = (n, v, c, src)
    assert best is not None, "votes is never empty"
    n, v, c, src = best
    conf = min(1.0, c * (1.0 + 0.05 * (n - 1))) if n > 1 else c * (0.9 if len(votes) == 1 else 0.6)
    return Field(v, round(conf, 3), src)


_ORG_RE = re.compile(r"([\u4e00-\u9fff()（）A-Za-z0-9]{4,40}(?:有限责任公司|股份有限公司|有限公司|公司|医院|"
                     r"卫生院|诊所|药房|药店|中心|门诊部|分公司|事务所|商行|店))")


def first_word(s: str) -> str | None:
    words = s.split()
    return words[0] if words else None


def _company(s: str) -> str | None:
    m = _ORG_RE.search(norm(s).replace(" ", ""))
    return m[1] if m else None


_ITEM_HEADS = ("货物或应税劳务", "项目名称", "服务名称")


def _item_head(lines: list[Line]) -> tuple[int, list[float]] | None:
    """The items table's header row, and where each of its column sets begins (the left edge of each item-name
    label): a receipt may print two sets side by side (项目 金额 | 项目 金额). A header that names only 项目 counts
    when it also names 金额."""
    head = _nearest_idx(lines, _ITEM_HEADS)
    labels: tuple[str, ...] = _ITEM_HEADS
    if head is None:
        head = next((i for i, ln in enumerate(lines) if "项目" in (t := ln.text.replace(" ", "")) and "金额" in t),
                    None)
        labels = ("项目",)
        if head is None:
            return None
    starts = [seg.x - seg.w / 2 for seg in lines[head].segs if any(a in seg.text.replace(" ", "") for a in labels)]
    return head, starts[1:]


Item = tuple[str, float, float, float | None]
"""An item: its description, amount, confidence, and its tax when the row shows one after its rate (13%)."""


def _items(lines: list[Line]) -> list[Item]:
    """Rows between the item header (货物或应税劳务/项目名称) and 合计, each column set of a row read as an item of
    its own, left set first."""
    found = _item_head(lines)
    if found is None:
        return []
    head, splits = found
    columns: list[list[list[Seg]]] = [[] for _ in range(len(splits) + 1)]  # per column set, its rows' segments
    for ln in lines[head + 1:]:
        t = ln.text.replace(" ", "")
        if "合计" in t or "价税" in t:
            break
        for column in columns:
            column.append([])
        for seg in ln.segs:
            columns[sum(seg.x >= edge for edge in splits)][-1].append(seg)
    return [item for column in columns for segs in column if segs and (item := _item(segs)) is not None]


def _item(segs: list[Seg]) -> Item | None:
    """One item: the first segment is the description; the amount is the money that is its quantity times its unit
    price, else the largest (a row shows the amount beside a smaller unit price or tax, never beside a larger
    sum); the tax is the money after the rate, on a row that shows one."""
    desc = segs[0].text
    if not re.search(r"[\u4e00-\u9fff]", desc):
        return None
    money: list[tuple[float, float]] = []
    counts: list[float] = []
    tax: float | None = None
    rated = False
    for seg in segs[1:]:
        text = seg.text.replace(" ", "")
        if re.fullmatch(r"\d{1,2}(?:\.\d)?%|免税|不征税", text):
            rated = True
        elif re.fullmatch(r"[¥Y]?[\d,. OoDQ]+\.\d\d", text):
            v = parse_money(seg.text)
            if v is not None and rated:
                tax = v if tax is None else tax
            elif v is not None:
                money.append((v, seg.conf))
        elif re.fullmatch(r"\d{1,4}(?:\.\d{1,3})?", text):
            counts.append(float(text))
    if not money:
        return None
    priced = [(a, c) for a, c in money if any(abs(q * p - a) < 0.01 and q != 1 for q in counts for p, _ in money
                                                if p != a)]
    amount, conf = priced[0] if priced else max(money)
    return desc, amount, min(segs[0].conf, conf), tax


def extract_diagnosis(lines: list[Line]) -> dict[str, Field]:
    out: dict[str, Field] = {}
    for key, labels in (("admit_date", ["入院日期", "入院时间", "就诊日期"]),
                        ("discharge_date", ["出院日期", "出院时间"]),
                        ("diagnosis_date", ["诊断日期", "开具日期", "日期"])):
        f = _first(find_after(lines, labels), parse_date)
        if f:
            out[key] = f
    f = _first(find_after(lines, ["临床诊断", "诊断结果", "出院诊断", "诊断"]),
               lambda s: s.strip(" :") or None)
    if f:
        out["diagnosis"] = f
    f = _first(find_after(lines, ["姓名"]), first_word)
    if f:
        out["patient"] = f
    for ln in lines[:4]:
        c = _company(ln.text)
        if c:
            out["hospital"] = Field(c, min(s.conf for s in ln.segs), ln.text)
            break
    return out


def extract_accident(lines: list[Line]) -> dict[str, Field]:
    out: dict[str, Field] = {}
    f = _first(find_after(lines, ["事故日期", "事故时间", "发生时间", "出险时间"]), parse_date)
    if f:
        out["accident_date"] = f
    f = _first(find_after(lines, ["事故地点", "发生地点", "出险地点"]),
               lambda s: s.split(" ")[0].strip(" :") or None)
    if f:
        out["location"] = f
    return out


EXTRACTORS = {"invoice": extract_invoice, "diagnosis": extract_diagnosis,
              "accident": extract_accident}


def extract(ocr_result: Iterable[Any], kind: str) -> dict[str, Field]:
    return EXTRACTORS[kind](build_lines(ocr_result))
