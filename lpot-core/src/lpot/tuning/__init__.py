"""The accuracy-driven tuning loop, its trial records, history store and calibration cache."""
