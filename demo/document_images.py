"""Sample Chinese claim documents drawn with a CJK font (VAT invoice, diagnosis, accident report): for the demo,
the tests and the OCR benchmark, which know the values they drew.

Every render_* function takes a dict of field values and returns a PIL image
(RGB, ~1200x800). `rotate` (degrees) and `noise` (0..1) degrade the page the
way a phone photo / cheap scan would; `seed` makes the degradation reproducible.
"""
from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_PATH = os.environ.get(
    "CJK_FONT", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FONT_BOLD_PATH = FONT_PATH.replace("Regular", "Bold")
SIZE = (1200, 800)
RED = (170, 40, 40)        # VAT invoices print labels and frame in brown-red
INK = (25, 25, 60)         # dot-matrix / laser content, dark blue-black
GREY = (90, 90, 90)

_font_cache: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}


def _font(size: int, bold: bool = False, serif: bool = False) -> ImageFont.FreeTypeFont:
    path = FONT_BOLD_PATH if bold and os.path.exists(FONT_BOLD_PATH) else FONT_PATH
    if serif and os.path.exists(path.replace("Sans", "Serif")):
        path = path.replace("Sans", "Serif")
    key = (path, size)
    if key not in _font_cache:
        # index 2 of NotoSansCJK .ttc is "SC" (simplified Chinese glyph forms)
        _font_cache[key] = ImageFont.truetype(path, size, index=2)
    return _font_cache[key]


def _text(d: ImageDraw.ImageDraw, xy, s: str, size=22, fill=INK, bold=False, serif=False):
    d.text(xy, s, font=_font(size, bold, serif), fill=fill)


def _value_writer(fields: dict):
    """Filled-in values: sans or serif (Song-style, as many printers use)."""
    serif = fields.get("value_font") == "serif"
    dx, dy = fields.get("print_offset", (0, 0))     # printer misaligned with the form
    return lambda d, xy, s, size=22: _text(d, (xy[0] + dx, xy[1] + dy), s, size, INK, serif=serif)


def _fmt_money(v: float) -> str:
    return f"{v:,.2f}"


def fmt_date(d, style: str = "cn0") -> str:
    """cn0: 2026年03月05日  cn: 2026年3月5日  dash: 2026-03-05  dot: 2026.03.05"""
    return {"cn0": f"{d.year}年{d.month:02d}月{d.day:02d}日",
            "cn": f"{d.year}年{d.month}月{d.day}日",
            "dash": f"{d.year}-{d.month:02d}-{d.day:02d}",
            "dot": f"{d.year}.{d.month:02d}.{d.day:02d}"}[style]


# ---------------------------------------------------------------- degradation

def degrade(img: Image.Image, *, rotate: float = 0, noise: float = 0,
            seed: int = 0) -> Image.Image:
    """Phone-photo/scan look: slight perspective, rotation (white fill), uneven
    light, blur, gaussian + salt-and-pepper noise, JPEG recompression."""
    rng = np.random.default_rng(seed)
    if noise > 0:
        w, h = img.size
        j = 0.015 * noise * min(w, h)
        src = [(0, 0), (w, 0), (w, h), (0, h)]
        dst = [(x + rng.uniform(-j, j), y + rng.uniform(-j, j)) for x, y in src]
        img = img.transform(img.size, Image.Transform.PERSPECTIVE, _perspective_coeffs(dst, src),
                            Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
    if rotate:
        img = img.rotate(rotate, resample=Image.Resampling.BICUBIC, expand=True,
                         fillcolor=(255, 255, 255))
    if noise > 0:
        img = img.filter(ImageFilter.GaussianBlur(radius=0.4 + 0.8 * noise))
        a = np.asarray(img).astype(np.float32)
        a += rng.normal(0, 6 + 20 * noise, a.shape[:2])[..., None]
        h, w = a.shape[:2]
        a *= np.linspace(1.0, 1.0 - 0.15 * noise, w)[None, :, None]
        a -= 25 * noise * rng.random()                  # greyish paper / underexposure
        sp = rng.random(a.shape[:2])
        p = 0.004 * noise
        a[sp < p] = 0
        a[sp > 1 - p] = 255
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(90 - 45 * noise))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img


