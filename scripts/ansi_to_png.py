#!/usr/bin/env python3
"""Renders a `tmux capture-pane -e` dump (text with ANSI SGR colours) to a PNG, as a terminal would.

Usage: ansi_to_png.py CAPTURE.txt OUT.png
Needs Pillow (pip install pillow) and the DejaVu Sans Mono font (Debian: fonts-dejavu-core).
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
SIZE = 15
BACKGROUND = (24, 26, 33)
FOREGROUND = (220, 223, 228)
PALETTE = [
    (40, 42, 54), (231, 76, 60), (80, 200, 120), (241, 196, 15),
    (82, 139, 255), (198, 120, 221), (86, 204, 242), (220, 223, 228),
    (110, 115, 130), (255, 110, 100), (120, 230, 150), (255, 220, 80),
    (120, 170, 255), (220, 150, 240), (130, 225, 255), (255, 255, 255),
]
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def xterm256(n):
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        levels = [0, 95, 135, 175, 215, 255]
        return (levels[n // 36], levels[(n // 6) % 6], levels[n % 6])
    gray = 8 + (n - 232) * 10
    return (gray, gray, gray)


def parse(line, state):
    """Yields (character, (fg, bg, bold, reverse, dim)) for one captured line."""
    position = 0
    for match in SGR.finditer(line):
        for character in line[position:match.start()]:
            yield character, tuple(state.values())
        codes = [int(c) if c else 0 for c in match.group(1).split(";")] or [0]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code == 0:
                state.update(fg=None, bg=None, bold=False, reverse=False, dim=False)
            elif code == 1:
                state["bold"] = True
            elif code == 2:
                state["dim"] = True
            elif code == 7:
                state["reverse"] = True
            elif code == 22:
                state.update(bold=False, dim=False)
            elif code == 27:
                state["reverse"] = False
            elif 30 <= code <= 37:
                state["fg"] = PALETTE[code - 30]
            elif 90 <= code <= 97:
                state["fg"] = PALETTE[code - 90 + 8]
            elif code == 39:
                state["fg"] = None
            elif 40 <= code <= 47:
                state["bg"] = PALETTE[code - 40]
            elif code == 49:
                state["bg"] = None
            elif code in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
                state["fg" if code == 38 else "bg"] = xterm256(codes[i + 2])
                i += 2
            i += 1
        position = match.end()
    for character in line[position:]:
        yield character, tuple(state.values())


def main():
    source, target = sys.argv[1], sys.argv[2]
    lines = open(source, encoding="utf-8").read().rstrip("\n").split("\n")
    regular = ImageFont.truetype(FONT, SIZE)
    bold = ImageFont.truetype(BOLD, SIZE)
    width = int(regular.getlength("M"))
    height = SIZE + 4
    columns = max(len(SGR.sub("", line)) for line in lines)
    image = Image.new("RGB", (columns * width + 16, len(lines) * height + 16), BACKGROUND)
    draw = ImageDraw.Draw(image)
    state = dict(fg=None, bg=None, bold=False, reverse=False, dim=False)
    for row, line in enumerate(lines):
        for column, (character, (fg, bg, is_bold, reverse, dim)) in enumerate(parse(line, state)):
            fg = fg or FOREGROUND
            bg = bg or BACKGROUND
            if reverse:
                fg, bg = bg, fg
            if dim:
                fg = tuple(int(c * 0.6 + b * 0.4) for c, b in zip(fg, BACKGROUND))
            x, y = 8 + column * width, 8 + row * height
            if bg != BACKGROUND:
                draw.rectangle([x, y, x + width - 1, y + height - 1], fill=bg)
            if character in "█▓▒░▁▂▃▄▅▆▇":
                shade = {"█": 1, "▓": 0.75, "▒": 0.5, "░": 0.25}.get(character)
                if shade is not None:
                    mixed = tuple(int(f * shade + b * (1 - shade)) for f, b in zip(fg, bg))
                    draw.rectangle([x, y, x + width - 1, y + height - 1], fill=mixed)
                else:
                    eighths = "▁▂▃▄▅▆▇".index(character) + 1
                    top = y + height - int(height * eighths / 8)
                    draw.rectangle([x, top, x + width - 1, y + height - 1], fill=fg)
            elif character == "─":
                draw.line([x, y + height // 2, x + width, y + height // 2], fill=fg)
            elif character == "│":
                draw.line([x + width // 2, y, x + width // 2, y + height], fill=fg)
            elif character in "┌┐└┘":
                mx, my = x + width // 2, y + height // 2
                horizontal = [mx, my, x + width, my] if character in "┌└" else [x, my, mx, my]
                vertical = [mx, my, mx, y + height] if character in "┌┐" else [mx, y, mx, my]
                draw.line(horizontal, fill=fg)
                draw.line(vertical, fill=fg)
            elif character != " ":
                draw.text((x, y + 1), character, font=bold if is_bold else regular, fill=fg)
    image.save(target)


if __name__ == "__main__":
    main()
