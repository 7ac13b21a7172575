"""Views: how events and results look in a notebook (the cell view, the static Markdown form)."""
