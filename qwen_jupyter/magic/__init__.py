"""The magic layer: %%qwen and %qwen (parsing what the person typed, then handing over to the engine)."""
