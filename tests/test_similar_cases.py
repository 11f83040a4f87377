"""Hand-built pairs for the similar-image cache, one rule each: what a near-copy may differ by
(a frame over a crop, a status bar, resizing) and what it may not (one changed glyph, wherever it is).

Each pair is drawn here rather than generated, so the test shows the case it guards; the sets in
``tests/test_similar.py`` measure the rates.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from pipeline.similar import fingerprint, same_picture
from pipeline.testing.near_copies import encode


def _card(time: str) -> Image.Image:
    """A plain listing whose only difference between two renders can be one glyph of its time."""
    image = Image.new("RGB", (500, 500), (250, 250, 250))
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(16)
    lines = ["Tuesday Night Karaoke", "The Rusty Anchor Tavern", f"KARAOKE {time}", "Hosted by DJ Marla"]
    for row, text in enumerate(lines * 4):
        draw.text((30, 20 + row * 26), text, font=font, fill=(30, 30, 30))
    return image


def test_one_changed_glyph_in_an_identical_render_never_confirms() -> None:
    """8pm -> 9pm changes a few pixels of one glyph: its block alone scores under the block limit
    (0.45 here), which served another show's time before the lone-block rule; a re-compressed,
    resized copy of the same card still confirms."""
    first = fingerprint(encode(_card("8pm")))
    other = fingerprint(encode(_card("9pm")))
    copy = fingerprint(encode(_card("8pm").resize((400, 400), Image.Resampling.LANCZOS), "jpeg", 60))
    assert first is not None and other is not None and copy is not None
    assert not same_picture(other, first) and not same_picture(first, other)
    assert same_picture(copy, first)


def _listing(time: str) -> Image.Image:
    """A wide, short listing (a venue pane): a status bar's 16 px are a large share of its height."""
    image = Image.new("RGB", (1000, 280), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.text((40, 40), "Kelley's Pub", font=ImageFont.load_default(36), fill=(30, 60, 150))
    lines = ["88 S State St, Westerville", "Karaoke Nights", f"Mondays {time}-2AM with KJ Rob"]
    for row, text in enumerate(lines):
        draw.text((40, 100 + row * 50), text, font=ImageFont.load_default(22), fill=(30, 30, 30))
    return image


def _phone_copy(image: Image.Image, bar: int = 16) -> Image.Image:
    """``image`` cropped (5% left, 4% top) under a black status bar with a clock and a battery."""
    w, h = image.size
    cropped = image.crop((round(w * 0.05), round(h * 0.04), w, h))
    out = Image.new("RGB", (cropped.width, cropped.height + bar), (0, 0, 0))
    draw = ImageDraw.Draw(out)
    draw.text((8, bar // 2), "10:15", font=ImageFont.load_default(10), fill=(230, 230, 230), anchor="lm")
    draw.rectangle((cropped.width - 24, 4, cropped.width - 8, bar - 4), outline=(230, 230, 230), width=2)
    out.paste(cropped, (0, bar))
    return out


def test_a_status_bar_over_a_crop_confirms_and_still_sees_the_changed_time() -> None:
    """The bar lies where the crop took the original's top rows off: its strip differs throughout
    and is left out, although the rows the crop left outside the overlap came first (they used up
    the frame's reach before). Another time under the same bar still never confirms."""
    first = fingerprint(encode(_listing("9PM")))
    copy = fingerprint(encode(_phone_copy(_listing("9PM"))))
    other = fingerprint(encode(_phone_copy(_listing("8PM"))))
    assert first is not None and copy is not None and other is not None
    assert same_picture(copy, first) and same_picture(first, copy)
    assert not same_picture(other, first) and not same_picture(first, other)


def test_one_changed_glyph_in_a_resized_look_alike_never_confirms() -> None:
    """Another time's listing, resized to 90% and saved as JPEG: its noise hides the changed digit
    from the lone-block rule (worst block 0.41, under the limit), but nothing beyond the digit's
    own blocks comes near it, as noise would. The same listing's copy, made alike, confirms."""

    def travelled(time: str) -> bytes:
        image = _listing(time)
        return encode(image.resize((900, 252), Image.Resampling.LANCZOS), "jpeg", 75)

    first = fingerprint(encode(_listing("9PM")))
    other, copy = fingerprint(travelled("8PM")), fingerprint(travelled("9PM"))
    assert first is not None and other is not None and copy is not None
    assert not same_picture(other, first) and same_picture(copy, first)


def _post(time: str) -> Image.Image:
    """A social post: lines of text starting 20 px from the left, one of them with a time first."""
    image = Image.new("RGB", (600, 420), (255, 255, 255))
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(26)
    lines = [
        "Grab your friends and sing!",
        "Wednesday - Brewster's Taphouse -",
        f"{time} till 1am - KJ Tina",
        "THURSDAY KARAOKE 8PM till 1AM",
        "Rob @ The Crescent Lounge",
        "Likes 8    10 comments",
    ]
    for row, text in enumerate(lines):
        draw.text((20, 30 + row * 60), text, font=font, fill=(20, 20, 20))
    return image


def _framed(
    image: Image.Image, left: int, pad: int = 14, colour: tuple[int, int, int] = (0, 0, 0)
) -> Image.Image:
    """``image`` with ``left`` px cropped off its left side, inside a plain border."""
    cropped = image.crop((left, 0, image.width, image.height))
    out = Image.new("RGB", (cropped.width + 2 * pad, cropped.height + 2 * pad), colour)
    out.paste(cropped, (pad, pad))
    return out


def test_a_changed_time_beside_a_border_over_a_crop_never_confirms() -> None:
    """The crop took the margin, so the time starts at the border's inner edge. That strip used to
    be left out whole as the frame's last line (and another flyer's 8pm served for 9pm, once both
    travelled); a border with a sharp inner edge now ends the picture as the image's edge does,
    and the changed digit beside it is compared. The same post framed alike still confirms."""
    first = fingerprint(encode(_post("9pm")))
    copy = fingerprint(encode(_framed(_post("9pm"), 18), "jpeg", 51))
    other = fingerprint(encode(_framed(_post("8pm"), 18), "jpeg", 51))
    assert first is not None and copy is not None and other is not None
    assert same_picture(copy, first) and same_picture(first, copy)
    assert not same_picture(other, first) and not same_picture(first, other)


def _flyer(time: str) -> Image.Image:
    """A flyer on a smooth gradient (every block flat) whose time line spans nearly its whole width."""
    image = Image.new("RGB", (400, 560))
    for y in range(image.height):
        ImageDraw.Draw(image).line((0, y, image.width, y), fill=(40 + y // 8, 150, 60))
    draw = ImageDraw.Draw(image)
    draw.text((200, 60), "SING!", font=ImageFont.load_default(60), fill=(255, 255, 255), anchor="mm")
    draw.text((200, 130), "EVERY SUNDAY", font=ImageFont.load_default(34), fill=(255, 255, 255), anchor="mm")
    draw.text((8, 160), f"{time}PM-12:30AM", font=ImageFont.load_default(44), fill=(255, 255, 255))
    draw.text(
        (200, 520), "972 S Elm St, Toledo", font=ImageFont.load_default(16), fill=(255, 255, 255), anchor="mm"
    )
    return image


def test_a_changed_digit_at_the_edge_of_a_plain_picture_never_confirms() -> None:
    """Every block of a smooth background is flat, so the columns along the left edge are 'plain
    in both': a margin, once dropped whole with the changed first digit in it. A strip with a
    changed glyph that both pictures show as text is never dropped."""
    first, other = fingerprint(encode(_flyer("8:30"))), fingerprint(encode(_flyer("9:30")))
    copy = fingerprint(encode(_flyer("8:30").resize((360, 504), Image.Resampling.LANCZOS), "jpeg", 70))
    assert first is not None and other is not None and copy is not None
    assert not same_picture(other, first) and not same_picture(first, other)
    assert same_picture(copy, first)


def _tall_page() -> Image.Image:
    """A phone page 12 screens tall: a list of venues, one row after another."""
    image = Image.new("RGB", (390, 8000), (250, 250, 250))
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(18)
    for row in range(8000 // 64):
        draw.text(
            (16, 12 + row * 64),
            f"Venue number {row} - karaoke at {row % 12 + 1}pm",
            font=font,
            fill=(20, 20, 20),
        )
        draw.line((16, 56 + row * 64, 374, 56 + row * 64), fill=(200, 200, 200))
    return image


def test_a_resized_and_framed_tall_page_confirms() -> None:
    """On a page 20 times taller than wide, the coarse scale search's 1% steps move the far end by
    dozens of pixels and no step lines up; a finer search around the best step does."""
    page = _tall_page()
    resized = page.resize((round(page.width * 1.7), round(page.height * 1.7)), Image.Resampling.LANCZOS)
    copy = fingerprint(encode(_framed(resized, 0, pad=12), "jpeg", 90))
    first = fingerprint(encode(page))
    assert first is not None and copy is not None
    assert same_picture(copy, first)


def _light_page() -> Image.Image:
    """Lines of text on white, the first one near the top."""
    image = Image.new("RGB", (700, 500), (255, 255, 255))
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(22)
    for row in range(9):
        draw.text(
            (30, 8 + row * 52),
            f"Line {row}: karaoke every Friday at {row + 1}pm",
            font=font,
            fill=(20, 20, 20),
        )
    return image


def test_a_tall_dark_status_bar_over_a_crop_confirms() -> None:
    """The bar is three blocks tall; its first strip is plain in both pictures but unlike (dark over
    light), which is frame, not a margin that stops the frame."""
    page = _light_page()
    cropped = page.crop((0, 20, page.width, page.height))
    out = Image.new("RGB", (cropped.width, cropped.height + 30), (0, 0, 0))
    ImageDraw.Draw(out).text(
        (12, 15), "10:15", font=ImageFont.load_default(14), fill=(230, 230, 230), anchor="lm"
    )
    out.paste(cropped, (0, 30))
    first, copy = fingerprint(encode(page)), fingerprint(encode(out, "jpeg", 80))
    assert first is not None and copy is not None
    assert same_picture(copy, first) and same_picture(first, copy)


def _grid(time: str) -> Image.Image:
    """A dark week grid where one show's time stands in two cells (Saturday and Sunday)."""
    image = Image.new("RGB", (1400, 340), (255, 255, 255))
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(22)
    draw.rectangle((36, 36, 1370, 310), fill=(27, 28, 31))
    draw.rectangle((60, 60, 1346, 116), fill=(238, 190, 40))
    for x, head in zip((74, 344, 637, 793, 1077), ("Venue", "Mon", "Wed", "Sat", "Sun"), strict=True):
        draw.text((x, 76), head, font=font, fill=(20, 20, 20))
    rows = [
        ("Lucky Shamrock", 344, "8:30PM to 12:30AM"),
        ("Pint House", 637, "6pm-9pm"),
        ("Blue Moon Saloon", 793, f"{time} till 1:30AM"),
    ]
    for row, (venue, x, hours) in enumerate(rows):
        y = 134 + row * 57
        draw.text((74, y), venue, font=font, fill=(240, 240, 240))
        draw.text((x, y), hours, font=font, fill=(240, 240, 240))
    draw.text((1077, 248), f"{time} till 1:30AM", font=font, fill=(240, 240, 240))
    return image


def test_one_time_changed_in_two_cells_of_a_framed_grid_never_confirms() -> None:
    """8:30PM -> 9:30PM in two cells, then given a border: each changed digit scores under the block
    limit (0.49 and 0.48 on the generated grid this is drawn after), and with two of them the worst
    block has a peer far from it, as noise would. A change may take two sites, noise takes more."""

    def framed(time: str) -> bytes:
        image = _grid(time).resize((1330, 323), Image.Resampling.LANCZOS)
        out = Image.new("RGB", (1400, 393), (255, 255, 255))
        out.paste(image, (35, 35))
        return encode(out)

    first = fingerprint(encode(_grid("9:30PM")))
    other, copy = fingerprint(framed("8:30PM")), fingerprint(framed("9:30PM"))
    assert first is not None and other is not None and copy is not None
    assert same_picture(copy, first)
    assert not same_picture(other, first) and not same_picture(first, other)
