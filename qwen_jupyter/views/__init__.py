"""Views: how events and results look. The one safe renderer (html.py), the finished output (layout.py), the
streaming cell view (cell.py, blocks.py), the terminal (terminal.py), tool calls, comparisons, media, OCR,
log probabilities and frames of answers, and where a result is shown (show.py).

Views import only core/: they observe events and read results, and decide nothing about asking.
"""
