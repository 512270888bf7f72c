"""Acoustics: the room, the singer and the mics as geometry and materials, turned into impulse
responses; measured IRs; the IR cache; room measures. Knows nothing of gates or mixing."""