def _perspective_coeffs(dst, src):
    """Coefficients for Image.transform(PERSPECTIVE) mapping dst quad -> src quad."""
    m = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        m.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        m.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    return np.linalg.solve(np.array(m, float), np.array(src, float).reshape(8)).tolist()


# ---------------------------------------------------------------- documents

def _stamp(d: ImageDraw.ImageDraw, cx: int, cy: int, text: str, r: int = 70):
    """Red round seal with text; semi-realistic clutter that OCR must ignore."""
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(220, 50, 50), width=4)
    _text(d, (cx - 12, cy - 16), "★", 26, (220, 50, 50))
    _text(d, (cx - r + 22, cy + 18), text[:6], 16, (220, 50, 50))


def render_invoice(fields: dict, *, rotate: float = 0, noise: float = 0,
                   seed: int = 0) -> Image.Image:
    """VAT-style invoice. fields: invoice_no, date (datetime.date), issuer,
    tax_id, buyer, items [(desc, amount)], total (float)."""
    img = Image.new("RGB", SIZE, "white")
    d = ImageDraw.Draw(img)
    V = _value_writer(fields)
    dt = fields["date"]
    _text(d, (330, 28), fields.get("title", "上海增值税电子普通发票"), 38, RED, True)
    d.line((360, 84, 840, 84), fill=RED, width=2)
    d.line((360, 90, 840, 90), fill=RED, width=2)
    _text(d, (60, 40), "机器编号：", 18, RED)
    V(d, (150, 40), fields.get("machine_no", "661912345678"), 18)
    _text(d, (820, 110), "发票号码：", 20, RED)
    V(d, (920, 110), fields["invoice_no"], 20)
    _text(d, (820, 140), "开票日期：", 20, RED)
    V(d, (920, 140), fmt_date(dt, fields.get("date_style", "cn0")), 20)
    _text(d, (60, 110), "发票代码：", 20, RED)
    V(d, (160, 110), fields.get("invoice_code", "031002300111"), 20)
    _text(d, (60, 140), "校 验 码：", 20, RED)
    V(d, (160, 140), fields.get("check_code", "12345 67890 12345 67890"), 20)

    x0, x1 = 50, 1150
    d.rectangle((x0, 180, x1, 720), outline=RED, width=2)
    # buyer block
    d.line((x0, 280, x1, 280), fill=RED, width=2)
    d.line((110, 180, 110, 280), fill=RED, width=1)
    _text(d, (66, 195), "购\n买\n方", 18, RED)
    _text(d, (125, 195), "名      称：", 20, RED)
    V(d, (245, 195), fields.get("buyer", "张伟"), 20)
    _text(d, (125, 235), "纳税人识别号：", 20, RED)
    V(d, (265, 235), fields.get("buyer_tax_id", ""), 20)
    d.line((760, 180, 760, 280), fill=RED, width=1)
    _text(d, (775, 195), "密", 18, RED)
    _text(d, (800, 200), "03*8<1+>9/-64</2>8+*", 17, GREY)
    _text(d, (800, 235), ">7<-/1*53+09>>2/46-", 17, GREY)
    # item table
    cols = [x0, 470, 600, 700, 840, 1000, x1]
    heads = ["货物或应税劳务、服务名称", "规格型号", "单位", "数量", "金  额", "税额"]
    d.line((x0, 320, x1, 320), fill=RED, width=1)
    for c in cols[1:-1]:
        d.line((c, 280, c, 540), fill=RED, width=1)
    for i, h in enumerate(heads):
        _text(d, (cols[i] + 12, 290), h, 18, RED)
    y = 335
    tax_rate = fields.get("tax_rate", 0.0)
    for desc, amt in fields["items"]:
        V(d, (x0 + 12, y), desc, 20)
        V(d, (cols[3] + 20, y), "1", 20)
        V(d, (cols[4] + 12, y), _fmt_money(amt), 20)
        V(d, (cols[5] + 12, y), "免税" if not tax_rate else _fmt_money(amt * tax_rate), 20)
        y += 36
    d.line((x0, 540, x1, 540), fill=RED, width=1)
    sub = sum(a for _, a in fields["items"])
    _text(d, (x0 + 60, 505), "合      计", 20, RED)
    V(d, (cols[4] + 12, 505), f"¥{_fmt_money(sub)}", 20)
    # total line
    d.line((x0, 590, x1, 590), fill=RED, width=1)
    _text(d, (x0 + 20, 553), "价税合计（大写）", 20, RED)
    V(d, (280, 553), fields.get("total_words", "⊗" + _cn_amount(fields["total"])), 20)
    _text(d, (760, 553), "（小写）", 20, RED)
    V(d, (850, 553), f"¥{_fmt_money(fields['total'])}", 22)
    # seller block
    d.line((110, 590, 110, 720), fill=RED, width=1)
    _text(d, (66, 610), "销\n售\n方", 18, RED)
    _text(d, (125, 600), "名      称：", 20, RED)
    V(d, (245, 600), fields["issuer"], 20)
    _text(d, (125, 635), "纳税人识别号：", 20, RED)
    V(d, (265, 635), fields["tax_id"], 20)
    _text(d, (125, 670), "地址、电话：", 20, RED)
    V(d, (245, 670), fields.get("address", "上海市浦东新区张江路88号 021-58881234"), 18)
    d.line((760, 590, 760, 720), fill=RED, width=1)
    _text(d, (775, 600), "备注", 18, RED)
    _text(d, (60, 740), "收款人：李娜", 18, RED)
    _text(d, (380, 740), "复核：王强", 18, RED)
    _text(d, (700, 740), "开票人：陈静", 18, RED)
    stamp_x, stamp_y = fields.get("stamp_xy", (1040, 660))
    _stamp(d, stamp_x, stamp_y, fields["issuer"][:6])
    return degrade(img, rotate=rotate, noise=noise, seed=seed)


