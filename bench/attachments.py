"""What taking in a file and printing a document cost. Prints figures; asserts nothing.

    .venv/bin/python bench/attachments.py

Figures (median of a few runs, one core):
  1. a 12-megapixel phone photo with EXIF: checked, re-encoded without EXIF, thumbnail, stored;
  2. a 20 MB PDF (the default limit): read, checked, hashed, stored;
  3. a .docx of a few pages: checked (zip structure) and stored;
  4. the 工单 as .docx (with its QR code) and the 督办通知单 as .docx, built from their facts.
"""
from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn, runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def photo() -> bytes:
    from PIL import Image
    img = Image.effect_noise((4000, 3000), 60).convert("RGB")
    exif = img.getexif()
    exif.get_ifd(0x8825).update({1: "N", 2: (36.0, 4.0, 12.5), 3: "E", 4: (120.0, 11.0, 3.25)})
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def main() -> None:
    from flask import Flask

    from app.attachments.services import AttachmentService, Upload
    from app.attachments.settings import AttachmentSettings
    from app.documents.docx import render_docx
    from app.documents.facts import Block, Document, qr_png

    app = Flask(__name__)  # the refusal messages are translated strings: they need an app context
    from flask_babel import Babel
    Babel(app)
    with app.app_context(), tempfile.TemporaryDirectory() as tmp:
        service = AttachmentService(AttachmentSettings(directory=tmp))
        jpeg = photo()
        pdf = b"%PDF-1.4\n" + b"0" * (20 * 1024 * 1024 - 9)
        import docx
        d = docx.Document()
        for i in range(200):
            d.add_paragraph("整改前后对比说明，第 %d 段。" % i * 5)
        buf = io.BytesIO()
        d.save(buf)
        word = buf.getvalue()
        print(f"photo 12 MP ({len(jpeg) / 1e6:.1f} MB) -> EXIF stripped + thumbnail + stored: "
              f"{timed(lambda: service.prepare([Upload('p.jpg', io.BytesIO(jpeg))])):.0f} ms")
        print(f"PDF 20 MB -> checked + sha256 + stored: "
              f"{timed(lambda: service.prepare([Upload('a.pdf', io.BytesIO(pdf))])):.0f} ms")
        print(f".docx ({len(word) / 1e3:.0f} KB) -> checked + stored: "
              f"{timed(lambda: service.prepare([Upload('a.docx', io.BytesIO(word))])):.1f} ms")
    when = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)
    url = "https://bihuan.example.gov.cn/cases/HD-20261102-0001"
    rows = [("工单编号", "HD-20261102-0001")] + [(f"字段{i}", "内容" * 10) for i in range(15)]
    order = Document("work_order", "社会治理诉求工单", "黄岛街道社会治理联动指挥中心", "编号：HD-20261102-0001", None,
                     [Block("table", rows=rows)], "黄岛街道社会治理联动指挥中心", when, "HD-20261102-0001", url,
                     qr_png(url))
    notice = Document("supervision_notice", "督办通知单", "黄岛街道社会治理中心", "黄街治督〔2026〕12号", "城管执法中队：",
                      [Block("h1", "一、督办事项"), Block("p", "正文" * 200)], "黄岛街道社会治理中心", when,
                      "HD-20261102-0001")
    print(f"QR code PNG: {timed(lambda: qr_png(url)):.1f} ms")
    print(f"工单 .docx with QR: {timed(lambda: render_docx(order)):.1f} ms ({len(render_docx(order)) / 1e3:.0f} KB)")
    print(f"督办通知单 .docx: {timed(lambda: render_docx(notice)):.1f} ms ({len(render_docx(notice)) / 1e3:.0f} KB)")


if __name__ == "__main__":
    main()
