"""What a file really is, read from its bytes (never its name), and images made safe to share.

Accepted: JPEG, PNG, GIF and WebP images; PDF; Word and Excel documents, either OOXML (a zip
holding the right main part, .docx/.xlsx) or the old OLE compound files (.doc/.xls). Macro-enabled
documents are refused: they are how office files carry code. Images are re-encoded by Pillow, which
drops EXIF (GPS position, camera serial) unless the uploader's role keeps it, and get a thumbnail.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from flask_babel import gettext as _

from ..errors import Invalid

IMAGE_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "GIF": ("image/gif", "gif"),
                 "WEBP": ("image/webp", "webp")}
DOCX = ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx")
XLSX = ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")
OOXML_MAIN = {"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX}
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_PIXELS = 50_000_000   # a 50-megapixel photo is more than any phone takes; beyond is a pixel bomb
MAX_ZIP_PARTS = 5000
THUMB_SIZE = (320, 320)


@dataclass(frozen=True)
class Sniffed:
    kind: str   # image / pdf / docx / xlsx / doc / xls
    mime: str
    ext: str


class UnsupportedType(Invalid):
    http_status = 415


def refuse(filename: str, why: str) -> UnsupportedType:
    message = _("文件“%(name)s”不被接受：%(why)s", name=filename, why=why)
    return UnsupportedType(message, fields=[("attachments", message)])


def sniff(data: bytes, filename: str) -> Sniffed:
    """The file's type from its first bytes and, for containers, its structure."""
    if data[:3] == b"\xff\xd8\xff":
        return Sniffed("image", "image/jpeg", "jpg")
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return Sniffed("image", "image/png", "png")
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("image", "image/gif", "gif")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Sniffed("image", "image/webp", "webp")
    if data[:5] == b"%PDF-":
        return Sniffed("pdf", "application/pdf", "pdf")
    if data[:4] == b"PK\x03\x04":
        return _ooxml(data, filename)
    if data[:8] == OLE_MAGIC:
        return _ole(data, filename)
    raise refuse(filename, _("只接受图片（JPG、PNG、GIF、WebP）、PDF 和 Word/Excel 文档，按文件内容判断，不看扩展名"))


def _ooxml(data: bytes, filename: str) -> Sniffed:
    from lxml import etree
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            if len(infos) > MAX_ZIP_PARTS:
                raise refuse(filename, _("压缩包内文件过多"))
            names = {i.filename: i for i in infos}
            types = names.get("[Content_Types].xml")
            if types is None or types.file_size > 1_000_000:
                raise refuse(filename, _("不是 Word 或 Excel 文档"))
            root = etree.fromstring(z.read(types), etree.XMLParser(resolve_entities=False, no_network=True))
    except (zipfile.BadZipFile, etree.XMLSyntaxError, KeyError, ValueError, EOFError):
        raise refuse(filename, _("文档已损坏")) from None
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise refuse(filename, _("含有宏的文档不被接受"))
    overrides = {el.get("ContentType") for el in root if el.tag.endswith("Override")}
    for content_type, sniffed in OOXML_MAIN.items():
        if content_type in overrides:
            return Sniffed(*sniffed)
    raise refuse(filename, _("不是 Word 或 Excel 文档"))


def _ole(data: bytes, filename: str) -> Sniffed:
    import olefile
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            streams = {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=True)}
    except Exception:  # noqa: BLE001 - olefile raises several kinds on a damaged file; all mean "refuse"
        raise refuse(filename, _("文档已损坏")) from None
    if any(s.startswith(("macros", "_vba_project")) for s in streams):
        raise refuse(filename, _("含有宏的文档不被接受"))
    if "worddocument" in streams:
        return Sniffed("doc", "application/msword", "doc")
    if "workbook" in streams or "book" in streams:
        return Sniffed("xls", "application/vnd.ms-excel", "xls")
    raise refuse(filename, _("不是 Word 或 Excel 文档"))


@dataclass(frozen=True)
class Image:
    data: bytes
    thumbnail: bytes
    exif_kept: bool


def process_image(data: bytes, sniffed: Sniffed, filename: str, keep_exif: bool) -> Image:
    """Decode the whole image (a file that only looks like one is refused), then re-encode it
    without its metadata unless ``keep_exif``, and make a JPEG thumbnail."""
    from PIL import Image as PILImage, ImageOps, UnidentifiedImageError
    try:
        with PILImage.open(io.BytesIO(data)) as img:
            if IMAGE_FORMATS.get(img.format, (None,))[0] != sniffed.mime:
                raise refuse(filename, _("图片内容与格式不符"))
            if img.width * img.height > MAX_PIXELS:
                raise refuse(filename, _("图片像素过多"))
            img.load()
            # Turned upright first: the orientation lives in the EXIF that is about to go.
            upright = ImageOps.exif_transpose(img)
            # An animated GIF is saved frame by frame from the original (GIF carries no EXIF anyway).
            clean = data if keep_exif else _reencode(img if img.format == "GIF" else upright, img.format)
            thumb = upright.copy()
            thumb.thumbnail(THUMB_SIZE)
            out = io.BytesIO()
            thumb.convert("RGB").save(out, "JPEG", quality=80)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, PILImage.DecompressionBombError):
        raise refuse(filename, _("图片已损坏或无法读取")) from None
    return Image(clean, out.getvalue(), keep_exif)


def _reencode(img, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        rgb = img if img.mode in ("RGB", "L", "CMYK") else img.convert("RGB")
        rgb.save(out, "JPEG", quality=90)   # no exif= argument: none is written
    elif fmt == "GIF":
        img.save(out, "GIF", save_all=getattr(img, "is_animated", False))
    else:
        img.save(out, fmt)  # PNG and WebP: Pillow writes no EXIF or text chunks unless given them
    return out.getvalue()
