"""The rig: impulse responses, gates and the mix as one system; its streaming engine, its
calibration and the file render job every face uses."""
