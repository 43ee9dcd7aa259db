#!/usr/bin/env bash
# Makes the README's screenshots from the real TUI: runs `client -demo` in tmux, captures the
# screen with its colours at chosen moments, and renders each capture to a PNG.
# Needs tmux, python3 with Pillow, and the DejaVu fonts.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product client
client="$(swift build -c release --show-bin-path)/client"
out=screenshots
work=$(mktemp -d)
socket="swarm-shots-$$"
trap 'tmux -L "$socket" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$out"

shoot() {  # NAME: capture the pane now and render it
    tmux -L "$socket" capture-pane -e -p -t 0 > "$work/$1.txt"
    python3 scripts/ansi_to_png.py "$work/$1.txt" "$out/$1.png"
    echo "wrote $out/$1.png"
}

tmux -L "$socket" new-session -d -x 120 -y 36 -c "$work" "env LANG=C.UTF-8 TERM=xterm-256color $client -demo"
sleep 12
tmux -L "$socket" send-keys -t 0 Right Right Down
sleep 0.6
shoot demo-mid-download
tmux -L "$socket" send-keys -t 0 '?'
sleep 0.6
shoot help-overlay
tmux -L "$socket" send-keys -t 0 Escape
tmux -L "$socket" resize-window -t 0 -x 64 -y 22
sleep 1
shoot narrow-window
tmux -L "$socket" send-keys -t 0 q
