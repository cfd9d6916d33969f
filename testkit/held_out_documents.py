"""A second document generator, drawn apart from the product's own (`demo/document_images.py`), in the layouts a
Chinese claims department receives: a paper 增值税普通发票 (red `No` number, tax shown apart), a 数电 invoice (20-digit
number), a provincial electronic outpatient receipt (浙江省医疗门诊收费票据), a Shanghai outpatient receipt grid (two
column sets, unlabelled `No`), a hospital inpatient settlement (住院结算单), a pharmacy receipt, a 4S shop repair
settlement (parts and labour) and a traffic accident liability certificate (道路交通事故认定书); each drawn clean or
taken as a phone photo (`photo`). `bench/held_out.py` scores the reader on it, with a seed held back from tuning;
the tests draw from other seeds.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from demo.document_images import FONT_PATH

W, H = 1240, 880
RED, INK, BLUE = (176, 48, 40), (30, 30, 40), (20, 40, 120)


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_PATH, size)


def money(v: Decimal) -> str:
    return f"{v:,.2f}" if v >= 1000 and hash(v) % 2 else f"{v:.2f}"  # thousands separated on some prints


_DIGITS = "零壹贰叁肆伍陆柒捌玖"


def in_words(v: Decimal) -> str:
    """An amount in capital numerals, as invoices print it: 肆仟壹佰陆拾圆整, 叁佰肆拾伍圆陆角."""
    fen = int((v * 100).to_integral_value())
    yuan, jiao, fen = fen // 100, fen // 10 % 10, fen % 10

    def group(n: int) -> str:
        out, zero = "", False
        for unit, size in (("仟", 1000), ("佰", 100), ("拾", 10), ("", 1)):
            d = n // size % 10
            if d:
                out += ("零" if zero and out else "") + _DIGITS[d] + unit
                zero = False
            else:
                zero = True
        return out

    text = ""
    if yuan >= 10000:
        text += group(yuan // 10000) + "万"
        rest = yuan % 10000
        text += ("零" if 0 < rest < 1000 else "") + group(rest)
    else:
        text += group(yuan)
    text = (text or "零") + "圆"
    if not jiao and not fen:
        return text + "整"
    return text + (_DIGITS[jiao] + "角" if jiao else "零") + (_DIGITS[fen] + "分" if fen else "")


def date_text(day: dt.date, style: str) -> str:
    return {"cn": f"{day.year}年{day.month:02d}月{day.day:02d}日", "short": f"{day.year}年{day.month}月{day.day}日",
            "dash": day.isoformat(), "dot": day.strftime("%Y.%m.%d")}[style]


class Page:
    """A form: its printed labels, and the values a printer put on it, a little off the form's lines (a paper form
    fed by hand) and in ink that may be faded (a thermal receipt)."""

    def __init__(self, r: random.Random) -> None:
        self.image = Image.new("RGB", (W, H), (252, 250, 246))
        self.draw = ImageDraw.Draw(self.image)
        self.offset = (r.randint(-14, 14), r.randint(-7, 7))
        self.ink = r.choice([INK, INK, BLUE, (120, 120, 125)])

    def text(self, x: int, y: int, s: str, size: int = 22, fill: tuple[int, int, int] = INK) -> None:
        if fill == INK:  # a value the printer put on the form
            x, y, fill = x + self.offset[0], y + self.offset[1], self.ink
        self.draw.text((x, y), s, font=font(size), fill=fill)

    def line(self, x0: int, y0: int, x1: int, y1: int, fill: tuple[int, int, int] = RED) -> None:
        self.draw.line((x0, y0, x1, y1), fill=fill, width=2)

    def seal(self, cx: int, cy: int, name: str) -> None:
        self.draw.ellipse((cx - 75, cy - 75, cx + 75, cy + 75), outline=(200, 40, 40), width=4)
        self.text(cx - 60, cy - 14, name[:6], 20, (200, 40, 40))


def items_table(p: Page, top: int, heads: list[tuple[int, str]], rows: list[list[tuple[int, str]]]) -> int:
    for x, h in heads:
        p.text(x, top, h, 19, RED)
    y = top + 40
    for row in rows:
        for x, cell in row:
            p.text(x, y, cell, 20)
        y += 36
    return y


def priced_items(r: random.Random, names: list[str], n: int) -> list[tuple[str, int, Decimal, Decimal]]:
    out = []
    for _ in range(n):
        qty = r.choice([1, 1, 1, 2, 3, 4])
        price = Decimal(r.choice([r.randint(5, 400), r.randint(100, 4000)])) + Decimal(r.randint(0, 99)) / 100
        out.append((r.choice(names), qty, price, price * qty))
    return out


def vat(p: Page, r: random.Random, v: dict[str, Any], digital: bool) -> None:
    """A paper 增值税普通发票, or a 数电 (fully digital) invoice."""
    rate = Decimal(r.choice(["0.13", "0.06", "0.03"]))
    items = priced_items(r, ["*修理修配劳务*车辆维修", "*汽车配件*前大灯总成", "*医疗服务*体检费",
                             "*药品*头孢克肟分散片", "*医用耗材*医用纱布"], r.randint(1, 3))
    pre = sum((a for *_, a in items), Decimal(0))
    tax = (pre * rate).quantize(Decimal("0.01"))
    v["total"] = pre + tax
    if digital:
        v["number"] = "".join(r.choice("0123456789") for _ in range(20))
        p.text(420, 40, "电子发票（普通发票）", 38, RED)
        p.text(860, 110, "发票号码：", 20, INK)
        p.text(965, 110, v["number"], 20)
        p.text(860, 142, "开票日期：", 20, INK)
        p.text(965, 142, date_text(v["date"], "cn"), 20)
        head = "项目名称"
    else:
        v["number"] = "".join(r.choice("0123456789") for _ in range(8))
        p.text(380, 40, r.choice(["浙江", "江苏", "广东"]) + "增值税普通发票", 38, RED)
        p.text(960, 40, "No", 26, RED)
        p.text(1005, 40, v["number"], 26, RED)
        p.text(860, 142, "开票日期：", 20, RED)
        p.text(965, 142, date_text(v["date"], r.choice(["cn", "short"])), 20)
        p.text(60, 110, "发票代码：", 20, RED)
        p.text(165, 110, "0" + "".join(r.choice("0123456789") for _ in range(11)), 20)
        head = "货物或应税劳务、服务名称"
    p.line(50, 190, 1190, 190)
    p.text(70, 205, "购买方  名称：" + v["buyer"], 20, RED)
    p.line(50, 250, 1190, 250)
    rows = [[(60, name), (560, "次"), (640, str(q)), (720, money(price)), (880, money(a)), (1010, f"{rate:.0%}"),
             (1090, money((a * rate).quantize(Decimal("0.01"))))] for name, q, price, a in items]
    y = items_table(p, 265, [(60, head), (560, "单位"), (640, "数量"), (720, "单价"), (880, "金额"), (1000, "税率"),
                             (1090, "税额")], rows)
    p.text(100, y + 20, "合    计", 20, RED)
    p.text(860, y + 20, "¥" + money(pre), 20)
    p.text(1070, y + 20, "¥" + money(tax), 20)
    p.line(50, y + 62, 1190, y + 62)
    p.text(70, y + 78, "价税合计（大写）", 20, RED)
    p.text(260, y + 78, "ⓧ" + in_words(v["total"]), 20)
    p.text(800, y + 78, "（小写）", 20, RED)
    p.text(890, y + 78, "¥" + money(v["total"]), 22)
    p.text(70, y + 130, "销售方  名称：" + v["seller"], 20, RED)
    p.seal(r.choice([980, 640, 900]), y + r.choice([150, 100]), v["seller"])  # at times over the total


def outpatient(p: Page, r: random.Random, v: dict[str, Any], grid: bool) -> None:
    """A provincial electronic outpatient receipt, or a Shanghai paper receipt whose table prints two column sets."""
    names = ["西药费", "中成药费", "检查费", "化验费", "治疗费", "诊察费", "卫生材料费", "放射费"]
    chosen = r.sample(names, r.choice([2, 4]) if grid else r.randint(1, 4))
    amounts = [Decimal(r.randint(3, 900)) + Decimal(r.randint(0, 99)) / 100 for _ in chosen]
    v["total"] = sum(amounts, Decimal(0))
    if grid:
        v["number"] = "".join(r.choice("0123456789") for _ in range(10))
        p.text(400, 40, "上海市医疗门诊收费票据", 36, RED)
        p.text(930, 100, "No " + v["number"], 24, RED)
        p.text(60, 150, "日期：" + date_text(v["date"], "dot"), 20)
        p.text(60, 190, "姓名：" + v["buyer"], 20)
        half = (len(chosen) + 1) // 2
        rows = []
        for i in range(half):
            row = [(80, chosen[i]), (420, money(amounts[i]))]
            if i + half < len(chosen):
                row += [(640, chosen[i + half]), (980, money(amounts[i + half]))]
            rows.append(row)
        y = items_table(p, 250, [(80, "项目"), (420, "金额"), (640, "项目"), (980, "金额")], rows)
        p.text(80, y + 30, "合计", 20, RED)
        p.text(420, y + 30, "¥" + money(v["total"]), 22)
        p.text(640, y + 30, "大写：" + in_words(v["total"]), 20)
    else:
        v["number"] = "".join(r.choice("0123456789") for _ in range(10))
        p.text(330, 40, "浙江省医疗门诊收费票据（电子）", 34, RED)
        p.text(60, 110, "票据代码：33060125", 20)
        p.text(760, 110, "票据号码：" + v["number"], 20)
        p.text(60, 145, "交款人：" + v["buyer"], 20)
        p.text(760, 145, "开票日期：" + date_text(v["date"], "dash"), 20)
        rows = [[(80, n), (520, "1"), (700, money(a))] for n, a in zip(chosen, amounts, strict=True)]
        y = items_table(p, 220, [(80, "项目名称"), (520, "数量"), (700, "金额（元）")], rows)
        p.text(80, y + 30, "金额合计（大写）" + in_words(v["total"]), 20)
        p.text(760, y + 30, "（小写）" + money(v["total"]), 20)
        p.text(80, y + 80, "收款单位（章）：" + v["hospital"], 20)
    p.seal(r.choice([900, 1000]), 720, v["hospital"])


def settlement(p: Page, r: random.Random, v: dict[str, Any]) -> None:
    """A hospital inpatient settlement (住院结算单): the claim is the patient's share of the total."""
    names = ["床位费", "西药费", "检查费", "手术费", "护理费", "材料费"]
    amounts = [Decimal(r.randint(50, 9000)) + Decimal(r.randint(0, 99)) / 100 for _ in range(r.randint(3, 5))]
    v["total"] = sum(amounts, Decimal(0))
    v["number"] = "".join(r.choice("0123456789") for _ in range(10))
    p.text(380, 40, v["hospital"] + "住院结算单", 30, INK)
    p.text(60, 110, f"住院号：{r.randint(100000, 999999)}", 20)
    p.text(420, 110, "票据号码：" + v["number"], 20)
    p.text(820, 110, "结算日期：" + date_text(v["date"], "cn"), 20)
    p.text(60, 145, "姓名：" + v["buyer"], 20)
    p.text(420, 145, f"住院天数：{r.randint(2, 20)}", 20)
    rows = [[(80, n), (520, money(a))] for n, a in zip(names, amounts, strict=False)]
    y = items_table(p, 210, [(80, "项目名称"), (520, "金额")], rows)
    fund = (v["total"] * Decimal("0.6")).quantize(Decimal("0.01"))
    p.text(80, y + 30, "合计（大写）" + in_words(v["total"]), 20)
    p.text(700, y + 30, "（小写）¥" + money(v["total"]), 20)
    p.text(80, y + 70, f"统筹基金支付：{money(fund)}    个人支付：{money(v['total'] - fund)}", 20)