def render_diagnosis(fields: dict, *, rotate: float = 0, noise: float = 0,
                     seed: int = 0) -> Image.Image:
    """Hospital diagnosis certificate. fields: hospital, patient, admit_date,
    diagnosis_date, diagnosis, discharge_date (optional)."""
    img = Image.new("RGB", SIZE, "white")
    d = ImageDraw.Draw(img)
    V = _value_writer(fields)
    _text(d, (380, 40), fields["hospital"], 34, (0, 0, 0), True)
    _text(d, (500, 95), "诊 断 证 明 书", 32, (0, 0, 0), True)
    _text(d, (900, 150), f"门诊号：{fields.get('mrn', '20260001234')}", 18, GREY)
    d.line((60, 180, 1140, 180), fill=(0, 0, 0), width=2)
    rows = [
        ("姓名：", fields["patient"], 80, 210),
        ("性别：", fields.get("sex", "男"), 420, 210),
        ("年龄：", f"{fields.get('age', 45)}岁", 640, 210),
        ("科室：", fields.get("dept", "骨科"), 880, 210),
    ]
    for lab, val, x, y in rows:
        _text(d, (x, y), lab, 22, (0, 0, 0))
        V(d, (x + 68, y), val, 22)
    ad, dd = fields["admit_date"], fields["diagnosis_date"]
    _text(d, (80, 270), "入院日期：", 22, (0, 0, 0))
    V(d, (195, 270), fmt_date(ad, fields.get("date_style", "cn")), 22)
    if fields.get("discharge_date"):
        od = fields["discharge_date"]
        _text(d, (600, 270), "出院日期：", 22, (0, 0, 0))
        V(d, (715, 270), fmt_date(od, "dash"), 22)
    _text(d, (80, 330), "临床诊断：", 22, (0, 0, 0))
    V(d, (195, 330), fields["diagnosis"], 22)
    _text(d, (80, 390), "处理意见：", 22, (0, 0, 0))
    V(d, (195, 390), fields.get("advice", "建议休息两周，定期复查，不适随诊。"), 22)
    d.line((60, 600, 1140, 600), fill=(0, 0, 0), width=1)
    _text(d, (80, 630), f"医师签名：{fields.get('doctor', '刘医生')}", 22, (0, 0, 0))
    _text(d, (700, 630), "诊断日期：", 22, (0, 0, 0))
    V(d, (815, 630), fmt_date(dd, "dot"), 22)
    _text(d, (80, 720), "（本证明仅供参考，涂改无效）", 18, GREY)
    _stamp(d, 1000, 560, "诊断证明专用章")
    return degrade(img, rotate=rotate, noise=noise, seed=seed)


