"""Files in and out: audio (read, check, resample, atomic write, block streams), the report and
its plot. Knows nothing of DSP internals."""