def pharmacy(p: Page, r: random.Random, v: dict[str, Any]) -> None:
    """A pharmacy's printed receipt (销售小票)."""
    items = priced_items(r, ["布洛芬缓释胶囊", "阿莫西林胶囊", "医用口罩", "维生素C片", "创可贴"], r.randint(1, 4))
    v["total"] = sum((a for *_, a in items), Decimal(0))
    v["number"] = "".join(r.choice("0123456789") for _ in range(12))
    p.text(420, 40, v["pharmacy"], 30, RED)
    p.text(520, 90, "销售小票", 26, RED)
    p.text(60, 150, r.choice(["单号：", "流水号："]) + v["number"], 20)
    p.text(640, 150, "日期：" + date_text(v["date"], "dash") + f" {r.randint(8, 21)}:{r.randint(0, 59):02d}:11", 20)
    rows = [[(80, n), (520, str(q)), (640, money(pr)), (820, money(a))] for n, q, pr, a in items]
    y = items_table(p, 210, [(80, "项目名称"), (520, "数量"), (640, "单价"), (820, "金额")], rows)
    p.text(80, y + 30, "合计：", 22)
    p.text(820, y + 30, "¥" + money(v["total"]), 22)


def repair(p: Page, r: random.Random, v: dict[str, Any]) -> None:
    """A 4S shop's repair settlement: labour and parts, each with its subtotal, and the total with tax."""
    labour = priced_items(r, ["钣金工时", "喷漆工时", "拆装工时"], r.randint(1, 2))
    parts = priced_items(r, ["前保险杠", "左前大灯", "雨刮片", "机油滤清器"], r.randint(1, 3))
    v["total"] = sum((a for *_, a in labour + parts), Decimal(0))
    v["number"] = "".join(r.choice("0123456789") for _ in range(10))
    p.text(360, 40, v["seller"] + "维修结算单", 28, INK)
    p.text(60, 110, "结算单号：" + v["number"], 20)
    p.text(700, 110, "结算日期：" + date_text(v["date"], "cn"), 20)
    rows = [[(80, n), (520, str(q)), (640, money(pr)), (820, money(a))] for n, q, pr, a in labour + parts]
    y = items_table(p, 180, [(80, "项目名称"), (520, "数量"), (640, "单价"), (820, "金额")], rows)
    p.text(80, y + 20, "工时费：" + money(sum((a for *_, a in labour), Decimal(0))), 20)
    p.text(420, y + 20, "材料费：" + money(sum((a for *_, a in parts), Decimal(0))), 20)
    p.text(80, y + 60, "价税合计（大写）" + in_words(v["total"]), 20)
    p.text(700, y + 60, "（小写）¥" + money(v["total"]), 22)
    p.seal(1000, y + 120, v["seller"])


