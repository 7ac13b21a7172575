"""The rest of Model Studio beside chat: log probabilities, comparison, prefix continuation, presets,
translation, OCR, documents and deep research. Each module is small and wired into the flow at one point."""