def render_accident_report(fields: dict, *, rotate: float = 0, noise: float = 0,
                           seed: int = 0) -> Image.Image:
    """Traffic accident determination. fields: report_no, accident_date,
    accident_time, location, party, plate, description."""
    img = Image.new("RGB", SIZE, "white")
    d = ImageDraw.Draw(img)
    V = _value_writer(fields)
    _text(d, (330, 40), "道路交通事故认定书（简易程序）", 34, (0, 0, 0), True)
    _text(d, (820, 100), f"编号：{fields.get('report_no', '310115220260001')}", 20, GREY)
    d.rectangle((60, 140, 1140, 740), outline=(0, 0, 0), width=2)
    ad = fields["accident_date"]
    lines = [
        ("事故日期：", f"{fmt_date(ad, fields.get('date_style', 'cn'))}  {fields.get('accident_time', '14时30分')}"),
        ("事故地点：", fields["location"]),
        ("当事人：", f"{fields.get('party', '王芳')}    号牌号码：{fields.get('plate', '沪A·3K8Z2')}"),
        ("天气：", fields.get("weather", "晴")),
        ("事故经过：", fields.get("description", "甲车倒车时与乙车发生碰撞，造成两车损坏，无人员受伤。")),
        ("责任认定：", fields.get("liability", "甲方负全部责任，乙方无责任。")),
    ]
    y = 170
    for lab, val in lines:
        _text(d, (90, y), lab, 22, (0, 0, 0))
        V(d, (215, y), val, 22)
        d.line((60, y + 50, 1140, y + 50), fill=(160, 160, 160), width=1)
        y += 70
    _text(d, (90, 640), "交通警察：赵军  警号：012345", 20, (0, 0, 0))
    _stamp(d, 960, 640, "交通警察支队")
    return degrade(img, rotate=rotate, noise=noise, seed=seed)


# ---------------------------------------------------------------- helpers

_DIG = "零壹贰叁肆伍陆柒捌玖"


def _cn_amount(v: float) -> str:
    """Uppercase Chinese money words (simplified; enough for realism)."""
    yuan = int(v)
    jiao, fen = divmod(round((v - yuan) * 100), 10)
    units = ["", "拾", "佰", "仟", "万", "拾", "佰", "仟", "亿"]
    s, zero = "", False
    digits = str(yuan)
    for i, ch in enumerate(digits):
        n, pos = int(ch), len(digits) - 1 - i
        if n == 0:
            zero = True
            if pos == 4:
                s += "万"
            continue
        if zero:
            s += "零"
            zero = False
        s += _DIG[n] + units[pos]
    s = (s or "零") + "圆"
    if jiao == 0 and fen == 0:
        return s + "整"
    if jiao:
        s += _DIG[jiao] + "角"
    if fen:
        s += _DIG[fen] + "分"
    return s
