"""Signal processing: convolution, the keyed gate, the mixer, levels and loudness, alignment.
Knows nothing of rooms or files."""