def certificate(p: Page, r: random.Random, v: dict[str, Any]) -> None:
    """A traffic accident liability certificate (道路交通事故认定书)."""
    p.text(380, 50, "道路交通事故认定书", 38, INK)
    p.text(300, 110, f"第 {r.randint(100000, 999999)} 号", 22)
    p.text(80, 180, f"事故时间：{date_text(v['date'], 'short')}{r.randint(7, 21)}时{r.randint(0, 59):02d}分", 22)
    place = r.choice(["上海市", "杭州市"]) + r.choice(["中山北路1088号", "文三路与教工路口"])
    p.text(80, 225, "事故地点：" + place, 22)
    p.text(80, 270, "当事人：" + v["buyer"], 22)
    p.text(80, 320, "经调查，当事人驾驶机动车未与前车保持安全距离，承担事故全部责任。", 22)
    p.seal(950, 650, "交通警察支队")


LAYOUTS: dict[str, tuple[Callable[[Page, random.Random, dict[str, Any]], None], str]] = {
    "paper VAT invoice": (lambda p, r, v: vat(p, r, v, digital=False), "invoice"),
    "数电 invoice": (lambda p, r, v: vat(p, r, v, digital=True), "invoice"),
    "浙江 electronic outpatient receipt": (lambda p, r, v: outpatient(p, r, v, grid=False), "invoice"),
    "Shanghai receipt grid": (lambda p, r, v: outpatient(p, r, v, grid=True), "invoice"),
    "inpatient settlement": (settlement, "invoice"),
    "pharmacy receipt": (pharmacy, "invoice"),
    "4S repair settlement": (repair, "invoice"),
    "accident certificate": (certificate, "accident"),
}


