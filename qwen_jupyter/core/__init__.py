"""The core: what a request and its answer are, with no HTTP, no IPython and no SQLite.

Messages and requests (messages.py, request.py, options.py: presets, translation, OCR, documents), what the
documentation says of each model (models.py), where requests go (settings.py), media and {expression} filling
(media.py, interpolate.py), tools from functions (tools.py), the events every backend produces (events.py) and
the result folded from them (result.py, with what it reads: logprobs.py, ocr.py, research.py, speech.py,
images.py), errors and safe text (errors.py, text.py).

It imports nothing else of the package: every other layer builds on it.
"""
