"""Generate the bad-input corpus: every file is made by code here, none is committed.

``python -m tests.badinput OUT_DIR [--big]`` writes one file (or folder) per kind into OUT_DIR
and prints the kinds. ``KINDS`` says, per kind, what the ingest pipeline must do with it: the
failure kind it reports (``ingest/errors.py``), ``"indexed"`` (handled: ingested correctly) or
``"skipped"`` (not picked up from a folder, no error). ``tests/test_bad_inputs.py`` and
``bench/reliability.py badinput`` ingest the result with the real pipeline.

``--big`` makes the bombs full size (a 4 GB Flate stream, a 5 GB DOCX member, a 50 MB Markdown
line, 3,000 pages); without it they are smaller but still above the limits the test sets.
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

PARAGRAPHS = [
    "The regional innovation strategy for smart specialisation sets priorities for research "
    "and innovation investment in advanced manufacturing, marine technologies and health.",
    "The entrepreneurial discovery process brought together firms, universities and public "
    "bodies in focus groups to identify niches where the region has a competitive edge.",
    "Monitoring relies on output and result indicators agreed with stakeholders and reviewed "
    "every year by the steering group of the managing authority.",
]
SCRIPT_MARKER = "EVIL_SCRIPT_MARKER"


@dataclass(frozen=True)
class Kind:
    """One kind of bad input: the file name(s) it writes and the outcome expected per file."""

    name: str
    expect: dict[str, str]  # relative file name -> failure kind | "indexed" | "skipped"
    make: Callable[[Path, bool], None]
    note: str


# -- small PDF builders (pypdf only) ---------------------------------------------------------
def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(pages: list[str]) -> PdfWriter:
    """A PDF with a real text layer (Helvetica, one text object per page)."""
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    for text in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        words, lines, line = text.split(), [], ""
        for word in words:
            if len(line) + len(word) > 85:
                lines.append(line)
                line = ""
            line = f"{line} {word}".strip()
        lines.append(line)
        ops = ["BT /F1 11 Tf 14 TL 50 740 Td"]
        ops += [f"({_pdf_escape(t)}) Tj T*" for t in lines]
        ops.append("ET")
        stream = DecodedStreamObject()
        stream.set_data("\n".join(ops).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    return writer


def _pdf_bytes(writer: PdfWriter) -> bytes:
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def good_pdf_bytes(title: str = "Smart specialisation note") -> bytes:
    return _pdf_bytes(text_pdf([f"{title}. {p}" for p in PARAGRAPHS]))


# -- makers -------------------------------------------------------------------------------------
def _corrupt_pdf(out: Path, big: bool) -> None:
    rnd = bytes((i * 7919) % 251 for i in range(20_000))
    (out / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + rnd)


def _truncated_pdf(out: Path, big: bool) -> None:
    data = good_pdf_bytes()
    (out / "truncated.pdf").write_bytes(data[: len(data) // 3])


def _encrypted(out: Path, big: bool) -> None:
    for name, user in (("encrypted_user_password.pdf", "secret"), ("encrypted_empty.pdf", "")):
        writer = text_pdf([f"Encrypted note. {p}" for p in PARAGRAPHS])
        writer.encrypt(user_password=user, owner_password="owner-pw", algorithm="RC4-128")
        (out / name).write_bytes(_pdf_bytes(writer))


def _zero_byte(out: Path, big: bool) -> None:
    (out / "zero.pdf").write_bytes(b"")
    (out / "zero.md").write_bytes(b"")


def _image_only(out: Path, big: bool) -> None:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (800, 1000), "white")
    draw = ImageDraw.Draw(image)
    for y in range(50, 950, 40):
        draw.text((50, y), "Scanned page: regional innovation priorities", fill="black")
    image.save(out / "scanned.pdf", "PDF", resolution=100)


def _many_pages(out: Path, big: bool) -> None:
    """3,000 pages sharing one tiny content stream (a small file with a huge page count)."""
    writer = text_pdf(["Page of a very long annex on regional indicators."])
    first = writer.pages[0]
    for _ in range(2999):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = first["/Resources"]
        page[NameObject("/Contents")] = first.raw_get("/Contents")
    (out / "many_pages.pdf").write_bytes(_pdf_bytes(writer))


def _javascript(out: Path, big: bool) -> None:
    writer = text_pdf([f"Action note. {p}" for p in PARAGRAPHS])
    js = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject(f"app.alert('{SCRIPT_MARKER}');"),
        }
    )
    launch = DictionaryObject(
        {
            NameObject("/S"): NameObject("/Launch"),
            NameObject("/F"): TextStringObject("/bin/sh"),
        }
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(js)
    writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): launch})
    doc_js = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject(f"this.print({{bUI:true}}); // {SCRIPT_MARKER}"),
        }
    )
    names = ArrayObject([TextStringObject("init"), writer._add_object(doc_js)])
    writer._root_object[NameObject("/Names")] = DictionaryObject(
        {NameObject("/JavaScript"): DictionaryObject({NameObject("/Names"): names})}
    )
    (out / "javascript_launch.pdf").write_bytes(_pdf_bytes(writer))


def _deflate(size: int, unit: bytes) -> bytes:
    comp = zlib.compressobj(9)
    block = unit * (1_048_576 // len(unit))
    parts = [comp.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + comp.flush()


def _flate_bomb(out: Path, big: bool) -> None:
    """A page whose FlateDecode content stream inflates to 4 GB (256 MB without --big)."""
    writer = text_pdf([f"Bomb note. {PARAGRAPHS[0]}"])
    stream = StreamObject()
    stream._data = _deflate((4096 if big else 256) << 20, b"0 0 m ")
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    stream[NameObject("/Length")] = NumberObject(len(stream._data))
    page = writer.pages[0]
    page[NameObject("/Contents")] = ArrayObject(
        [page.raw_get("/Contents"), writer._add_object(stream)]
    )
    (out / "flate_bomb.pdf").write_bytes(_pdf_bytes(writer))


def _png_named_pdf(out: Path, big: bool) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buf, "PNG")
    (out / "image.pdf").write_bytes(buf.getvalue())


def _docx_zip_bomb(out: Path, big: bool) -> None:
    """A .docx whose document.xml inflates to 5 GB (512 MB without --big)."""
    size = (5 * 1024 if big else 512) << 20
    with zipfile.ZipFile(out / "zip_bomb.docx", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            block = b"<w:p>" + b" " * (1_048_576 - 5)
            for _ in range(size // len(block)):
                fh.write(block)


def _docx_encrypted(out: Path, big: bool) -> None:
    """Office encrypts a password-protected DOCX into an OLE2 compound file (not a ZIP)."""
    header = bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 16 + struct.pack("<HH", 0x3E, 3)
    (out / "password.docx").write_bytes(header + b"\x00" * 4096)


def _corrupt_docx(out: Path, big: bool) -> None:
    with zipfile.ZipFile(out / "not_word.docx", "w") as zf:
        zf.writestr("hello.txt", "a zip, but no word/document.xml inside")


def _html_scripts(out: Path, big: bool) -> None:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    html = (
        f"<html><head><title>Scripted page</title><script>var a='{SCRIPT_MARKER}';</script>"
        f"<style>p {{ color: red }} /* {SCRIPT_MARKER} */</style></head><body>"
        f"<iframe src='https://evil.example/{SCRIPT_MARKER}'>{SCRIPT_MARKER}</iframe>"
        f"<h1>Innovation page</h1>{body}"
        f'<a href="javascript:alert(\'{SCRIPT_MARKER}\')" onclick="x()">link</a>'
        f"<object data='x.swf'>{SCRIPT_MARKER}</object><embed src='{SCRIPT_MARKER}.swf'>"
        f"<template><p>{SCRIPT_MARKER}</p></template>"
        f"<noscript>{SCRIPT_MARKER}</noscript><script type='module'>{SCRIPT_MARKER}()</script>"
        f"<svg><script>{SCRIPT_MARKER}</script></svg></body></html>"
    )
    (out / "scripts.html").write_text(html, encoding="utf-8")
    only = f"<html><body><script>{SCRIPT_MARKER}</script><iframe></iframe></body></html>"
    (out / "only_scripts.html").write_text(only, encoding="utf-8")


def _html_nested(out: Path, big: bool) -> None:
    depth = 100_000
    html = "<html><body>" + "<div>" * depth + " ".join(PARAGRAPHS) + "</div>" * depth
    (out / "deep_nesting.html").write_text(html + "</body></html>", encoding="utf-8")


def _long_line(out: Path, big: bool) -> None:
    """A Markdown file that is one 50 MB line (12 MB without --big)."""
    line = ("innovation " * 100_000).encode()
    with (out / "long_line.md").open("wb") as fh:
        fh.write(b"# Long line\n\n")
        for _ in range(50 if big else 12):
            fh.write(line[:1_000_000])


def _encodings(out: Path, big: bool) -> None:
    western = (
        "Région Provence-Alpes-Côte d'Azur: naïve café strategy for Zürich and Málaga, "
        "costing 5 € per résident. " + PARAGRAPHS[0]
    )
    (out / "cp1252.txt").write_bytes(western.encode("cp1252"))
    (out / "latin1.md").write_bytes(
        ("# Stratégie\n\n" + western.replace("€", "EUR")).encode("latin-1")
    )
    mixed = (
        (
            "# Mixed encodings\n\n"
            + "Smart specialisation in Île-de-France. "
            + PARAGRAPHS[1]
            + "\n"
        ).encode("utf-8")
        + ("Coopération à Málaga et Zürich. " + PARAGRAPHS[2] + "\n").encode("cp1252")
        + ("Résumé of the München workshop, 10 € fee.\n").encode()
    )
    (out / "mixed_encoding.txt").write_bytes(mixed)
    (out / "utf16.txt").write_bytes(("Stratégie régionale. " + PARAGRAPHS[0]).encode("utf-16"))


def _binary_as_text(out: Path, big: bool) -> None:
    data = bytes((i * 131 + 7) % 256 for i in range(8192))
    (out / "binary.txt").write_bytes(data)


def _duplicates(out: Path, big: bool) -> None:
    text = "# Duplicate note\n\n" + "\n\n".join(PARAGRAPHS)
    (out / "dup_original.md").write_text(text, encoding="utf-8")
    (out / "dup_copy.md").write_text(text, encoding="utf-8")


ODD_NAMES = {
    "nfc": "caf\u00e9 strat\u00e9gie.md",
    "nfd": "cafe\u0301 strate\u0301gie.md",
    "rtl": "report\u202egnp.md",
    "emoji": "\U0001f680 plan \U0001f1ea\U0001f1fa.md",
    "newline": "line\nbreak.md",
    "traversal": "docs\\..\\..\\etc\\passwd.md",
    "dotdot": "..\\..\\etc\\passwd.md",
    "dots": "...md",
    "dash": "-rf --no-preserve-root.md",
    "long": "x" * 240 + ".md",
}


def _odd_names(out: Path, big: bool) -> None:
    folder = out / "odd_names"
    folder.mkdir()
    for key, name in ODD_NAMES.items():
        text = f"# Odd name {key}\n\n" + f" Odd name {key}. ".join(PARAGRAPHS)
        (folder / name).write_text(text, encoding="utf-8")
    bad = os.fsencode(folder) + b"/latin1-\xe9t\xe9.md"  # not valid UTF-8: surrogates in str
    with open(bad, "wb") as fh:
        fh.write(("# Invalid name bytes\n\n" + "\n\n".join(PARAGRAPHS)).encode())


def _symlinks(out: Path, big: bool) -> None:
    folder = out / "symlinks"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "real.md").write_text(
        "# Linked note\n\n" + "\n\n".join(PARAGRAPHS), encoding="utf-8"
    )
    os.symlink("..", folder / "sub" / "loop_dir")
    os.symlink("loop_b.md", folder / "loop_a.md")
    os.symlink("loop_a.md", folder / "loop_b.md")
    os.symlink("missing.md", folder / "dangling.md")


def _vanishing(out: Path, big: bool) -> None:
    (out / "vanishing.md").write_text(
        "# Vanishing note\n\n" + "\n\n".join(PARAGRAPHS), encoding="utf-8"
    )


def _unsupported(out: Path, big: bool) -> None:
    (out / "program.exe").write_bytes(b"MZ" + b"\x00" * 100)


def _page_tree_loop(out: Path, big: bool) -> None:
    """A page tree whose /Kids points back at itself."""
    writer = text_pdf([f"Loop note. {PARAGRAPHS[0]}"])
    pages = writer._root_object["/Pages"].get_object()
    assert isinstance(pages, DictionaryObject)
    pages_ref = writer._root_object.raw_get("/Pages")
    kids = pages["/Kids"].get_object()
    assert isinstance(kids, ArrayObject)
    kids.append(pages_ref)
    pages[NameObject("/Count")] = NumberObject(2)
    (out / "page_tree_loop.pdf").write_bytes(_pdf_bytes(writer))


def _good(out: Path, big: bool) -> None:
    (out / "good.pdf").write_bytes(good_pdf_bytes("Good control document"))
    (out / "good.md").write_text("# Good note\n\n" + "\n\n".join(PARAGRAPHS), encoding="utf-8")


def _odd(name: str) -> str:
    return f"odd_names/{name}"


KINDS: list[Kind] = [
    Kind("good", {"good.pdf": "indexed", "good.md": "indexed"}, _good, "controls"),
    Kind("corrupt_pdf", {"corrupt.pdf": "corrupt"}, _corrupt_pdf, "%PDF- header, then noise"),
    Kind("truncated_pdf", {"truncated.pdf": "corrupt"}, _truncated_pdf, "first third of a PDF"),
    Kind(
        "encrypted_pdf",
        {"encrypted_user_password.pdf": "encrypted", "encrypted_empty.pdf": "indexed"},
        _encrypted,
        "RC4 with a user password / with an empty user password",
    ),
    Kind("zero_byte", {"zero.pdf": "empty", "zero.md": "empty"}, _zero_byte, "0 bytes"),
    Kind("image_only_pdf", {"scanned.pdf": "needs_ocr"}, _image_only, "scan, no text layer"),
    Kind("many_pages_pdf", {"many_pages.pdf": "too_large"}, _many_pages, "3,000 pages"),
    Kind(
        "javascript_pdf",
        {"javascript_launch.pdf": "indexed"},
        _javascript,
        "OpenAction JavaScript, Launch action, document JS: text kept, scripts never run",
    ),
    Kind("flate_bomb_pdf", {"flate_bomb.pdf": "too_large"}, _flate_bomb, "256 MB/4 GB stream"),
    Kind("png_named_pdf", {"image.pdf": "corrupt"}, _png_named_pdf, "wrong extension"),
    Kind("docx_zip_bomb", {"zip_bomb.docx": "too_large"}, _docx_zip_bomb, "512 MB/5 GB XML"),
    Kind("docx_encrypted", {"password.docx": "encrypted"}, _docx_encrypted, "OLE2 container"),
    Kind("docx_not_word", {"not_word.docx": "corrupt"}, _corrupt_docx, "ZIP without Word part"),
    Kind(
        "html_scripts",
        {"scripts.html": "indexed", "only_scripts.html": "empty"},
        _html_scripts,
        "script/style/iframe/object/template/noscript/svg dropped",
    ),
    Kind("html_deep_nesting", {"deep_nesting.html": "corrupt"}, _html_nested, "100k <div>s"),
    Kind("markdown_long_line", {"long_line.md": "too_large"}, _long_line, "12 MB/50 MB line"),
    Kind(
        "non_utf8_text",
        {"cp1252.txt": "indexed", "latin1.md": "indexed", "utf16.txt": "indexed"},
        _encodings,
        "cp1252, latin-1, UTF-16 with BOM",
    ),
    Kind("mixed_encodings", {"mixed_encoding.txt": "indexed"}, _encodings, "UTF-8 + cp1252"),
    Kind("binary_as_text", {"binary.txt": "empty"}, _binary_as_text, "binary named .txt"),
    Kind(
        "duplicates",
        {"dup_copy.md": "indexed", "dup_original.md": "duplicate"},
        _duplicates,
        "same bytes, two names: the first in sorted order is indexed",
    ),
    Kind(
        "odd_names",
        {
            **{_odd(n): "indexed" for n in ODD_NAMES.values() if not n.startswith(".")},
            **{_odd(n): "skipped" for n in ODD_NAMES.values() if n.startswith(".")},
            _odd("latin1-\udce9t\udce9.md"): "bad_name",
        },
        _odd_names,
        "NFC/NFD twins, RTL override, emoji, newline, backslash traversal, dot names "
        "(hidden: skipped), non-UTF-8 bytes",
    ),
    Kind(
        "symlink_loops",
        {
            "symlinks/sub/real.md": "indexed",
            "symlinks/loop_a.md": "bad_link",
            "symlinks/loop_b.md": "bad_link",
            "symlinks/dangling.md": "bad_link",
        },
        _symlinks,
        "directory loop (not followed), file symlink loop, dangling link",
    ),
    Kind("vanishing_file", {"vanishing.md": "missing"}, _vanishing, "deleted after discovery"),
    Kind("unsupported", {"program.exe": "skipped"}, _unsupported, "not picked up from folders"),
    Kind("pdf_page_tree_loop", {"page_tree_loop.pdf": "corrupt"}, _page_tree_loop, "/Kids loop"),
]


def generate(out: Path, big: bool = False) -> dict[str, str]:
    """Write every kind into ``out``; returns relative file name -> expected outcome."""
    out.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}
    made: set[Callable[[Path, bool], None]] = set()
    for kind in KINDS:
        if kind.make not in made:
            kind.make(out, big)
            made.add(kind.make)
        expected.update(kind.expect)
    return expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--big", action="store_true", help="full-size bombs (GBs inflated)")
    args = parser.parse_args()
    expected = generate(args.out, args.big)
    for kind in KINDS:
        print(f"{kind.name:22} {', '.join(f'{f}: {e}' for f, e in kind.expect.items())}")
    print(f"{len(KINDS)} kinds, {len(expected)} files in {args.out}")


if __name__ == "__main__":
    main()