def photo(image: Image.Image, r: random.Random) -> Image.Image:
    """As a phone takes it: tilted, in perspective, a little blurred, lit unevenly, saved as JPEG."""
    w, h = image.size
    d = [r.uniform(-0.03, 0.03) * w for _ in range(4)]
    quad = (d[0], d[1], -d[0], h - d[3], w - d[2], h + d[3], w + d[2], -d[1])  # corners: UL, LL, LR, UR
    out = image.transform((w, h), Image.Transform.QUAD, quad, Image.Resampling.BILINEAR, fillcolor=(90, 90, 90))
    out = out.rotate(r.choice([-1, 1]) * r.uniform(2, 7), Image.Resampling.BILINEAR, expand=True,
                     fillcolor=(90, 90, 90)).filter(ImageFilter.GaussianBlur(r.uniform(0.3, 1.0)))
    shade = Image.linear_gradient("L").resize(out.size).rotate(r.uniform(0, 360))
    out = Image.composite(out, Image.new("RGB", out.size, (150, 145, 135)), shade.point(lambda x: 255 - x // 4))
    buffer = io.BytesIO()
    out.save(buffer, format="JPEG", quality=r.randint(55, 80))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def sample(i: int, r: random.Random) -> tuple[str, dict[str, Any], Image.Image]:
    name = list(LAYOUTS)[i % len(LAYOUTS)]
    values: dict[str, Any] = {
        "date": dt.date(2024, 1, 1) + dt.timedelta(days=r.randrange(900)), "buyer": r.choice(["张伟", "王芳", "李娜"]),
        "seller": r.choice(["杭州", "苏州", "上海"]) + r.choice(["永达", "恒安", "华润"]) + "汽车销售服务有限公司",
        "hospital": r.choice(["浙江省人民医院", "上海市第六人民医院", "杭州市第一人民医院"]),
        "pharmacy": r.choice(["老百姓大药房（杭州文三路店）", "益丰大药房", "国大药房连锁有限公司"])}
    page = Page(r)
    LAYOUTS[name][0](page, r, values)
    return name, values, page.image


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
